/**
 * LMTP against a real server: Dovecot's LMTP (helpers/dovecot.ts), started by this test with its own configuration in
 * a temporary directory, on a loopback port and on a unix socket. Each message is read back from the users' Maildirs
 * and compared byte for byte; an unknown user and full mailboxes give the per-recipient result, at RCPT and after the
 * message. Skipped, with the reason, when Dovecot's LMTP server is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sendMail, SmtpProtocolError, type SendOptions, type SendResult } from '../src/index.js';
import { formatTrace } from '../src/wire/trace.js';
import { dovecotMissing, startDovecot, type TestDovecot } from './helpers/dovecot-lmtp.js';
import { assertNothingLeftOpen, pipeHandles } from './helpers/converse.js';

/** 8-bit body (BODY=8BITMIME), lines that start with dots (stuffed on the wire by DATA), a bare LF line end. */
const MESSAGE =
  'From: Sender <sender@x.org>\nTo: alice@lmtp.test\nSubject: LMTP test\nMessage-ID: <lmtp-1@x.org>\n\n' +
  'Grüße über LMTP.\n.a line that starts with a dot\n..two dots\n.\nend\n';

/**
 * The message as Dovecot stores it: after the Return-Path, Delivered-To (a message for one recipient) and Received
 * fields it adds, with LF line ends.
 */
function storedMessage(file: Buffer): string {
  const text = file.toString('utf8');
  const added = /^Return-Path: <sender@x\.org>\n(?:Delivered-To: [^\n]*\n)?Received: [^\n]*\n(?:[ \t][^\n]*\n)*/.exec(
    text,
  );
  assert.ok(added !== null, `Dovecot's fields first: ${text.slice(0, 300)}`);
  return text.slice(added[0].length);
}

const skip = dovecotMissing();

test(
  "Dovecot's LMTP: TCP and a unix socket, BDAT and DATA, each recipient's fate",
  { skip: skip ?? false },
  async (t) => {
    const pipes = pipeHandles();
    let dovecot: TestDovecot | undefined;
    try {
      dovecot = await startDovecot();
      const server = dovecot;
      const trace: string[] = [];
      const send = (options: Partial<SendOptions>): Promise<SendResult> =>
        sendMail(MESSAGE, {
          lmtp: true,
          envelopeFrom: 'sender@x.org',
          clientName: 'client.example',
          authSources: [],
          addMissingHeaders: false,
          onTrace: (event) => trace.push(formatTrace(event)),
          ...options,
        } as SendOptions);
      const socket = { path: server.socket };
      const tcp = { server: '127.0.0.1', port: server.port };
      /** A subtest whose failure shows Dovecot's log. */
      const step = (name: string, run: () => Promise<void>): Promise<void> =>
        t.test(name, async () => {
          try {
            await run();
          } catch (error) {
            (error as Error).message += `\nDovecot's log:\n${server.log()}`;
            throw error;
          }
        });

      await step(
        'TCP, one recipient: MAIL, RCPT and BDAT LAST in one write; the stored bytes are the message',
        async () => {
          trace.length = 0;
          const result = await send({ ...tcp, recipients: ['alice@lmtp.test'] });
          assert.deepEqual(result.accepted, ['alice@lmtp.test']);
          assert.match(result.reply.lines[0] ?? '', /^2\.0\.0 <alice@lmtp\.test> .* Saved$/);
          assert.ok(trace.includes('C: LHLO client.example'), trace.join('\n'));
          assert.ok(
            trace.some((line) => /^C: BDAT \d+ LAST$/.test(line)),
            trace.join('\n'),
          );
          assert.ok(trace.includes('C: MAIL FROM:<sender@x.org> BODY=8BITMIME'), trace.join('\n'));
          const mail = server.delivered('alice');
          assert.equal(mail.length, 1);
          assert.equal(storedMessage(mail[0] as Buffer), MESSAGE);
        },
      );

      await step('unix socket, two recipients: envelope first, then BDAT LAST answered for each', async () => {
        const result = await send({ ...socket, recipients: ['alice@lmtp.test', 'bob@lmtp.test'] });
        assert.deepEqual(result.accepted, ['alice@lmtp.test', 'bob@lmtp.test']);
        assert.deepEqual(result.rejected, []);
        assert.equal(server.delivered('alice').length, 2);
        assert.equal(storedMessage(server.delivered('alice')[1] as Buffer), MESSAGE);
        assert.equal(storedMessage(server.delivered('bob')[0] as Buffer), MESSAGE);
      });

      await step('unix socket, DATA, an existing and an unknown user with partial: delivered to one', async () => {
        trace.length = 0;
        const result = await send({
          ...socket,
          chunking: false,
          partial: true,
          recipients: ['bob@lmtp.test', 'nobody@lmtp.test'],
        });
        assert.ok(trace.includes('C: DATA'), trace.join('\n'));
        assert.deepEqual(result.accepted, ['bob@lmtp.test']);
        assert.deepEqual(
          result.rejected.map((r) => [r.recipient, r.reply.code, r.reply.enhancedCode]),
          [['nobody@lmtp.test', 550, '5.1.1']],
        );
        assert.equal(server.delivered('bob').length, 2);
        assert.equal(storedMessage(server.delivered('bob')[1] as Buffer), MESSAGE, 'dot-stuffing undone as sent');
      });

      await step('an unknown user without partial: ERECIPIENT at RCPT, delivered to nobody', async () => {
        await assert.rejects(send({ ...tcp, recipients: ['alice@lmtp.test', 'nobody@lmtp.test'] }), (error) => {
          assert.ok(error instanceof SmtpProtocolError);
          assert.equal(error.code, 'ERECIPIENT');
          assert.equal(error.delivered, undefined, 'refused before the message went');
          assert.deepEqual(
            error.rejected.map((r) => r.recipient),
            ['nobody@lmtp.test'],
          );
          return true;
        });
        assert.equal(server.delivered('alice').length, 2);
      });

      await step('full mailboxes refuse after the message (552, and 452 for dave), with partial', async () => {
        const result = await send({
          ...tcp,
          partial: true,
          recipients: ['alice@lmtp.test', 'carol@lmtp.test', 'dave@lmtp.test'],
        });
        assert.deepEqual(result.accepted, ['alice@lmtp.test']);
        assert.deepEqual(
          result.rejected.map((r) => [r.recipient, r.reply.code]),
          [
            ['carol@lmtp.test', 552],
            ['dave@lmtp.test', 452],
          ],
        );
        assert.equal(server.delivered('alice').length, 3);
        assert.deepEqual(server.delivered('carol'), []);
      });

      await step('a full mailbox without partial: ERECIPIENT saying who got it, not retried', async () => {
        await assert.rejects(
          send({ ...socket, retries: 3, retryDelay: 1, recipients: ['alice@lmtp.test', 'dave@lmtp.test'] }),
          (error) => {
            assert.ok(error instanceof SmtpProtocolError);
            assert.equal(error.code, 'ERECIPIENT');
            assert.deepEqual(error.delivered, ['alice@lmtp.test']);
            assert.deepEqual(
              error.rejected.map((r) => [r.recipient, r.reply.code]),
              [['dave@lmtp.test', 452]],
            );
            assert.equal(error.transient, false);
            assert.equal(error.attempts, 1);
            assert.match(error.hint ?? '', /send the message with the `recipients` option set to them alone/);
            return true;
          },
        );
        assert.equal(server.delivered('alice').length, 4, 'delivered once, never again');
      });
    } finally {
      await dovecot?.stop();
    }
    await assertNothingLeftOpen(pipes);
  },
);

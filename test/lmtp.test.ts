/**
 * LMTP (RFC 2033; `lmtp: true`) against scripted servers, every client byte checked: LHLO, pipelined MAIL/RCPT/DATA,
 * one reply per accepted recipient after the final dot or BDAT LAST (all delivered, a 5xx, a 4xx; with and without
 * `partial`), the one-write BDAT path with several recipients (the reply count fixed once the RCPT replies say it), a
 * connection lost among the replies, STARTTLS over TCP, a unix socket (no STARTTLS, a password allowed as on
 * loopback), and the options that cannot work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  checkServer,
  sendMail,
  sendQueuedMail,
  SmtpClient,
  SmtpProtocolError,
  type SendOptions,
} from '../src/index.js';
import { routeByMethod, type Routing } from '../src/message/smtp-method.js';
import type { TraceEvent } from '../src/wire/trace.js';
import {
  assertNothingLeftOpen,
  assertTranscript,
  converse,
  SHORT_TIMEOUTS,
  pipeHandles,
  type Conversation,
} from './helpers/converse.js';
import { clientBytes, script, startFakeServer, type Step } from './helpers/fake-server.js';
import { TWO_CHUNKS } from './helpers/two-chunks.js';

const GREETING = 'S: 220 lmtp.example.org LMTP ready';

/** LHLO and its reply, with `extensions` (last one ends the reply). */
function lhlo(...extensions: string[]): string {
  const lines = ['lmtp.example.org', '8BITMIME', 'ENHANCEDSTATUSCODES', ...extensions];
  return ['C: LHLO client.example', ...lines.map((line, i) => `S: 250${i < lines.length - 1 ? '-' : ' '}${line}`)].join(
    '\n',
  );
}

const QUIT = `
  C: QUIT
  S: 221 2.0.0 Bye
`;

/** sendMail by LMTP over the scripted server's TCP port (retries allowed: none may happen after the message). */
function lmtpConverse(
  steps: readonly Step[],
  options: Partial<SendOptions> = {},
  message?: string,
): Promise<Conversation> {
  return converse(steps, { lmtp: true, retries: 3, retryDelay: 1, ...options }, message);
}

test('LMTP: LHLO, pipelined MAIL and RCPTs, then DATA and one reply per recipient after the dot: all delivered', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: RCPT TO:<d@y.org>
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    C: DATA
    S: 354 OK
    C: hello
    C: .
    S: 250 2.0.0 <b@y.org> 1 Saved
    S: 250 2.0.0 <c@y.org> 2 Saved
    S: 250 2.0.0 <d@y.org> 3 Saved
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org', 'd@y.org'] });
  assert.equal(c.error, undefined, c.error?.message);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org', 'd@y.org']);
  assert.deepEqual(c.result?.rejected, []);
  assert.equal(c.result?.reply.lines[0], '2.0.0 <b@y.org> 1 Saved');
  assert.equal(c.result?.attempts, 1);
});

test('LMTP without partial: a 5xx for one recipient after the dot fails the send, says who got it, and is never retried', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: RCPT TO:<d@y.org>
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    C: DATA
    S: 354 OK
    C: hello
    C: .
    S: 250 2.0.0 <b@y.org> Saved
    S: 552 5.2.2 <c@y.org> Quota exceeded
    S: 250 2.0.0 <d@y.org> Saved
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org', 'd@y.org'] });
  assertTranscript(c, steps); // one attempt: nothing sent again
  const error = c.error;
  assert.ok(error instanceof SmtpProtocolError);
  assert.equal(error.code, 'ERECIPIENT');
  assert.deepEqual(error.delivered, ['b@y.org', 'd@y.org']);
  assert.deepEqual(
    error.rejected.map((r) => [r.recipient, r.reply.code]),
    [['c@y.org', 552]],
  );
  assert.equal(error.transient, false, 'sending it again would deliver it twice');
  assert.equal(error.attempts, 1);
  assert.match(error.detail, /delivered to 2 of 3 recipients \(<b@y\.org>, <d@y\.org>\); not to <c@y\.org> \(552 /);
  assert.match(error.hint ?? '', /delivered to <b@y\.org>, <d@y\.org>: do not send it again as it is/);
  assert.match(error.hint ?? '', /every refusal is permanent/);
});

test('LMTP without partial: a 4xx for the only recipient after the dot is ERECIPIENT, transient, delivered to nobody, not retried', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 354 OK
    C: hello
    C: .
    S: 451 4.3.0 <b@y.org> Temporary internal error
    ${QUIT}
  `;
  const c = await lmtpConverse(steps);
  assertTranscript(c, steps);
  const error = c.error;
  assert.ok(error instanceof SmtpProtocolError);
  assert.equal(error.code, 'ERECIPIENT');
  assert.deepEqual(error.delivered, []);
  assert.equal(error.transient, true);
  assert.equal(error.attempts, 1);
  assert.equal(error.hint, undefined);
  assert.equal(
    error.detail,
    'Sending failed: 451 4.3.0 <b@y.org> Temporary internal error in response to . for <b@y.org>',
  );
});

test('LMTP with partial: DATA in the pipelined group; a refusal at RCPT and a 4xx after the dot are both in rejected', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<nobody@y.org>
    C: RCPT TO:<c@y.org>
    C: DATA
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 550 5.1.1 <nobody@y.org> User doesn't exist
    S: 250 2.1.5 OK
    S: 354 OK
    C: hello
    C: .
    S: 250 2.0.0 <b@y.org> Saved
    S: 452 4.2.2 <c@y.org> Mailbox is full
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'nobody@y.org', 'c@y.org'], partial: true });
  assert.equal(c.error, undefined, c.error?.message);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org']);
  assert.deepEqual(
    c.result?.rejected.map((r) => [r.recipient, r.reply.code]),
    [
      ['nobody@y.org', 550],
      ['c@y.org', 452],
    ],
  );
  assert.equal(c.result?.reply.lines[0], '2.0.0 <b@y.org> Saved');
});

test('LMTP with partial: every recipient refused after the dot still fails, delivered to none', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: DATA
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    S: 354 OK
    C: hello
    C: .
    S: 452 4.2.2 <b@y.org> Mailbox is full
    S: 451 4.3.0 <c@y.org> Try again
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'], partial: true });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.deepEqual(c.error?.delivered, []);
  assert.equal(c.error?.transient, true, 'nobody got it, and every refusal may pass');
  assert.match(c.error?.detail ?? '', /delivered to none of 2 recipients: <b@y\.org> \(452 .*<c@y\.org> \(451 /);
});

test('LMTP, CHUNKING and PIPELINING, one recipient: MAIL, RCPT and BDAT LAST in one write, one reply for it', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING', 'PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 7 LAST
    C: hello
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.0.0 <b@y.org> Saved
    ${QUIT}
  `;
  const c = await lmtpConverse(steps);
  assert.equal(c.error, undefined, c.error?.message);
  assertTranscript(c, steps);
  assert.equal(c.outcome.segments.filter((s) => s.startsWith('MAIL')).length, 1);
  assert.ok(c.outcome.segments.some((s) => s.startsWith('MAIL') && s.endsWith('BDAT 7 LAST\r\nhello\r\n')));
  assert.deepEqual(c.result?.accepted, ['b@y.org']);
});

test('LMTP, CHUNKING without partial, two recipients: the envelope first, then BDAT LAST and a reply for each', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING', 'PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    C: BDAT 7 LAST
    C: hello
    S: 250 2.0.0 <b@y.org> Saved
    S: 550 5.2.0 <c@y.org> Mailbox unavailable
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(c.error?.command, 'BDAT');
  assert.deepEqual(c.error?.delivered, ['b@y.org']);
  assert.deepEqual(
    c.error?.rejected.map((r) => r.recipient),
    ['c@y.org'],
  );
});

test('LMTP, a refused BDAT chunk with PIPELINING: EDATA, and the connection closed (the replies still owed are not countable)', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING', 'PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    ${TWO_CHUNKS.first}
    ${TWO_CHUNKS.last}
    S: 552 5.3.4 message too big for this chunk
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'] }, TWO_CHUNKS.message);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EDATA');
  assert.match(c.error?.message ?? '', /552 5\.3\.4/);
  assert.ok(c.outcome.finished && c.outcome.clientClosed, 'closed by the client, without QUIT');
});

test('LMTP, CHUNKING without PIPELINING: one command at a time, then a reply per recipient after BDAT LAST', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING')}
    C: MAIL FROM:<a@x.org>
    S: 250 2.1.0 OK
    C: RCPT TO:<b@y.org>
    S: 250 2.1.5 OK
    C: RCPT TO:<c@y.org>
    S: 250 2.1.5 OK
    C: BDAT 7 LAST
    C: hello
    S: 250 2.0.0 <b@y.org> Saved
    S: 250 2.0.0 <c@y.org> Saved
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assert.equal(c.error, undefined, c.error?.message);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org']);
});

test('LMTP one-write BDAT with partial and three recipients: the reply count is set by the RCPT replies, and the next message waits for them', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING', 'PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: RCPT TO:<d@y.org>
    C: BDAT 5 LAST
    C: one
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 550 5.1.1 <c@y.org> User doesn't exist
    S: 250 2.1.5 OK
    S: 250 2.0.0 <b@y.org> Saved
    S: 452 4.2.2 <d@y.org> Mailbox is full
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 5 LAST
    C: two
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.0.0 <b@y.org> Saved
    ${QUIT}
  `;
  const events: TraceEvent[] = [];
  const server = await startFakeServer(steps);
  const client = new SmtpClient({
    server: server.host,
    port: server.port,
    lmtp: true,
    clientName: 'client.example',
    envelopeFrom: 'a@x.org',
    addMissingHeaders: false,
    authSources: [],
    timeouts: SHORT_TIMEOUTS,
    partial: true,
    onTrace: (event) => events.push(event),
  });
  const [first, second] = await Promise.all([
    client.send('one\r\n', { recipients: ['b@y.org', 'c@y.org', 'd@y.org'] }),
    client.send('two\r\n', { recipients: ['b@y.org'] }),
  ]);
  await client.quit();
  const outcome = await server.done;
  assert.equal(outcome.received, clientBytes(steps));
  await assertNothingLeftOpen();
  assert.deepEqual(first.accepted, ['b@y.org']);
  assert.deepEqual(
    first.rejected.map((r) => [r.recipient, r.reply.code]),
    [
      ['c@y.org', 550],
      ['d@y.org', 452],
    ],
  );
  assert.deepEqual(second.accepted, ['b@y.org']);
  // The second message was written only after the first one's RCPT replies were read.
  const lines = events.map((e) => `${e.direction} ${e.line}`);
  const secondMail = lines.lastIndexOf('client MAIL FROM:<a@x.org>');
  assert.ok(secondMail > lines.indexOf('server 452 4.2.2 <d@y.org> Mailbox is full'), lines.join('\n'));
  // Every reply is traced with the message it belongs to.
  const tagged = events.filter((e) => e.direction === 'server' && e.message !== undefined);
  assert.deepEqual(
    tagged.map((e) => [e.message?.index === tagged[0]?.message?.index ? 1 : 2, e.line.slice(0, 3)]),
    [
      [1, '250'],
      [1, '250'],
      [1, '550'],
      [1, '250'],
      [1, '250'],
      [1, '452'],
      [2, '250'],
      [2, '250'],
      [2, '250'],
    ],
  );
});

test('LMTP one-write BDAT: a reply for a recipient refused at RCPT is a stray reply; the message may have been delivered', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('CHUNKING', 'PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: BDAT 7 LAST
    C: hello
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 550 5.1.1 <c@y.org> User doesn't exist
    S: 250 2.0.0 <b@y.org> Saved
    S: 250 2.0.0 <c@y.org> Saved
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'], partial: true });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EUNKNOWN_DELIVERY');
  assert.match(c.error?.message ?? '', /a reply that no command asked for/);
  assert.equal(c.error?.attempts, 1);
});

test('LMTP: the connection lost among the replies after the dot is EUNKNOWN_DELIVERY naming who got it and who may have', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 250 2.1.5 OK
    C: DATA
    S: 354 OK
    C: hello
    C: .
    S: 250 2.0.0 <b@y.org> Saved
    !close
  `;
  const c = await lmtpConverse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EUNKNOWN_DELIVERY');
  assert.deepEqual(c.error?.delivered, ['b@y.org']);
  assert.equal(c.error?.transient, false);
  assert.equal(c.error?.attempts, 1);
  assert.match(
    c.error?.detail ?? '',
    /before the server answered for <c@y\.org>: the message may or may not have reached that recipient; delivered to <b@y\.org> before it failed/,
  );
});

test('LMTP: LHLO refused (an SMTP server) is ECOMMAND with a hint, and no HELO follows', async () => {
  const steps = script`
    S: 220 smtp.example.org ESMTP
    C: LHLO client.example
    S: 500 5.5.2 Error: command not recognized
    ${QUIT}
  `;
  const c = await lmtpConverse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ECOMMAND');
  assert.match(c.error?.hint ?? '', /refused LHLO, so it probably speaks SMTP rather than LMTP/);
});

test('LMTP over TCP: STARTTLS as for SMTP, then LHLO again', async () => {
  const steps = script`
    ${GREETING}
    ${lhlo('STARTTLS', 'PIPELINING')}
    C: STARTTLS
    S: 220 2.0.0 Begin TLS
    !tls
    ${lhlo('PIPELINING')}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 354 OK
    C: hello
    C: .
    S: 250 2.0.0 <b@y.org> Saved
    ${QUIT}
  `;
  const c = await lmtpConverse(steps, { streamType: 'starttls' });
  assert.equal(c.error, undefined, c.error?.message);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, true);
});

/** A temporary directory for a unix socket, removed after `run`; then no unix socket may be left open. */
async function inSocketDir(run: (dir: string) => Promise<void>): Promise<void> {
  const pipes = pipeHandles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtpmail-lmtp-'));
  try {
    await run(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assertNothingLeftOpen(pipes);
}

test('LMTP over a unix socket: no server or port, no STARTTLS though offered, AUTH PLAIN allowed as on loopback', async () => {
  await inSocketDir(async (dir) => {
    const socket = path.join(dir, 'lmtp');
    const steps = script`
      ${GREETING}
      ${lhlo('STARTTLS', 'AUTH PLAIN', 'PIPELINING')}
      C: AUTH PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}
      S: 235 2.7.0 Authenticated
      C: MAIL FROM:<a@x.org>
      C: RCPT TO:<b@y.org>
      C: RCPT TO:<c@y.org>
      S: 250 2.1.0 OK
      S: 250 2.1.5 OK
      S: 250 2.1.5 OK
      C: DATA
      S: 354 OK
      C: hello
      C: .
      S: 250 2.0.0 <b@y.org> Saved
      S: 250 2.0.0 <c@y.org> Saved
      ${QUIT}
    `;
    const c = await converse(
      steps,
      {
        server: undefined,
        port: undefined,
        lmtp: true,
        path: socket,
        user: 'alice',
        password: 'secret',
        recipients: ['b@y.org', 'c@y.org'],
      },
      'hello\r\n',
      { path: socket },
    );
    assert.equal(c.error, undefined, c.error?.message);
    assertTranscript(c, steps);
    assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org']);
    assert.equal(c.result?.secure, false);
    assert.equal(c.result?.authMechanism, 'PLAIN');
    assert.equal(c.trace[0], `* connecting to unix socket ${socket}`);
  });
});

test('LMTP over a unix socket: a missing socket is ECONNECTION with a hint, tried once', async () => {
  await inSocketDir(async (dir) => {
    const missing = path.join(dir, 'nothing-here');
    await assert.rejects(
      sendMail('hello\r\n', {
        lmtp: true,
        path: missing,
        envelopeFrom: 'a@x.org',
        recipients: ['b@y.org'],
        authSources: [],
        retryDelay: 1,
      }),
      (error) => {
        assert.ok(error instanceof SmtpProtocolError);
        assert.equal(error.code, 'ECONNECTION');
        assert.equal(error.attempts, 1);
        assert.match(error.message, new RegExp(`connecting to unix socket ${missing} failed`));
        assert.match(error.hint ?? '', /no socket at .*\/run\/dovecot\/lmtp/);
        return true;
      },
    );
  });
});

test('checkServer speaks LHLO over a unix socket and reports the settings as options', async () => {
  await inSocketDir(async (dir) => {
    const socket = path.join(dir, 'lmtp');
    const steps = script`
      ${GREETING}
      ${lhlo('PIPELINING')}
      ${QUIT}
    `;
    const server = await startFakeServer(steps, { path: socket });
    const report = await checkServer({ lmtp: true, path: socket, clientName: 'client.example', authSources: [] });
    const outcome = await server.done;
    assert.equal(outcome.received, clientBytes(steps));
    assert.equal(report.ok, true, report.verdict);
    assert.equal(report.verdict, `the settings work: lmtp, path ${socket}`);
    assert.deepEqual(report.attempts[0]?.capabilities?.pipelining, true);
  });
});

test('LMTP options that cannot work are ECONFIG before any connection', async () => {
  const base = { envelopeFrom: 'a@x.org', recipients: ['b@y.org'], authSources: [] };
  const refused = async (options: Record<string, unknown>, pattern: RegExp): Promise<void> => {
    await assert.rejects(sendMail('hello\r\n', { ...base, ...options } as SendOptions), (error) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.equal(error.code, 'ECONFIG', error.message);
      assert.match(error.message, pattern);
      return true;
    });
  };
  await refused({ lmtp: true, server: 'localhost' }, /LMTP has no default port: set the `port` option \(24 is usual/);
  await refused({ lmtp: true, server: 'localhost', port: 25 }, /LMTP must not be used on port 25 \(RFC 2033 §5\)/);
  await refused({ lmtp: true, server: 'localhost', port: 'smtp' }, /port 25/);
  await refused({ lmtp: true, path: '/run/dovecot/lmtp', server: 'localhost' }, /replaces server and port/);
  await refused({ lmtp: true, path: '/run/dovecot/lmtp', port: 24 }, /replaces server and port/);
  await refused({ lmtp: true, path: '/run/dovecot/lmtp', streamType: 'starttls' }, /a unix socket is local/);
  await refused({ lmtp: true, path: '/run/dovecot/lmtp', streamType: 'ssl' }, /a unix socket is local/);
  await refused({ lmtp: true, path: '/x', queueMail: true }, /queueMail does not work with lmtp/);
  await refused({ lmtp: true, path: '/x', queueOnTransientFailure: true }, /queueOnTransientFailure does not work/);
  await assert.rejects(sendQueuedMail({ lmtp: true, path: '/x' }), /sendQueuedMail does not work with lmtp/);
  await assert.rejects(
    checkServer({ lmtp: true, server: 'localhost', port: 24, tryAlternatives: true }),
    /tryAlternatives tries SMTP ports and settings: it does not go with lmtp or path/,
  );
  assert.throws(() => new SmtpClient({ lmtp: true, server: 'localhost' }), /LMTP has no default port/);
  await assertNothingLeftOpen();
});

test('X-Message-SMTP-Method: smtp HOST sends that message by SMTP to HOST, whatever lmtp and path say', () => {
  const options: Routing = { lmtp: true, path: '/run/dovecot/lmtp' };
  const routed = routeByMethod({ kind: 'smtp', host: 'mail.example.org', port: '587', user: undefined }, options);
  assert.equal(routed.server, 'mail.example.org');
  assert.equal(routed.port, '587');
  assert.equal(routed.lmtp, undefined);
  assert.equal(routed.path, undefined);
});

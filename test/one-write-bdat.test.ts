/**
 * The one-write BDAT transaction (smtp/one-write-bdat.ts): what a refusal or a lost
 * connection after the write means, with the whole client transcript checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpProtocolError } from '../src/errors.js';
import { script, type Step } from './helpers/fake-server.js';
import { withScriptedClient } from './helpers/scripted-client.js';

const OPENING = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250-SIZE 1000
S: 250-PIPELINING
S: 250 CHUNKING
`;

/** Sends each message in turn on one client (retries allowed), then ends the session; returns each outcome. */
async function sendAll(
  steps: readonly Step[],
  messages: readonly { text: string; to: string }[],
  end: 'quit' | 'close' = 'quit',
): Promise<(SmtpProtocolError | string)[]> {
  const outcomes: (SmtpProtocolError | string)[] = [];
  await withScriptedClient(
    steps,
    { retries: 3, retryDelay: 1, chunking: true },
    async (client) => {
      for (const { text, to } of messages) {
        try {
          outcomes.push((await client.send(text, { recipients: [to] })).reply.lines[0] ?? '');
        } catch (error) {
          assert.ok(error instanceof SmtpProtocolError, String(error));
          outcomes.push(error);
        }
      }
    },
    end,
  );
  return outcomes;
}

test('eager BDAT: SIZE is the CRLF length and matches the BDAT count; a message in CRLF goes as it is, one with bare LF, a bare CR at the end or no line end gets CRLF', async () => {
  const one = `
    C: MAIL FROM:<a@x.org> SIZE=13
    C: RCPT TO:<b@y.org>
    C: BDAT 13 LAST
    C: To: b
    C:
    C: hi
    S: 250 ok
    S: 250 ok
  `;
  const steps = script`
    ${OPENING}
    ${one}
    S: 250 queued as 1
    ${one}
    S: 250 queued as 2
    ${one}
    S: 250 queued as 3
    ${one}
    S: 250 queued as 4
    C: QUIT
    S: 221 bye
  `;
  const texts = ['To: b\r\n\r\nhi\r\n', 'To: b\n\nhi', 'To: b\r\n\r\nhi\r', 'To: b\r\n\r\nhi'];
  assert.deepEqual(
    await sendAll(
      steps,
      texts.map((text) => ({ text, to: 'b@y.org' })),
    ),
    ['queued as 1', 'queued as 2', 'queued as 3', 'queued as 4'],
  );
});

test('eager BDAT: a refused recipient is ERECIPIENT, its BDAT reply is consumed, and the next message is matched to its own replies', async () => {
  const steps = script`
    ${OPENING}
    C: MAIL FROM:<a@x.org> SIZE=5
    C: RCPT TO:<nobody@y.org>
    C: BDAT 5 LAST
    C: one
    S: 250 ok
    S: 550 5.1.1 no such user
    S: 554 5.5.1 no valid recipients
    C: MAIL FROM:<a@x.org> SIZE=5
    C: RCPT TO:<b@y.org>
    C: BDAT 5 LAST
    C: two
    S: 250 ok
    S: 250 ok
    S: 250 queued as 2
    C: QUIT
    S: 221 bye
  `;
  const [first, second] = await sendAll(steps, [
    { text: 'one\n', to: 'nobody@y.org' },
    { text: 'two\n', to: 'b@y.org' },
  ]);
  assert.ok(first instanceof SmtpProtocolError);
  assert.equal(first.code, 'ERECIPIENT');
  assert.equal(first.reply?.code, 550);
  assert.equal(second, 'queued as 2');
});

test('eager BDAT: a refused sender is ESENDER, even when the connection drops before the BDAT reply', async () => {
  const steps = script`
    ${OPENING}
    C: MAIL FROM:<a@x.org> SIZE=5
    C: RCPT TO:<b@y.org>
    C: BDAT 5 LAST
    C: one
    S: 553 5.7.1 sender refused
    S: 503 5.5.1 no sender
    !close
  `;
  const [outcome] = await sendAll(steps, [{ text: 'one\n', to: 'b@y.org' }], 'close');
  assert.ok(outcome instanceof SmtpProtocolError);
  assert.equal(outcome.code, 'ESENDER');
  assert.equal(outcome.reply?.code, 553);
});

test('eager BDAT: a connection lost after the write is EUNKNOWN_DELIVERY and never retried', async () => {
  const steps = script`
    ${OPENING}
    C: MAIL FROM:<a@x.org> SIZE=5
    C: RCPT TO:<b@y.org>
    C: BDAT 5 LAST
    C: one
    S: 250 ok
    S: 250 ok
    !close
  `;
  const [outcome] = await sendAll(steps, [{ text: 'one\n', to: 'b@y.org' }], 'close');
  assert.ok(outcome instanceof SmtpProtocolError);
  assert.equal(outcome.code, 'EUNKNOWN_DELIVERY');
  assert.equal(outcome.transient, false);
});

test('eager BDAT: a message over the SIZE limit fails with ESIZE before anything is written', async () => {
  const steps = script`
    ${OPENING}
    C: QUIT
    S: 221 bye
  `;
  const [outcome] = await sendAll(steps, [{ text: 'x'.repeat(1001), to: 'b@y.org' }]);
  assert.ok(outcome instanceof SmtpProtocolError);
  assert.equal(outcome.code, 'ESIZE');
  assert.match(outcome.message, /1003 octets.*1000/);
});

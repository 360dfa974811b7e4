/**
 * Scripted conversations for sendMail's policies (SPEC §6): retries, refused
 * recipients and partial delivery, SIZE and SMTPUTF8 checked before MAIL,
 * X-Message-SMTP-Method routing, and AbortSignal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { assertTranscript, converse } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const EHLO = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
`;

const REST = `
C: RCPT TO:<b@y.org>
S: 250 ok
C: DATA
S: 354 go
C: hello
C: .
S: 250 queued
C: QUIT
S: 221 bye
`;

test('MAIL 451: RSET and a new attempt on the same connection; the result counts the attempts', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 451 4.3.0 try again later
    C: RSET
    S: 250 ok
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    ${REST}`;
  const c = await converse(steps, { retries: 3, retryDelay: 1 });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.attempts, 2);
  assert.ok(c.trace.some((line) => line.startsWith('* attempt 1 failed (Sending failed: 451 4.3.0 try again later')));
});

test('MAIL 451 on every attempt: the last error after `retries` attempts', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 451 4.3.0 busy
    C: RSET
    S: 250 ok
    C: MAIL FROM:<a@x.org>
    S: 451 4.3.0 still busy
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { retries: 2, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESENDER');
  assert.equal(c.error?.transient, true);
  assert.match(c.error?.message ?? '', /still busy/);
});

test('RCPT 450 is not retried by default: the message fails with the refusal', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 450 4.2.1 mailbox busy
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { retries: 5, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
});

test('several refused recipients: no DATA, the error lists every one with its reply', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 550 5.1.1 no such user
    C: RCPT TO:<c@y.org>
    S: 250 ok
    C: RCPT TO:<d@y.org>
    S: 553 5.1.3 bad address
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { recipients: ['b@y.org', 'c@y.org', 'd@y.org'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(
    c.error?.message,
    'Sending failed: 2 of 3 recipients refused: <b@y.org> (550 5.1.1 no such user); <d@y.org> (553 5.1.3 bad address)',
  );
  assert.deepEqual(
    c.error?.rejected.map((r) => [r.recipient, r.reply.code, r.reply.enhancedCode, r.reply.lines]),
    [
      ['b@y.org', 550, '5.1.1', ['5.1.1 no such user']],
      ['d@y.org', 553, '5.1.3', ['5.1.3 bad address']],
    ],
  );
});

test('partial: true delivers to the accepted recipients and reports the refused', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<z@y.org>
    S: 550 5.1.1 no such user
    ${REST}`;
  const c = await converse(steps, { recipients: ['z@y.org', 'b@y.org'], partial: true });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org']);
  assert.deepEqual(
    c.result?.rejected.map((r) => r.recipient),
    ['z@y.org'],
  );
});

test('connection lost after the final dot: EUNKNOWN_DELIVERY and no retry, even with retries left', async () => {
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    !close
  `;
  const c = await converse(steps, { retries: 5, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EUNKNOWN_DELIVERY');
});

test('a message over the SIZE limit: ESIZE naming both numbers, before MAIL', async () => {
  const steps = script`
    ${EHLO}
    S: 250-mail.example.org
    S: 250 SIZE 100
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, {}, `${'x'.repeat(150)}\r\n`);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESIZE');
  assert.match(c.error?.message ?? '', /152 octets, more than the 100 octets/);
});

test('a non-ASCII address and no SMTPUTF8: EPOLICY before MAIL; with SMTPUTF8 the parameter is sent', async () => {
  const refused = script`
    ${EHLO}
    S: 250 mail.example.org
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(refused, { recipients: ['j\u00fcrgen@y.org'] });
  assertTranscript(c, refused);
  assert.equal(c.error?.code, 'EPOLICY');
  const accepted = script`
    ${EHLO}
    S: 250-mail.example.org
    S: 250 SMTPUTF8
    C: MAIL FROM:<a@x.org> SMTPUTF8
    S: 250 ok
    C: RCPT TO:<j\u00fcrgen@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const d = await converse(accepted, { recipients: ['j\u00fcrgen@y.org'] });
  assert.equal(d.error, undefined);
  assertTranscript(d, accepted);
});

test('X-Message-SMTP-Method routes the message to another server and is not transmitted', async () => {
  // The configured server is a name that cannot resolve: only the header's server can be reached.
  const message = (port: number): string => `X-Message-SMTP-Method: smtp 127.0.0.1 ${port}\nTo: b@y.org\n\nhello\n`;
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: To: b@y.org
    C:
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { server: 'configured.invalid', port: 1, recipients: undefined }, (port) =>
    message(port),
  );
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test('AbortSignal while a streamed message is being sent: EABORT, the socket closed, no final dot', async () => {
  const controller = new AbortController();
  const body = new PassThrough();
  body.write('first line\r\n');
  const steps = script`
    ${EHLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: first line
    !hang
  `;
  const c = await converse(
    steps,
    {
      signal: controller.signal,
      onTrace: (event) => {
        if (event.line.startsWith('354')) setTimeout(() => controller.abort(new Error('user cancelled')), 50);
      },
    },
    body,
  );
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EABORT');
  assert.equal(body.destroyed, true, 'the message stream was released');
});

test('an AbortSignal that already fired: EABORT before connecting', async () => {
  const c = await converse(script`S: 220 ready`, { signal: AbortSignal.abort() });
  assert.equal(c.error?.code, 'EABORT');
  assert.equal(c.outcome.received, '');
});

/**
 * 421 (the server is closing the channel, RFC 5321 §3.8) at every step, and
 * empty lines between replies: scripted conversations with the whole client
 * transcript asserted. After a 421 the client writes nothing more (no RCPT,
 * no RSET, no QUIT); the error carries the 421 and the recipients refused so
 * far; a new attempt reconnects, except after the final dot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTranscript, converse } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const HELLO = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250 mail.example.org
`;

const THREE = { recipients: ['b@y.org', 'c@y.org', 'd@y.org'] };

test('421 to the second RCPT: no further RCPT, no RSET, no QUIT; the error has the 421 and the refusals so far', async () => {
  const steps = script`
    ${HELLO}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 550 5.1.1 no such user
    C: RCPT TO:<c@y.org>
    S: 421 4.3.2 shutting down
    !close
  `;
  const c = await converse(steps, THREE);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(c.error?.reply?.code, 421);
  assert.equal(c.error?.transient, true);
  assert.deepEqual(
    c.error?.rejected.map((r) => r.recipient),
    ['b@y.org'],
  );
  assert.match(
    c.error?.message ?? '',
    /421 4\.3\.2 shutting down in response to RCPT TO:<c@y\.org>; refused before it: <b@y\.org>/,
  );
});

test('421 to RCPT with PIPELINING: the replies after it are not waited for', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: RCPT TO:<d@y.org>
    S: 250 ok
    S: 421 4.3.2 shutting down
    !hang
  `;
  const c = await converse(steps, THREE);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(c.error?.reply?.code, 421);
  assert.deepEqual(c.error?.rejected, []);
});

test('421 to RCPT with retries left: a new connection, and the message goes on it', async () => {
  // One scripted server takes one connection: the second attempt finds none and fails to connect.
  const steps = script`
    ${HELLO}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 421 4.3.2 shutting down
    !close
  `;
  const c = await converse(steps, { retries: 2, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ECONNECTION');
  assert.equal(c.error?.attempts, 2);
  assert.ok(
    c.trace.some((line) =>
      line.startsWith('* attempt 1 failed (Sending failed: 421 4.3.2 shutting down in response to RCPT TO:<b@y.org>'),
    ),
  );
});

test('421 to MAIL: ESENDER with the reply, nothing written after it', async () => {
  const steps = script`
    ${HELLO}
    C: MAIL FROM:<a@x.org>
    S: 421 4.3.2 too busy
    !close
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESENDER');
  assert.equal(c.error?.reply?.code, 421);
});

test('421 to DATA: EDATA with the reply, nothing written after it', async () => {
  const steps = script`
    ${HELLO}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 421 4.3.2 going away
    !close
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EDATA');
  assert.equal(c.error?.reply?.code, 421);
});

test('421 after the final dot: EDATA with the reply, never retried', async () => {
  const steps = script`
    ${HELLO}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 421 4.3.2 going away
    !close
  `;
  const c = await converse(steps, { retries: 5, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EDATA');
  assert.equal(c.error?.reply?.code, 421);
  assert.equal(c.error?.attempts, 1);
});

test('no final reply after the dot: EUNKNOWN_DELIVERY, never retried', async () => {
  const steps = script`
    ${HELLO}
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
  assert.equal(c.error?.attempts, 1);
});

test('empty lines before the greeting and between replies are skipped and shown in the transcript', async () => {
  const steps = script`
    S:
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 8BITMIME
    S:
    C: MAIL FROM:<a@x.org>
    S: 250 ok
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
  const c = await converse(steps);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.trace.filter((line) => line === '* the server sent an empty line: skipped').length, 2);
});

test('a malformed line that is not empty is still a protocol error', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: ok then
  `;
  const c = await converse(steps);
  assert.equal(c.error?.code, 'EPROTOCOL');
});

/**
 * Scripted conversations: the session's happy paths and the greeting and
 * EHLO rules (SPEC §3), each with the full client transcript asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTranscript, converse } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const END = `
C: hello
C: .
S: 250 2.0.0 Ok: queued as 1A2B
C: QUIT
S: 221 2.0.0 Bye
`;

test('multi-line greeting is one reply; without PIPELINING one command at a time', async () => {
  const steps = script`
    S: 220-mail.example.org ESMTP
    S: 220-second line of the greeting
    S: 220 last line
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 8BITMIME
    C: MAIL FROM:<a@x.org>
    S: 250 2.1.0 Ok
    C: RCPT TO:<b@y.org>
    S: 250 2.1.5 Ok
    C: RCPT TO:<c@y.org>
    S: 251 2.1.5 will forward
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    ${END}`;
  const c = await converse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org']);
  assert.deepEqual(c.result?.reply, { code: 250, enhancedCode: '2.0.0', lines: ['2.0.0 Ok: queued as 1A2B'] });
  assert.equal(c.result?.secure, false);
  assert.ok(c.trace.includes('S: 220-second line of the greeting'));
});

test('with PIPELINING: MAIL, RCPT and DATA in one write, replies matched in order', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 SIZE 1000
    C: MAIL FROM:<a@x.org> SIZE=7
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 2.1.0 sender ok
    S: 250 2.1.5 b ok
    S: 354 go ahead
    ${END}`;
  const c = await converse(steps);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org']);
});

test('with PIPELINING and several recipients: MAIL and every RCPT in one write, DATA once they are accepted', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 2.1.0 sender ok
    S: 250 2.1.5 b ok
    S: 250 2.1.5 c ok
    C: DATA
    S: 354 go ahead
    ${END}`;
  const c = await converse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org']);
});

test('with PIPELINING, several recipients and partial: true, DATA joins the group', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    C: DATA
    S: 250 2.1.0 sender ok
    S: 550 5.1.1 no b
    S: 250 2.1.5 c ok
    S: 354 go ahead
    ${END}`;
  const c = await converse(steps, { recipients: ['b@y.org', 'c@y.org'], partial: true });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['c@y.org']);
  assert.deepEqual(
    c.result?.rejected.map((r) => r.recipient),
    ['b@y.org'],
  );
});

test('greeting 554: QUIT, then "Connection not allowed" with the server text', async () => {
  const steps = script`
    S: 554 5.7.1 no SMTP service for you
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EGREETING');
  assert.equal(c.error?.message, 'Connection not allowed: 554 5.7.1 no SMTP service for you');
  assert.equal(c.error?.reply?.code, 554);
});

test('EHLO 502: falls back to HELO and assumes no extensions', async () => {
  const steps = script`
    S: 220 old.example.org SMTP
    C: EHLO client.example
    S: 502 5.5.2 command not recognized
    C: HELO client.example
    S: 250 old.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    ${END}`;
  const c = await converse(steps, {}, 'hello\r\n');
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test('HELO refused too: ECOMMAND naming HELO, then QUIT', async () => {
  const steps = script`
    S: 220 old.example.org SMTP
    C: EHLO client.example
    S: 500 what
    C: HELO client.example
    S: 501 5.5.4 go away
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ECOMMAND');
  assert.equal(c.error?.message, 'Sending failed: 501 5.5.4 go away in response to HELO client.example');
});

test('replies arriving one byte per TCP segment parse like whole ones', async () => {
  const steps = script`
    S1: 220-mail.example.org ESMTP
    S1: 220 ready
    C: EHLO client.example
    S1: 250-mail.example.org
    S1: 250-PIPELINING
    S1: 250 8BITMIME
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S1: 250 ok
    S1: 250 ok
    S1: 354 go
    C: hello
    C: .
    S1: 250 2.0.0 queued as 9
    C: QUIT
    S1: 221 bye
  `;
  const c = await converse(steps);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.reply.lines, ['2.0.0 queued as 9']);
});

test('BODY=8BITMIME when the message has 8-bit octets and the server offers it; SIZE counts octets', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-SIZE
    S: 250 8BITMIME
    C: MAIL FROM:<a@x.org> SIZE=11 BODY=8BITMIME
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: h\u00e9llo
    C: ..
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  `;
  // 'h\u00e9llo' is 6 octets (5 characters); with CRLF, '.' and CRLF: 11 octets before dot-stuffing.
  const c = await converse(steps, {}, 'h\u00e9llo\n.\n');
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test('the transcript shows message content only when traceData is set', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: secret plans
    C:
    C: body
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  `;
  const message = 'Subject: secret plans\n\nbody\n';
  const hidden = await converse(steps, {}, message);
  assertTranscript(hidden, steps);
  assert.ok(!hidden.trace.some((line) => line.includes('secret plans')));
  const shown = await converse(steps, { traceData: true }, message);
  assertTranscript(shown, steps);
  assert.deepEqual(shown.trace.slice(shown.trace.indexOf('S: 354 go') + 1, shown.trace.indexOf('S: 354 go') + 5), [
    'C: Subject: secret plans',
    'C: ',
    'C: body',
    'C: .',
  ]);
});

/**
 * Scripted conversations for authentication (SPEC §4): mechanism order,
 * trying in order until one succeeds, forcing, authenticating after 530 /
 * relay denied, and bounds. The client's real SASL bytes are in the script;
 * the transcript must show them as <omitted>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const USER = 'alice';
const PASS = 's3cret pass';
const CHALLENGE = '<1896.697170952@postoffice.example.org>';
const CRAM = b64(`${USER} ${createHmac('md5', PASS).update(CHALLENGE).digest('hex')}`);
const PLAIN = b64(`\0${USER}\0${PASS}`);
const CREDENTIALS = { user: USER, password: PASS };

const EHLO_AUTH = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250 AUTH PLAIN LOGIN CRAM-MD5
`;

function assertNoSecrets(trace: readonly string[], ...texts: readonly (string | undefined)[]): void {
  for (const secret of [PASS, b64(PASS), PLAIN, CRAM]) {
    for (const text of [...trace, ...texts]) assert.ok(!(text ?? '').includes(secret), `a secret leaked into: ${text}`);
  }
}

test('server offers PLAIN LOGIN CRAM-MD5: CRAM-MD5 is tried first; responses shown as <omitted>', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: AUTH CRAM-MD5
    S: 334 ${b64(CHALLENGE)}
    C: ${CRAM}
    S: 235 2.7.0 Authentication successful
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'CRAM-MD5');
  assert.ok(c.trace.includes('C: AUTH CRAM-MD5'));
  assert.ok(c.trace.includes('C: <omitted>'));
  assertNoSecrets(c.trace);
});

test('CRAM-MD5 refused with 535, then PLAIN succeeds: mechanisms are tried in order', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: AUTH CRAM-MD5
    S: 334 ${b64(CHALLENGE)}
    C: ${CRAM}
    S: 535 5.7.8 Authentication credentials invalid
    C: AUTH PLAIN ${PLAIN}
    S: 235 2.7.0 ok
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'PLAIN');
  assert.ok(c.trace.includes('C: AUTH PLAIN <omitted>'));
  assertNoSecrets(c.trace);
});

test('every mechanism refused: one EAUTH error naming each with its reply, then QUIT', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: AUTH CRAM-MD5
    S: 334 ${b64(CHALLENGE)}
    C: ${CRAM}
    S: 535 5.7.8 no (cram)
    C: AUTH PLAIN ${PLAIN}
    S: 535 5.7.8 no (plain)
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: ${b64(USER)}
    S: 334 UGFzc3dvcmQ6
    C: ${b64(PASS)}
    S: 535 5.7.8 no (login)
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, CREDENTIALS);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(
    c.error?.detail,
    'Authentication failed: CRAM-MD5: 535 5.7.8 no (cram); PLAIN: 535 5.7.8 no (plain); LOGIN: 535 5.7.8 no (login)',
  );
  assert.match(
    c.error?.hint ?? '',
    /refused the login "alice" with the password from the `user` option and the `password` option/,
  );
  assert.equal(c.error?.command, 'AUTH LOGIN');
  assertNoSecrets(c.trace, c.error?.message, c.error?.stack, String(c.error));
});

test('a forced mechanism (authMechanism) is the only one tried', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: ${b64(USER)}
    S: 334 UGFzc3dvcmQ6
    C: ${b64(PASS)}
    S: 235 ok
    ${DELIVERY}`;
  const c = await converse(steps, { ...CREDENTIALS, authMechanism: 'login' });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'LOGIN');
});

test('MAIL gets 530 and nothing was found: promptCredentials, RSET, AUTH, then the transaction again', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: MAIL FROM:<a@x.org>
    S: 530 5.7.0 Authentication required
    C: RSET
    S: 250 ok
    C: AUTH CRAM-MD5
    S: 334 ${b64(CHALLENGE)}
    C: ${CRAM}
    S: 235 ok
    ${DELIVERY}`;
  const asked: unknown[] = [];
  const c = await converse(steps, {
    promptCredentials: async (request) => {
      asked.push(request);
      return CREDENTIALS;
    },
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(asked.length, 1);
  assert.deepEqual(
    { ...(asked[0] as object), port: undefined },
    { host: '127.0.0.1', port: undefined, user: undefined },
  );
});

test('MAIL gets 530 and no credentials can be had: the 530 is the error', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: MAIL FROM:<a@x.org>
    S: 530 5.7.0 Authentication required
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { promptCredentials: async () => undefined });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESENDER');
  assert.equal(c.error?.detail, 'Sending failed: 530 5.7.0 Authentication required in response to MAIL FROM:<a@x.org>');
  assert.match(
    c.error?.hint ?? '',
    /give the `user` option and the `password` option, or add the line "machine 127\.0\.0\.1 port \d+ login USER password PASS"/,
  );
});

test('pipelined RCPT 550 (relay denied) on an unauthenticated session: AUTH, then the transaction again', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 AUTH PLAIN
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 ok
    S: 550 5.7.1 Relaying denied
    S: 554 5.5.1 no valid recipients
    C: RSET
    S: 250 ok
    C: AUTH PLAIN ${PLAIN}
    S: 235 ok
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { promptCredentials: async () => CREDENTIALS });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'PLAIN');
});

test('credentials given but the server offers no AUTH: the mail goes without AUTH', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, undefined);
});

test('serversRequiringAuthorization and no AUTH offered: EAUTH before MAIL', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { ...CREDENTIALS, serversRequiringAuthorization: /^127\./ });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
});

test('a server that goes on challenging: bounded, an error, no hang', async () => {
  const steps = script`
    ${EHLO_AUTH}
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: ${b64(USER)}
    S: 334 UGFzc3dvcmQ6
    C: ${b64(PASS)}
    S: 334 bW9yZQ==
    C: *
    S: 334 bW9yZQ==
  `;
  const c = await converse(steps, { ...CREDENTIALS, authMechanism: 'LOGIN' });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPROTOCOL');
  assertNoSecrets(c.trace, c.error?.message, c.error?.stack);
});

test('pipelined, local recipient accepted and remote one relay-denied: no DATA, then AUTH and the transaction again', async () => {
  // Found against Exim: with DATA in the pipelined group the server would already wait for the message.
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 AUTH PLAIN
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<local@x.org>
    C: RCPT TO:<remote@y.org>
    S: 250 ok
    S: 250 ok
    S: 550 relay not permitted: authentication required
    C: RSET
    S: 250 ok
    C: AUTH PLAIN ${PLAIN}
    S: 235 ok
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<local@x.org>
    C: RCPT TO:<remote@y.org>
    S: 250 ok
    S: 250 ok
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, {
    recipients: ['local@x.org', 'remote@y.org'],
    promptCredentials: async () => CREDENTIALS,
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['local@x.org', 'remote@y.org']);
});

/**
 * SCRAM through whole sends against the scripted server, byte for byte (the client nonce injected): the RFC 7677
 * and RFC 5802 exchanges, SCRAM first in the default order, the 'y' flag after STARTTLS, a wrong or missing server
 * signature (the login stops: no other mechanism), the server's `e=` error, a challenge the client refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientNonce } from '../src/auth/scram.js';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';
import { finalMessages } from './helpers/scram-reference.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const USER = 'user';
const PASS = 'pencil';
const NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const RFC7677 = finalMessages({
  hash: 'sha256',
  password: PASS,
  clientFirst: `n,,n=user,r=${NONCE}`,
  serverFirst: SERVER_FIRST,
});
const CREDENTIALS = { user: USER, password: PASS };

clientNonce.next = () => NONCE; // every exchange in this file replays the RFC's nonce

const EHLO = (auth: string): string => `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250 AUTH ${auth}
`;

function assertNoSecrets(texts: readonly (string | undefined)[]): void {
  for (const secret of [PASS, b64(RFC7677.clientFinal)]) {
    for (const text of texts) assert.ok(!(text ?? '').includes(secret), `a secret leaked into: ${text}`);
  }
}

test('the RFC 7677 values are what the reference computes', () => {
  assert.equal(
    RFC7677.clientFinal,
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  assert.equal(RFC7677.serverFinal, 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

test('default order: SCRAM-SHA-256 is chosen over SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN; RFC 7677 on the wire', async () => {
  const steps = script`
    ${EHLO('PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 334 ${b64(RFC7677.serverFinal)}
    C:
    S: 235 2.7.0 Authentication successful
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'SCRAM-SHA-256');
  assert.ok(c.trace.includes('C: AUTH SCRAM-SHA-256 <omitted>'));
  assertNoSecrets(c.trace);
});

test('SCRAM-SHA-1 forced: the RFC 5802 §5 exchange', async () => {
  const nonce = 'fyko+d2lbbFgONRv9qkxdawL';
  clientNonce.next = () => nonce;
  try {
    const steps = script`
      ${EHLO('SCRAM-SHA-1 SCRAM-SHA-256')}
      C: AUTH SCRAM-SHA-1 ${b64(`n,,n=user,r=${nonce}`)}
      S: 334 ${b64('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096')}
      C: ${b64('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=')}
      S: 334 ${b64('v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')}
      C:
      S: 235 2.7.0 ok
      ${DELIVERY}`;
    const c = await converse(steps, { ...CREDENTIALS, authMechanism: 'SCRAM-SHA-1' });
    assert.equal(c.error, undefined);
    assertTranscript(c, steps);
    assert.equal(c.result?.authMechanism, 'SCRAM-SHA-1');
  } finally {
    clientNonce.next = () => NONCE;
  }
});

test("after STARTTLS, a server without -PLUS: the client says 'y' (it could bind), and the proof covers it", async () => {
  const clientFirst = `y,,n=user,r=${NONCE}`;
  const { clientFinal, serverFinal } = finalMessages({
    hash: 'sha256',
    password: PASS,
    clientFirst,
    serverFirst: SERVER_FIRST,
  });
  assert.match(clientFinal, /^c=eSws,/); // base64 of 'y,,'
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 go ahead
    !tls
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH PLAIN SCRAM-SHA-256
    C: AUTH SCRAM-SHA-256 ${b64(clientFirst)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(clientFinal)}
    S: 334 ${b64(serverFinal)}
    C:
    S: 235 2.7.0 ok
    ${DELIVERY}`;
  const c = await converse(steps, { ...CREDENTIALS, server: 'localhost', streamType: 'starttls' });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, true);
  assert.equal(c.result?.authMechanism, 'SCRAM-SHA-256');
});

test('a wrong server signature: cancelled with *, EAUTH saying so, and PLAIN is not tried after it', async () => {
  const steps = script`
    ${EHLO('SCRAM-SHA-256 PLAIN')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 334 ${b64('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')}
    C: *
    S: 501 5.7.0 Authentication cancelled
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, CREDENTIALS);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(
    c.error?.detail,
    "Authentication failed: SCRAM-SHA-256: the server's signature is wrong: it could not prove that it knows the " +
      'password; no other mechanism was tried',
  );
  assert.equal(c.error?.reply, undefined, 'no 535: the password is not known to be wrong');
  assertNoSecrets([...c.trace, c.error?.message]);
});

test('235 without the server signature: EAUTH, the server is not trusted', async () => {
  const steps = script`
    ${EHLO('SCRAM-SHA-256 PLAIN')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 235 2.7.0 ok
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, CREDENTIALS);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.match(c.error?.message ?? '', /SCRAM-SHA-256: the server accepted the login without proving that it knows/);
});

test("the server's e= error: an empty response, then 535; the error carries both", async () => {
  const steps = script`
    ${EHLO('SCRAM-SHA-256')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 334 ${b64('e=invalid-proof')}
    C:
    S: 535 5.7.8 Authentication credentials invalid
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, CREDENTIALS);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(
    c.error?.detail,
    'Authentication failed: SCRAM-SHA-256: 535 5.7.8 Authentication credentials invalid (server error: invalid-proof)',
  );
  assert.match(c.error?.hint ?? '', /refused the login "user"/);
});

test('SCRAM refused with 535: the next mechanism (PLAIN) is tried, as with any refusal', async () => {
  const steps = script`
    ${EHLO('PLAIN SCRAM-SHA-256')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 535 5.7.8 Authentication failed
    C: AUTH PLAIN ${b64(`\0${USER}\0${PASS}`)}
    S: 235 2.7.0 ok
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'PLAIN');
});

for (const row of [
  {
    name: 'a nonce that is not the client nonce extended',
    first: 'r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    why: "the server's nonce does not extend the client's",
  },
  {
    name: 'an iteration count of 1',
    first: `r=${NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1`,
    why: "the server's iteration count 1 is outside 4096-1000000",
  },
]) {
  test(`a server-first-message with ${row.name}: cancelled with *, the reason in the error`, async () => {
    const steps = script`
      ${EHLO('SCRAM-SHA-256')}
      C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
      S: 334 ${b64(row.first)}
      C: *
      S: 501 5.7.0 cancelled
      C: QUIT
      S: 221 bye
    `;
    const c = await converse(steps, CREDENTIALS);
    assertTranscript(c, steps);
    assert.equal(c.error?.code, 'EAUTH');
    assert.equal(
      c.error?.detail,
      `Authentication failed: SCRAM-SHA-256: cancelled by the client (${row.why}): 501 5.7.0 cancelled`,
    );
  });
}

test('SCRAM-SHA-256-PLUS offered on a clear-text session: not tried (no channel binding); SCRAM-SHA-256 says n', async () => {
  const steps = script`
    ${EHLO('SCRAM-SHA-256-PLUS SCRAM-SHA-256')}
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=user,r=${NONCE}`)}
    S: 334 ${b64(SERVER_FIRST)}
    C: ${b64(RFC7677.clientFinal)}
    S: 334 ${b64(RFC7677.serverFinal)}
    C:
    S: 235 2.7.0 ok
    ${DELIVERY}`;
  const c = await converse(steps, CREDENTIALS);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'SCRAM-SHA-256');
});

/**
 * OAuth 2 through whole sends against the scripted server: OAUTHBEARER (RFC 7628) accepted, refused (the JSON
 * error, the client's ^A, 535), and the token function asked once more per connection after a refusal, its new
 * token tried with a new AUTH on the same connection; XOAUTH2 the same way with its empty response.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PasswordContext } from '../src/index.js';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const USER = 'alice@example.org';
const OLD = 'ya29.old-token';
const NEW = 'ya29.new-token';
const bearer = (port: number, token: string): string =>
  b64(`n,a=${USER},\x01host=127.0.0.1\x01port=${port}\x01auth=Bearer ${token}\x01\x01`);
const xoauth2 = (token: string): string => b64(`user=${USER}\x01auth=Bearer ${token}\x01\x01`);
const INVALID = b64('{"status":"invalid_token","scope":"https://mail.example.org/","openid-configuration":"x"}');

const EHLO = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250 AUTH PLAIN XOAUTH2 OAUTHBEARER
`;

/** A token function that records its calls and answers from `tokens` in turn. */
function tokenFunction(...tokens: string[]): {
  calls: PasswordContext[];
  password: (c: PasswordContext) => Promise<string>;
} {
  const calls: PasswordContext[] = [];
  return {
    calls,
    password: async (context) => {
      calls.push(context);
      return tokens[calls.length - 1] ?? 'no more tokens';
    },
  };
}

function assertNoTokens(texts: readonly (string | undefined)[]): void {
  for (const text of texts) {
    for (const token of [OLD, NEW]) assert.ok(!(text ?? '').includes(token), `a token leaked into: ${text}`);
  }
}

test('OAUTHBEARER: the initial response with user, host and port; 235; the trace shows <omitted>', async () => {
  const c = await converse(
    (port) => script`
      ${EHLO}
      C: AUTH OAUTHBEARER ${bearer(port, OLD)}
      S: 235 2.7.0 Accepted
      ${DELIVERY}`,
    { user: USER, password: OLD, authMechanisms: ['OAUTHBEARER'] },
  );
  assert.equal(c.error, undefined);
  assertTranscript(c, c.steps);
  assert.equal(c.result?.authMechanism, 'OAUTHBEARER');
  assert.ok(c.trace.includes('C: AUTH OAUTHBEARER <omitted>'));
  assertNoTokens(c.trace);
});

test('OAUTHBEARER refused: the JSON error challenge, the client answers AQ==, 535; the error decodes the JSON', async () => {
  const c = await converse(
    (port) => script`
      ${EHLO}
      C: AUTH OAUTHBEARER ${bearer(port, OLD)}
      S: 334 ${INVALID}
      C: AQ==
      S: 535 5.7.8 Username and Password not accepted
      C: QUIT
      S: 221 bye
    `,
    { user: USER, password: OLD, authMechanisms: ['OAUTHBEARER'] },
  );
  assertTranscript(c, c.steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(
    c.error?.detail,
    'Authentication failed: OAUTHBEARER: 535 5.7.8 Username and Password not accepted ' +
      '(status invalid_token, scope https://mail.example.org/)',
  );
  assertNoTokens([...c.trace, c.error?.message]);
});

test('OAUTHBEARER with a token function: refused, asked again with the error, a new AUTH on the same connection', async () => {
  const tokens = tokenFunction(OLD, NEW);
  const c = await converse(
    (port) => script`
      ${EHLO}
      C: AUTH OAUTHBEARER ${bearer(port, OLD)}
      S: 334 ${INVALID}
      C: AQ==
      S: 535 5.7.8 Username and Password not accepted
      C: AUTH OAUTHBEARER ${bearer(port, NEW)}
      S: 235 2.7.0 Accepted
      ${DELIVERY}`,
    { user: USER, password: tokens.password, authMechanisms: ['OAUTHBEARER'] },
  );
  assert.equal(c.error, undefined);
  assertTranscript(c, c.steps);
  assert.equal(c.result?.authMechanism, 'OAUTHBEARER');
  const [first, second] = tokens.calls;
  assert.equal(tokens.calls.length, 2);
  assert.deepEqual(first, { user: USER, server: '127.0.0.1', port: first?.port, attempt: 1, previousError: undefined });
  assert.equal(typeof first?.port, 'number');
  assert.equal(second?.attempt, 2);
  assert.equal(second?.previousError?.code, 'EAUTH');
  assert.match(second?.previousError?.message ?? '', /OAUTHBEARER: 535 .*\(status invalid_token/);
  assert.ok(c.trace.some((line) => /refused the OAUTHBEARER token: trying again with a new one/.test(line)));
  assertNoTokens(c.trace);
});

test('the refreshed token refused too: never a third call, both refusals in the error, then QUIT', async () => {
  const tokens = tokenFunction(OLD, NEW, 'third');
  const c = await converse(
    (port) => script`
      ${EHLO}
      C: AUTH OAUTHBEARER ${bearer(port, OLD)}
      S: 334 ${INVALID}
      C: AQ==
      S: 535 5.7.8 no
      C: AUTH OAUTHBEARER ${bearer(port, NEW)}
      S: 334 ${INVALID}
      C: AQ==
      S: 535 5.7.8 still no
      C: QUIT
      S: 221 bye
    `,
    { user: USER, password: tokens.password, authMechanisms: ['OAUTHBEARER'] },
  );
  assertTranscript(c, c.steps);
  assert.equal(tokens.calls.length, 2);
  assert.equal(
    c.error?.detail,
    'Authentication failed: OAUTHBEARER: 535 5.7.8 no (status invalid_token, scope https://mail.example.org/); ' +
      'OAUTHBEARER (new token): 535 5.7.8 still no (status invalid_token, scope https://mail.example.org/)',
  );
});

test('XOAUTH2 with a token function: the empty response after the JSON, then the new token on the same connection', async () => {
  const tokens = tokenFunction(OLD, NEW);
  const steps = script`
    ${EHLO}
    C: AUTH XOAUTH2 ${xoauth2(OLD)}
    S: 334 ${INVALID}
    C:
    S: 535 5.7.8 no
    C: AUTH XOAUTH2 ${xoauth2(NEW)}
    S: 235 2.7.0 Accepted
    ${DELIVERY}`;
  const c = await converse(steps, { user: USER, password: tokens.password, authMechanisms: ['XOAUTH2'] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(
    tokens.calls.map((call) => call.attempt),
    [1, 2],
  );
});

test('a token given as a string: no refresh, the refusal stands', async () => {
  const steps = script`
    ${EHLO}
    C: AUTH XOAUTH2 ${xoauth2(OLD)}
    S: 334 ${INVALID}
    C:
    S: 535 5.7.8 no
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { user: USER, password: OLD, authMechanisms: ['XOAUTH2'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
});

test('a password function refused with PLAIN is not asked again (refresh is for OAuth tokens)', async () => {
  const tokens = tokenFunction('s3cret', 'other');
  const steps = script`
    ${EHLO}
    C: AUTH PLAIN ${b64(`\0${USER}\0s3cret`)}
    S: 535 5.7.8 no
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { user: USER, password: tokens.password, authMechanisms: ['PLAIN'] });
  assertTranscript(c, steps);
  assert.equal(tokens.calls.length, 1);
});

test('a zero-argument password function still works (the context is ignored)', async () => {
  const steps = script`
    ${EHLO}
    C: AUTH XOAUTH2 ${xoauth2(OLD)}
    S: 235 ok
    ${DELIVERY}`;
  const c = await converse(steps, { user: USER, password: () => OLD, authMechanisms: ['XOAUTH2'] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test('a token function that returns no string: ECONFIG, without the value', async () => {
  const steps = script`
    ${EHLO}
    C: QUIT
    S: 221 bye
  `;
  const password = (async () => ({ access_token: OLD })) as unknown as () => Promise<string>;
  const c = await converse(steps, { user: USER, password, authMechanisms: ['XOAUTH2'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ECONFIG');
  assert.equal(c.error?.message, 'the `password` option (a function) returned an object, not a string');
  assertNoTokens([c.error?.message]);
});

/**
 * The cleartext rule (SPEC §4) at the auth layer alone: PLAIN, LOGIN,
 * XOAUTH2 and OAUTHBEARER never go unencrypted to a peer that is not loopback
 * unless allowInsecureAuth is set; CRAM-MD5 and SCRAM, which send a proof,
 * may. The session runs over a real loopback socket to the fake server,
 * labelled with a non-loopback peer address (192.0.2.1, a documentation
 * address that no traffic is sent to).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { authenticate, type AuthPolicy } from '../src/auth/exchange.js';
import { clientNonce } from '../src/auth/scram.js';
import { Connection } from '../src/net/connection.js';
import { SmtpProtocolError } from '../src/errors.js';
import { resolveTarget } from '../src/options.js';
import { SmtpSession } from '../src/smtp/session.js';
import { isLoopback } from '../src/net/transport.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { clientBytes, script, startFakeServer, type Step } from './helpers/fake-server.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const CREDENTIALS = { user: 'alice', secret: 's3cret pass' };

async function authenticateRemote(
  steps: readonly Step[],
  policy: AuthPolicy,
): Promise<{ error: unknown; received: string; mechanism: unknown }> {
  const server = await startFakeServer(steps);
  const socket = net.connect({ host: server.host, port: server.port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const connection = new Connection({ stream: socket, tls: undefined, remoteAddress: '192.0.2.1' }, undefined);
  const session = new SmtpSession(connection, resolveTarget({ server: 'mail.example.org', timeouts: SHORT_TIMEOUTS }));
  let error: unknown;
  let mechanism: unknown;
  try {
    await session.greeting();
    await session.hello('client.example');
    mechanism = await authenticate(session, CREDENTIALS, policy);
  } catch (caught) {
    error = caught;
  }
  await session.quit();
  const outcome = await server.done;
  await assertNothingLeftOpen();
  return { error, received: outcome.received, mechanism };
}

const START = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
`;

test('PLAIN and LOGIN only, clear text, remote peer: EPOLICY and not one AUTH byte sent', async () => {
  const steps = script`
    ${START}
    S: 250-mail.example.org
    S: 250 AUTH PLAIN LOGIN
    C: QUIT
    S: 221 bye
  `;
  const { error, received } = await authenticateRemote(steps, {
    preference: undefined,
    forced: undefined,
    allowInsecureAuth: false,
  });
  assert.equal(received, clientBytes(steps));
  assert.ok(error instanceof SmtpProtocolError);
  assert.equal(error.code, 'EPOLICY');
  assert.match(error.message, /unencrypted connection to mail\.example\.org/);
  assert.match(
    error.hint ?? '',
    /port 587 with streamType 'starttls', or port 465 with streamType 'ssl'.*allowInsecureAuth: true would send the password readable/,
  );
});

test('clear text to a remote peer: CRAM-MD5 (no reversible secret) is still used', async () => {
  const challenge = '<1.2@mail.example.org>';
  const { createHmac } = await import('node:crypto');
  const response = b64(`alice ${createHmac('md5', 's3cret pass').update(challenge).digest('hex')}`);
  const steps = script`
    ${START}
    S: 250-mail.example.org
    S: 250 AUTH PLAIN LOGIN CRAM-MD5
    C: AUTH CRAM-MD5
    S: 334 ${b64(challenge)}
    C: ${response}
    S: 235 ok
    C: QUIT
    S: 221 bye
  `;
  const { error, received, mechanism } = await authenticateRemote(steps, {
    preference: ['PLAIN', 'CRAM-MD5'],
    forced: undefined,
    allowInsecureAuth: false,
  });
  assert.equal(error, undefined);
  assert.equal(received, clientBytes(steps));
  assert.equal(mechanism, 'CRAM-MD5');
});

test('clear text to a remote peer: SCRAM (a proof, never the password) is used; OAUTHBEARER and XOAUTH2 are not', async () => {
  const nonce = 'rOprNGfwEbeRWgbNEkqO';
  const serverFirst = `r=${nonce}%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`;
  const { finalMessages } = await import('./helpers/scram-reference.js');
  const { clientFinal, serverFinal } = finalMessages({
    hash: 'sha256',
    password: CREDENTIALS.secret,
    clientFirst: `n,,n=alice,r=${nonce}`,
    serverFirst,
  });
  const steps = script`
    ${START}
    S: 250-mail.example.org
    S: 250 AUTH OAUTHBEARER XOAUTH2 PLAIN SCRAM-SHA-256
    C: AUTH SCRAM-SHA-256 ${b64(`n,,n=alice,r=${nonce}`)}
    S: 334 ${b64(serverFirst)}
    C: ${b64(clientFinal)}
    S: 334 ${b64(serverFinal)}
    C:
    S: 235 ok
    C: QUIT
    S: 221 bye
  `;
  const original = clientNonce.next;
  clientNonce.next = () => nonce;
  try {
    const { error, received, mechanism } = await authenticateRemote(steps, {
      preference: ['OAUTHBEARER', 'XOAUTH2', 'PLAIN', 'SCRAM-SHA-256'],
      forced: undefined,
      allowInsecureAuth: false,
    });
    assert.equal(error, undefined);
    assert.equal(received, clientBytes(steps));
    assert.equal(mechanism, 'SCRAM-SHA-256');
  } finally {
    clientNonce.next = original;
  }
});

test('clear text to a remote peer, OAUTHBEARER only: EPOLICY, the token is not sent', async () => {
  const steps = script`
    ${START}
    S: 250-mail.example.org
    S: 250 AUTH OAUTHBEARER
    C: QUIT
    S: 221 bye
  `;
  const { error, received } = await authenticateRemote(steps, {
    preference: ['OAUTHBEARER'],
    forced: undefined,
    allowInsecureAuth: false,
  });
  assert.equal(received, clientBytes(steps));
  assert.ok(error instanceof SmtpProtocolError);
  assert.equal(error.code, 'EPOLICY');
});

test('allowInsecureAuth: PLAIN is sent in clear text to the remote peer', async () => {
  const steps = script`
    ${START}
    S: 250-mail.example.org
    S: 250 AUTH PLAIN
    C: AUTH PLAIN ${b64('\0alice\0s3cret pass')}
    S: 235 ok
    C: QUIT
    S: 221 bye
  `;
  const { error, received, mechanism } = await authenticateRemote(steps, {
    preference: undefined,
    forced: undefined,
    allowInsecureAuth: true,
  });
  assert.equal(error, undefined);
  assert.equal(received, clientBytes(steps));
  assert.equal(mechanism, 'PLAIN');
});

test('isLoopback: which peers count as local', () => {
  const rows: ReadonlyArray<readonly [string | undefined, boolean]> = [
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['192.0.2.1', false],
    ['::ffff:192.0.2.1', false],
    ['2001:db8::1', false],
    ['128.0.0.1', false],
    [undefined, false],
  ];
  for (const [address, expected] of rows) assert.equal(isLoopback(address), expected, String(address));
});

/**
 * SCRAM-SHA-256-PLUS over real TLS sessions, against the in-process SCRAM server (helpers/scram-server.ts), which
 * computes the channel binding from its own end of the session: tls-exporter on TLS 1.3, tls-server-end-point on
 * TLS 1.2, a binding the server sees differently (a man in the middle) stopping the login, and the 'y' and 'n' flags.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sendMail, SmtpProtocolError, type SendOptions } from '../src/index.js';
import { formatTrace } from '../src/wire/trace.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { startScramServer, type ScramServer, type ScramServerOptions } from './helpers/scram-server.js';

const USER = 'alice';
const PASS = 'pässwörd with spaces';
const ALL = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'];

async function withServer(options: Partial<ScramServerOptions>, run: (server: ScramServer) => Promise<void>) {
  const server = await startScramServer({ user: USER, password: PASS, mechanisms: ALL, ...options });
  try {
    await run(server);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

function send(server: ScramServer, extra: Partial<SendOptions> = {}, trace: string[] = []) {
  return sendMail('Subject: scram\n\nhello\n', {
    server: 'localhost',
    port: server.port,
    streamType: 'starttls',
    tls: { ca: fixture('ca.pem') },
    user: USER,
    password: PASS,
    envelopeFrom: 'alice@example.org',
    recipients: ['bob@example.net'],
    timeouts: SHORT_TIMEOUTS,
    authSources: [],
    retries: 1,
    onTrace: (event) => trace.push(formatTrace(event)),
    ...extra,
  });
}

test('TLS 1.3: SCRAM-SHA-256-PLUS with tls-exporter, checked by the server against its own end', async () => {
  await withServer({}, async (server) => {
    const trace: string[] = [];
    const result = await send(server, {}, trace);
    assert.equal(result.authMechanism, 'SCRAM-SHA-256-PLUS');
    assert.equal(result.tls?.protocol, 'TLSv1.3');
    assert.deepEqual(server.logins, [
      { mechanism: 'SCRAM-SHA-256-PLUS', gs2: 'p=tls-exporter,,', protocol: 'TLSv1.3', error: undefined },
    ]);
    assert.equal(server.messages.length, 1);
    assert.ok(!trace.join('\n').includes(PASS));
  });
});

test('TLS 1.2: SCRAM-SHA-256-PLUS with tls-server-end-point (SHA-256 of the certificate)', async () => {
  await withServer({ maxVersion: 'TLSv1.2' }, async (server) => {
    const result = await send(server);
    assert.equal(result.authMechanism, 'SCRAM-SHA-256-PLUS');
    assert.deepEqual(server.logins, [
      { mechanism: 'SCRAM-SHA-256-PLUS', gs2: 'p=tls-server-end-point,,', protocol: 'TLSv1.2', error: undefined },
    ]);
  });
});

test('the server sees another TLS session: EAUTH, and neither SCRAM without binding nor PLAIN is tried', async () => {
  await withServer({ otherSession: true }, async (server) => {
    const error = await send(server).catch((caught: unknown) => caught);
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'EAUTH');
    assert.match(error.message, /SCRAM-SHA-256-PLUS: the server sees another TLS session \(its tls-exporter differs\)/);
    assert.match(error.message, /no other mechanism was tried/);
    assert.deepEqual(
      server.logins.map((login) => login.error),
      ['channel-bindings-dont-match'],
    );
    assert.equal(server.messages.length, 0);
  });
});

test("a server offering -PLUS, the client limited to SCRAM-SHA-256: 'n' (a 'y' would be taken as a downgrade)", async () => {
  await withServer({}, async (server) => {
    const result = await send(server, { authMechanisms: ['SCRAM-SHA-256'] });
    assert.equal(result.authMechanism, 'SCRAM-SHA-256');
    assert.deepEqual(server.logins[0]?.gs2, 'n,,');
  });
});

test("a server without -PLUS on TLS: SCRAM-SHA-256 with 'y'; SCRAM-SHA-1 when only it is offered", async () => {
  await withServer({ mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-1'] }, async (server) => {
    assert.equal((await send(server)).authMechanism, 'SCRAM-SHA-256');
    assert.equal(server.logins[0]?.gs2, 'y,,');
  });
  await withServer({ mechanisms: ['SCRAM-SHA-1'] }, async (server) => {
    assert.equal((await send(server)).authMechanism, 'SCRAM-SHA-1');
  });
});

test('a wrong password: e=invalid-proof then 535, for -PLUS and then SCRAM-SHA-256, both listed', async () => {
  await withServer({ mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }, async (server) => {
    const error = await send(server, { password: 'wrong' }).catch((caught: unknown) => caught);
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'EAUTH');
    assert.equal(
      error.detail,
      'Authentication failed: SCRAM-SHA-256-PLUS: 535 5.7.8 authentication failed (server error: invalid-proof); ' +
        'SCRAM-SHA-256: 535 5.7.8 authentication failed (server error: invalid-proof)',
    );
    assert.equal(error.reply?.code, 535);
  });
});

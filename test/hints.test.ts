/**
 * Each hint produced by the real condition (loopback servers: smtp-server,
 * or a bare listener), asserting its substance (the option, port or file it
 * names), not its wording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sendMail, SmtpProtocolError, type SendOptions } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { withRealServer, type RealServerOptions } from './helpers/real-server.js';

const MESSAGE = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\n\r\nx\r\n';
const base: SendOptions = {
  server: 'localhost',
  tls: { ca: fixture('ca.pem') },
  timeouts: SHORT_TIMEOUTS,
  authSources: [],
  retries: 1,
};

async function failure(options: SendOptions): Promise<SmtpProtocolError> {
  try {
    await sendMail(MESSAGE, options);
  } catch (error) {
    assert.ok(error instanceof SmtpProtocolError, String(error));
    assert.ok(error.hint !== undefined, `no hint on: ${error.message}`);
    assert.ok(error.message.endsWith(error.hint), 'the hint is in the message, after the server text');
    return error;
  }
  assert.fail('the send succeeded');
}

const withServer = withRealServer;

test('implicit TLS against a plain-text SMTP port: use starttls (or plain) there, or port 465 with ssl', async () => {
  await withServer({}, async (server) => {
    const error = await failure({ ...base, port: server.port, streamType: 'ssl' });
    assert.equal(error.code, 'ETLS');
    assert.match(error.hint ?? '', /'starttls'/);
    assert.match(error.hint ?? '', /465 with streamType 'ssl'/);
  });
});

test('clear text against an implicit-TLS port (no greeting): use ssl', async () => {
  await withServer({ secure: true }, async (server) => {
    const error = await failure({
      ...base,
      port: server.port,
      streamType: 'starttls',
      timeouts: { ...SHORT_TIMEOUTS, greeting: 300 },
    });
    assert.equal(error.code, 'ETIMEOUT');
    assert.match(error.hint ?? '', new RegExp(`port ${server.port} probably expects TLS.*streamType 'ssl'`));
  });
});

test('a closed port: check the server name and port; on port 25, use 587 or 465', async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const error = await failure({ ...base, server: '127.0.0.1', port, streamType: 'plain' });
  assert.equal(error.code, 'ECONNECTION');
  assert.match(
    error.hint ?? '',
    new RegExp(`127\\.0\\.0\\.1 refused the connection on port ${port}: check the server name and the port`),
  );
  await assertNothingLeftOpen();
});

test('550 relay denied without AUTH offered: use the submission port with STARTTLS', async () => {
  const relayDenied = (_a: unknown, _s: unknown, callback: (error?: Error) => void): void =>
    callback(Object.assign(new Error('5.7.1 Relaying denied'), { responseCode: 550 }));
  await withServer({ disabledCommands: ['AUTH'], onRcptTo: relayDenied }, async (server) => {
    const error = await failure({ ...base, port: server.port });
    assert.equal(error.code, 'ERECIPIENT');
    assert.match(error.hint ?? '', /offers no AUTH.*port 587 with streamType 'starttls'/);
  });
});

async function withAuthinfo(text: string, run: (file: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-hints-'));
  const file = path.join(dir, 'authinfo');
  await fs.writeFile(file, text, { mode: 0o600 });
  try {
    await run(file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const AUTH_SERVER: RealServerOptions = {
  authMethods: ['PLAIN', 'LOGIN'],
  onAuth: (auth, _session, callback) =>
    auth.password === 'right'
      ? callback(null, { user: auth.username })
      : callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 })),
};

test('550 relay denied with AUTH offered and no matching authinfo entry: the line to add, the file searched and why it did not match', async () => {
  const relayUnlessAuthenticated = (
    _a: unknown,
    session: { user?: unknown },
    callback: (error?: Error) => void,
  ): void =>
    callback(!session.user ? Object.assign(new Error('5.7.1 Relaying denied'), { responseCode: 550 }) : undefined);
  await withServer({ ...AUTH_SERVER, onRcptTo: relayUnlessAuthenticated }, async (server) => {
    await withAuthinfo('machine localhost port smtp login alice password right\n', async (file) => {
      const missing = path.join(path.dirname(file), 'no-such-file');
      const error = await failure({ ...base, port: server.port, authSources: [missing, file] });
      assert.equal(error.code, 'ERECIPIENT');
      const hint = error.hint ?? '';
      assert.match(hint, new RegExp(`"machine localhost port ${server.port} login USER password PASS"`));
      assert.ok(hint.includes(`${missing} does not exist`), hint);
      assert.ok(hint.includes(`${file} has no matching entry (line 1: port mismatch)`), hint);
      assert.match(hint, new RegExp(`"port smtp" is 25, not ${server.port}`));
    });
  });
});

test('530 to MAIL with an authinfo file for another host: the file and the host mismatch', async () => {
  const authFirst = (_a: unknown, session: { user?: unknown }, callback: (error?: Error) => void): void =>
    callback(
      !session.user ? Object.assign(new Error('5.7.0 Authentication required'), { responseCode: 530 }) : undefined,
    );
  await withServer({ ...AUTH_SERVER, onMailFrom: authFirst }, async (server) => {
    await withAuthinfo(`machine mail.example.org port ${server.port} login alice password right\n`, async (file) => {
      const error = await failure({ ...base, port: server.port, authSources: [file] });
      assert.equal(error.code, 'ESENDER');
      assert.equal(error.reply?.code, 530);
      assert.ok((error.hint ?? '').includes(`${file} has no matching entry (line 1: host mismatch)`), error.hint);
    });
  });
});

test('535: names the authinfo file and line the refused password came from', async () => {
  await withServer(AUTH_SERVER, async (server) => {
    await withAuthinfo(`# mine\nmachine localhost port ${server.port} login alice password wrong\n`, async (file) => {
      const error = await failure({ ...base, port: server.port, authSources: [file] });
      assert.equal(error.code, 'EAUTH');
      assert.match(error.hint ?? '', /refused the login "alice"/);
      assert.ok((error.hint ?? '').includes(`${file} line 2`), error.hint);
      assert.ok(!error.message.includes('wrong'), 'the password is not in the error');
    });
  });
});

test('a certificate from an unknown CA: its names and issuer, and the tls.ca option', async () => {
  await withServer({ secure: true }, async (server) => {
    const error = await failure({
      ...base,
      port: server.port,
      streamType: 'ssl',
      tls: { ca: fixture('other-ca.pem') },
    });
    assert.equal(error.code, 'ETLS');
    assert.match(error.hint ?? '', /certificate \(localhost[^)]*\).*not signed by a CA this client trusts/);
    assert.match(error.hint ?? '', /tls\.ca/);
  });
});

test('a certificate for another name: the names it carries and tls.servername', async () => {
  await withServer({ secure: true }, async (server) => {
    const error = await failure({
      ...base,
      port: server.port,
      streamType: 'ssl',
      tls: { ca: fixture('ca.pem'), servername: 'mail.example.org' },
    });
    assert.equal(error.code, 'ETLS');
    assert.match(error.hint ?? '', /certificate is for localhost.*not mail\.example\.org.*tls\.servername/);
  });
});

test("'starttls' required and not offered: use port 465 with ssl, or knowingly plain", async () => {
  await withServer({ hideSTARTTLS: true }, async (server) => {
    const error = await failure({ ...base, port: server.port, streamType: 'starttls' });
    assert.equal(error.code, 'ETLS');
    assert.match(error.hint ?? '', /does not offer STARTTLS on port \d+: use port 465 with streamType 'ssl'.*'plain'/);
  });
});

/**
 * Each exit code of the `smtpmail` command produced by a real condition
 * (the command spawned against the in-process smtp-server or a closed port),
 * one `smtpmail: ` line on stderr, and a --debug transcript with no secret.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startRealServer, withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';
import { CA_FILE, plain, runCli, withHome, writeConfig } from './helpers/run-cli.js';

const USER = 'alice';
const PASS = 's3cret pass';
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const MESSAGE = 'From: me@example.org\nTo: you@example.net\nSubject: x\n\nx\n';

const AUTH: RealServerOptions = {
  authMethods: ['PLAIN', 'LOGIN'],
  onAuth(auth, _session, callback) {
    if (auth.username === USER && auth.password === PASS) callback(null, { user: USER });
    else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
  },
};

const withServer = (run: (server: RealServer) => Promise<void>, options: RealServerOptions = {}): Promise<void> =>
  withRealServer({ ...AUTH, ...options }, run);

const starttls = (server: RealServer): string[] => [
  '--server',
  'localhost',
  '--port',
  String(server.port),
  '--stream-type',
  'starttls',
  '--ca',
  CA_FILE,
];
/** One line on stderr, `smtpmail: ` first, and no stack trace. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.match(stderr, /^smtpmail: [^\n]*\n$/);
  assert.match(stderr, pattern);
}

test('77: the server refuses the password from the authinfo file', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const authinfo = path.join(home, 'authinfo');
      await fs.writeFile(authinfo, `machine localhost port ${server.port} login ${USER} password "wrong pass"\n`, {
        mode: 0o600,
      });
      const run = await runCli(['-t', ...starttls(server), '--authinfo', authinfo], MESSAGE, env);
      assert.equal(run.code, 77);
      assertOneLine(run.stderr, /535 Authentication credentials invalid/);
      assert.ok(!run.stderr.includes('wrong pass'));
      assert.equal(server.received.length, 0);
    });
  });
});

test('--debug: the transcript goes to stderr with AUTH shown as <omitted>, never the password', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const authinfo = path.join(home, 'authinfo');
      await fs.writeFile(authinfo, `machine localhost port ${server.port} login ${USER} password "${PASS}"\n`, {
        mode: 0o600,
      });
      const run = await runCli(['-t', ...starttls(server), '--authinfo', authinfo, '--debug'], MESSAGE, env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /^C: EHLO /m);
      assert.match(run.stderr, /^C: STARTTLS$/m);
      assert.match(run.stderr, /^C: AUTH PLAIN <omitted>$/m);
      assert.match(run.stderr, /^S: 235 /m);
      for (const secret of [PASS, b64(PASS), b64(`\0${USER}\0${PASS}`)])
        assert.ok(!run.stderr.includes(secret), 'a secret in the transcript');
      assert.equal(server.received.length, 1);
    });
  });
});

test('67: a refused recipient', async () => {
  await withServer(
    async (server) => {
      await withHome(async (_home, env) => {
        const run = await runCli([...plain(server), 'nobody@example.net'], MESSAGE, env);
        assert.equal(run.code, 67);
        assertOneLine(run.stderr, /550 No such user here.*RCPT TO:<nobody@example.net>/);
      });
    },
    {
      onRcptTo: (_address, _session, callback) =>
        callback(Object.assign(new Error('No such user here'), { responseCode: 550 })),
    },
  );
});

test('75: 451 to MAIL FROM on every attempt (the caller may retry later)', async () => {
  let attempts = 0;
  await withServer(
    async (server) => {
      await withHome(async (home, env) => {
        await writeConfig(home, { defaults: { retries: 2 } });
        const run = await runCli([...plain(server), 'you@example.net'], MESSAGE, env);
        assert.equal(run.code, 75);
        assertOneLine(run.stderr, /451 Try again later/);
        assert.equal(attempts, 2);
      });
    },
    {
      onMailFrom(_address, _session, callback) {
        attempts++;
        callback(Object.assign(new Error('Try again later'), { responseCode: 451 }));
      },
    },
  );
});

test('69: nothing listens on the port', async () => {
  const closed = await startRealServer();
  const port = closed.port;
  await closed.close();
  await withHome(async (_home, env) => {
    const run = await runCli(['--server', '127.0.0.1', '--port', String(port), 'you@example.net'], MESSAGE, env);
    assert.equal(run.code, 69);
    assertOneLine(run.stderr, new RegExp(`127\\.0\\.0\\.1.*${port}|${port}.*127\\.0\\.0\\.1`));
  });
});

test('64: an unknown option, and no recipients without -t; nothing is read or sent', async () => {
  await withHome(async (_home, env) => {
    const unknown = await runCli(['--sever', 'x', 'you@example.net'], MESSAGE, env);
    assert.deepEqual(unknown, { code: 64, stdout: '', stderr: 'smtpmail: unknown option --sever\n' });
    const none = await runCli(['--server', '127.0.0.1'], MESSAGE, env);
    assert.equal(none.code, 64);
    assertOneLine(none.stderr, /no recipients/);
    const dash = await runCli(['--', '-oProxyCommand=x'], MESSAGE, env);
    assert.equal(dash.code, 64);
    assertOneLine(dash.stderr, /starts with '-'/);
  });
});

test('78: a configuration file that is not valid, or has an unknown key', async () => {
  await withHome(async (home, env) => {
    const bad = path.join(home, 'bad.json');
    await fs.writeFile(bad, '{ "defaults": { "server": "x" ');
    const invalid = await runCli(['--config', bad, 'you@example.net'], MESSAGE, env);
    assert.equal(invalid.code, 78);
    assertOneLine(invalid.stderr, /bad\.json: not valid JSON/);
    await writeConfig(home, { defaults: { sever: 'typo.example.org' } });
    const typo = await runCli(['you@example.net'], MESSAGE, env);
    assert.equal(typo.code, 78);
    assertOneLine(typo.stderr, /unknown option "sever" in defaults/);
    const missing = await runCli(['--config', path.join(home, 'none.json'), 'you@example.net'], MESSAGE, env);
    assert.equal(missing.code, 78);
  });
});

test('65: a message with a NUL byte', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        [...plain(server), 'you@example.net'],
        'From: me@example.org\nTo: you@example.net\n\nbad \0 byte\n',
        env,
      );
      assert.equal(run.code, 65);
      assertOneLine(run.stderr, /NUL/);
      assert.equal(server.received.length, 0);
    });
  });
});

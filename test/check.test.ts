/**
 * checkServer and `smtpmail --check` against the in-process smtp-server:
 * plain, STARTTLS and implicit-TLS listeners reported with their
 * capabilities, AUTH verified with no MAIL sent, JSON output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkServer, type CheckOptions, type CheckReport } from '../src/index.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';
import { CA_FILE, runCli, withHome } from './helpers/run-cli.js';

const PASS = 's3cret pass';
const AUTH: RealServerOptions = {
  authMethods: ['PLAIN', 'LOGIN'],
  size: 10_000_000,
  onAuth: (auth, _session, callback) =>
    auth.username === 'alice' && auth.password === PASS
      ? callback(null, { user: 'alice' })
      : callback(Object.assign(new Error('Invalid credentials'), { responseCode: 535 })),
};

const withServer = (options: RealServerOptions, run: (server: RealServer) => Promise<void>): Promise<void> =>
  withRealServer({ ...AUTH, ...options }, run);

const base = (server: RealServer): CheckOptions => ({
  server: 'localhost',
  port: server.port,
  tls: { ca: fixture('ca.pem') },
  timeouts: SHORT_TIMEOUTS,
  authSources: [],
});

test('a plain listener: no TLS, its capabilities, works with streamType plain', async () => {
  await withServer({ hideSTARTTLS: true }, async (server) => {
    const report = await checkServer({ ...base(server), streamType: 'plain' });
    assert.equal(report.ok, true);
    const [only] = report.attempts;
    assert.equal(only?.tls, undefined);
    assert.match(only?.greeting ?? '', /^220 /);
    assert.deepEqual(
      {
        size: only?.capabilities?.size,
        pipelining: only?.capabilities?.pipelining,
        eightBitMime: only?.capabilities?.eightBitMime,
        starttls: only?.capabilities?.starttls,
        smtputf8: only?.capabilities?.smtputf8,
      },
      { size: 10_000_000, pipelining: true, eightBitMime: true, starttls: false, smtputf8: true },
    );
    assert.equal(only?.auth, undefined, 'no credentials: AUTH not tried');
    assert.equal(report.working?.flags, `--server localhost --port ${server.port} --stream-type plain`);
    assert.equal(server.mailCommands, 0);
  });
});

test('a STARTTLS listener: capabilities before and after, the certificate verified, AUTH with credentials succeeds, no MAIL', async () => {
  await withServer({}, async (server) => {
    const report = await checkServer({ ...base(server), streamType: 'starttls', user: 'alice', password: PASS });
    assert.equal(report.ok, true, report.verdict);
    const [only] = report.attempts;
    assert.equal(only?.capabilities?.starttls, true);
    assert.deepEqual(only?.capabilitiesAfterTls?.auth, ['PLAIN', 'LOGIN']);
    assert.equal(only?.tls?.authorized, true);
    assert.equal(only?.tls?.certificate?.subject, 'localhost');
    assert.ok(only?.tls?.certificate?.altNames.includes('localhost'));
    assert.match(only?.tls?.certificate?.validTo ?? '', /2126/);
    assert.deepEqual(only?.auth, { ok: true, mechanism: 'PLAIN', user: 'alice', source: 'options' });
    assert.equal(server.mailCommands, 0);
    assert.ok(!JSON.stringify(report).includes(PASS), 'the password is not in the report');
  });
});

test('an implicit-TLS listener: TLS from the first byte; a wrong password is reported, and fails the check', async () => {
  await withServer({ secure: true }, async (server) => {
    const report = await checkServer({ ...base(server), streamType: 'ssl', user: 'alice', password: 'wrong pass' });
    assert.equal(report.ok, false);
    const [only] = report.attempts;
    assert.equal(only?.tls?.authorized, true);
    assert.deepEqual(only?.capabilities?.auth, ['PLAIN', 'LOGIN']);
    assert.equal(only?.auth?.ok, false);
    assert.match(only?.auth?.error ?? '', /535 Invalid credentials/);
    assert.ok(!JSON.stringify(report).includes('wrong pass'));
  });
});

test('the given settings fail (implicit TLS on a plain port): the attempt carries the error and its hint', async () => {
  await withServer({}, async (server) => {
    const report = await checkServer({ ...base(server), streamType: 'ssl' });
    assert.equal(report.ok, false);
    assert.equal(report.attempts[0]?.error?.code, 'ETLS');
    assert.match(report.attempts[0]?.error?.hint ?? '', /'starttls'/);
    assert.match(report.verdict, /no setting worked: .*'starttls'/);
  });
});

test('checkRecipient: MAIL and RCPT, then RSET; nothing is delivered', async () => {
  await withServer({}, async (server) => {
    const report = await checkServer({
      ...base(server),
      streamType: 'starttls',
      envelopeFrom: 'me@example.org',
      checkRecipient: 'you@example.net',
    });
    assert.deepEqual(report.attempts[0]?.recipient, {
      address: 'you@example.net',
      ok: true,
      reply: report.attempts[0]?.recipient?.reply,
    });
    assert.match(report.attempts[0]?.recipient?.reply ?? '', /^250 /);
    assert.equal(server.mailCommands, 1);
    assert.equal(server.received.length, 0);
  });
});

test('smtpmail --check: human output and --json with the same facts, exit 0; credentials from authinfo never printed', async () => {
  await withServer({}, async (server) => {
    await withHome(async (home, env) => {
      const authinfo = path.join(home, 'authinfo');
      await fs.writeFile(authinfo, `machine localhost port ${server.port} login alice password "${PASS}"\n`, {
        mode: 0o600,
      });
      const args = [
        '--check',
        '--server',
        'localhost',
        '--port',
        String(server.port),
        '--stream-type',
        'starttls',
        '--ca',
        CA_FILE,
        '--authinfo',
        authinfo,
      ];
      const human = await runCli(args, '', env);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, new RegExp(`^localhost port ${server.port}, STARTTLS required: works$`, 'm'));
      assert.match(human.stdout, /^ {2}STARTTLS: TLSv1\.[23] .*certificate localhost .*verified$/m);
      assert.match(human.stdout, /^ {2}EHLO after STARTTLS: .*AUTH PLAIN LOGIN/m);
      assert.match(
        human.stdout,
        new RegExp(
          `^  AUTH: PLAIN succeeded as alice \\(credentials from ${authinfo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ` +
            `line 1\\)$`,
          'm',
        ),
      );
      assert.match(human.stdout, /^Verdict: the settings work: --server localhost --port \d+ --stream-type starttls$/m);
      const json = await runCli([...args, '--json', '--debug'], '', env);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as CheckReport;
      assert.equal(report.ok, true);
      assert.equal(report.attempts[0]?.auth?.mechanism, 'PLAIN');
      assert.equal(report.attempts[0]?.tls?.certificate?.subject, 'localhost');
      assert.match(json.stderr, /^C: AUTH PLAIN <omitted>$/m);
      for (const out of [human.stdout, json.stdout, json.stderr])
        assert.ok(!out.includes(PASS) && !out.includes(Buffer.from(`\0alice\0${PASS}`).toString('base64')));
      assert.equal(server.mailCommands, 0);
      const failing = await runCli(
        ['--check', '--server', 'localhost', '--port', String(server.port), '--stream-type', 'ssl', '--ca', CA_FILE],
        '',
        env,
      );
      assert.equal(failing.code, 77);
      // The command names its own flags, never the API's option names.
      assert.match(
        failing.stdout,
        /hint: .*use --stream-type starttls \(or plain\) with this port, or --port 465 with --stream-type ssl/,
      );
      assert.doesNotMatch(failing.stdout, /streamType/);
    });
  });
});

test('tryAlternatives: the given settings first, then 587 STARTTLS, 465 TLS and 25, each reported (whatever listens there)', async () => {
  await withServer({}, async (server) => {
    const report = await checkServer({
      ...base(server),
      server: '127.0.0.1',
      tls: { ca: fixture('ca.pem'), servername: 'localhost' },
      streamType: 'starttls',
      tryAlternatives: true,
      timeouts: { ...SHORT_TIMEOUTS, greeting: 500 },
    });
    assert.deepEqual(
      report.attempts.map((a) => [a.port, a.streamType]),
      [
        [server.port, 'starttls'],
        [587, 'starttls'],
        [465, 'ssl'],
        [25, null],
      ],
    );
    assert.equal(report.ok, true);
    assert.equal(report.working?.port, server.port);
    for (const attempt of report.attempts.slice(1))
      assert.ok(attempt.ok || attempt.error !== undefined, 'each attempt either works or says why');
  });
});

test('smtpmail --check --local-domain D greets with the name a send uses (hostname.D)', async () => {
  const helos: string[] = [];
  await withRealServer(
    {
      disabledCommands: ['STARTTLS', 'AUTH'],
      onMailFrom(_address, session, callback) {
        helos.push(session.hostNameAppearsAs);
        callback();
      },
    },
    async (server) => {
      await withHome(async (_home, env) => {
        const target = [
          '--server',
          '127.0.0.1',
          '--port',
          String(server.port),
          '--stream-type',
          'plain',
          '--local-domain',
          'example.test',
        ];
        const check = await runCli(
          ['--check', ...target, '--check-recipient', 'b@example.net', '-f', 'a@example.org'],
          '',
          env,
        );
        assert.equal(check.code, 0, check.stdout + check.stderr);
        const send = await runCli([...target, 'b@example.net'], 'From: a@example.org\n\nx\n', env);
        assert.equal(send.code, 0, send.stderr);
      });
    },
  );
  assert.equal(helos.length, 2);
  assert.equal(helos[0], helos[1]);
  assert.equal(helos[0], `${os.hostname()}.example.test`);
});

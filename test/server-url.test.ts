/**
 * Connection URLs (server-url.ts): smtp:// and smtps:// wherever a server goes (options, SMTPSERVER, --server),
 * percent-decoded credentials, nothing in a URL silently dropped, and the password from a URL never in a trace or an
 * error, whether plain, percent-encoded or base64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkServer, createPool, sendMail, SmtpProtocolError, type TraceEvent } from '../src/index.js';
import { expandServerUrl, parseServerUrl, redacted } from '../src/server-url.js';
import { formatTrace } from '../src/wire/trace.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture, script, startFakeServer } from './helpers/fake-server.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';
import { CA_FILE, runCli, withHome } from './helpers/run-cli.js';

const PASSWORD = 's3cret pass/@:%';
const ENCODED = encodeURIComponent(PASSWORD);
const MESSAGE = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: url\r\n\r\nhi\r\n';

/** Every form in which the password could leak. */
function leaks(text: string): string[] {
  const forms = [
    PASSWORD,
    ENCODED,
    Buffer.from(PASSWORD).toString('base64'),
    Buffer.from(`\0alice\0${PASSWORD}`).toString('base64'),
    Buffer.from(`alice\0alice\0${PASSWORD}`).toString('base64'),
    's3cret',
  ];
  return forms.filter((form) => text.includes(form));
}

test('parseServerUrl: schemes, defaults, percent-decoding, starttls, IPv6', () => {
  assert.deepEqual(parseServerUrl('smtp://mail.example.org'), {
    server: 'mail.example.org',
    port: undefined,
    streamType: undefined,
    user: undefined,
    password: undefined,
    lmtp: undefined,
  });
  assert.deepEqual(parseServerUrl('lmtp://mda.example.org:24?starttls=never'), {
    server: 'mda.example.org',
    port: 24,
    streamType: 'plain',
    user: undefined,
    password: undefined,
    lmtp: true,
  });
  assert.deepEqual(parseServerUrl(`smtps://alice%40example.org:${ENCODED}@mail.example.org:2465/`), {
    server: 'mail.example.org',
    port: 2465,
    streamType: 'ssl',
    user: 'alice@example.org',
    password: PASSWORD,
    lmtp: undefined,
  });
  assert.equal(parseServerUrl('SMTPS://h').port, 465);
  assert.equal(parseServerUrl('smtp://h:587?starttls=required').streamType, 'starttls');
  assert.equal(parseServerUrl('smtp://h?starttls=never').streamType, 'plain');
  assert.equal(parseServerUrl('smtp://h?starttls=opportunistic').streamType, undefined);
  assert.equal(parseServerUrl('smtp://[::1]:25').server, '[::1]');
});

test('a URL that says something the library cannot honour is ECONFIG, and the password is never quoted', () => {
  const cases: [string, RegExp][] = [
    [`http://alice:${ENCODED}@h`, /scheme must be smtp, smtps or lmtp/],
    [`lmtp://alice:${ENCODED}@h`, /LMTP has no standard port/],
    [`smtp://alice:${ENCODED}@h/inbox`, /a path/],
    [`smtp://alice:${ENCODED}@h?secure=true`, /unknown parameter secure=true/],
    [`smtps://alice:${ENCODED}@h?starttls=required`, /unknown parameter starttls=required/],
    [`smtp://alice:${ENCODED}@h?starttls=maybe`, /unknown parameter starttls=maybe/],
    [`smtp://alice:${ENCODED}@h#x`, /a fragment/],
    ['smtp://alice:bad%zzpass@h', /not valid percent-encoding/],
    [`smtp://alice:s3cret pass@h`, /a space or a control character/],
    [`smtp://alice:s3cret/p@ss@`, /./],
  ];
  for (const [url, problem] of cases) {
    assert.throws(
      () => parseServerUrl(url),
      (error: unknown) => {
        assert.ok(error instanceof SmtpProtocolError && error.code === 'ECONFIG', String(error));
        assert.match(error.message, problem);
        assert.deepEqual(leaks(error.message), [], error.message);
        return true;
      },
      url,
    );
  }
  assert.equal(redacted('smtp://alice:p/a@ss@host:25'), 'smtp://alice:***@host:25');
  assert.equal(redacted('smtp://host:25'), 'smtp://host:25');
});

test('a URL and an option that disagree are ECONFIG; agreeing ones, and SMTPSERVER as a URL, are fine', () => {
  assert.throws(
    () => expandServerUrl({ server: `smtp://alice:${ENCODED}@h:587`, port: 25 }),
    (error: unknown) =>
      error instanceof SmtpProtocolError &&
      /sets port, and the port option gives another value/.test(error.message) &&
      leaks(error.message).length === 0,
  );
  assert.throws(() => expandServerUrl({ server: 'smtp://alice@h', user: 'bob' }), /sets user/);
  assert.deepEqual(expandServerUrl({ server: 'smtp://h:587', port: '587' }), {
    server: 'h',
    port: 587,
  });
  assert.deepEqual(expandServerUrl({}, { SMTPSERVER: 'smtps://alice@h' }), {
    server: 'h',
    port: 465,
    streamType: 'ssl',
    user: 'alice',
  });
  assert.deepEqual(expandServerUrl({ port: 26 }, { SMTPSERVER: 'h' }), { port: 26 });
});

async function withAuthServer(secure: boolean, run: (server: RealServer) => Promise<void>): Promise<void> {
  const server = await startRealServer({
    secure,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth: (login, _session, callback) =>
      login.username === 'alice' && login.password === PASSWORD
        ? callback(null, { user: 'alice' })
        : callback(new Error('Invalid username or password')),
  });
  try {
    await run(server);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

test('sendMail and a pool with smtp://user:password@host?starttls=required and smtps://: sent, nothing leaks', async () => {
  for (const secure of [false, true]) {
    await withAuthServer(secure, async (server) => {
      const scheme = secure ? 'smtps' : 'smtp';
      const url = `${scheme}://alice:${ENCODED}@localhost:${server.port}${secure ? '' : '?starttls=required'}`;
      const events: TraceEvent[] = [];
      const base = { tls: { ca: fixture('ca.pem') }, authSources: [], timeouts: SHORT_TIMEOUTS };
      const result = await sendMail(MESSAGE, { ...base, server: url, onTrace: (event) => events.push(event) });
      assert.equal(result.secure, true);
      assert.equal(result.authMechanism !== undefined, true);
      const pool = createPool({ ...base, server: url, onTrace: (event) => events.push(event) });
      await pool.send(MESSAGE);
      await pool.close();
      assert.equal(server.received.length, 2);
      const transcript = events.map(formatTrace).join('\n') + JSON.stringify(events);
      assert.match(transcript, /connecting to localhost port \d+/);
      assert.deepEqual(leaks(transcript), []);

      const wrong = `${scheme}://alice:wrong%20${ENCODED}@localhost:${server.port}`;
      const failure = await sendMail(MESSAGE, { ...base, server: wrong, retries: 1 }).then(
        () => assert.fail('refused credentials'),
        (error: unknown) => error as SmtpProtocolError,
      );
      assert.equal(failure.code, 'EAUTH');
      assert.deepEqual(leaks(`${failure.message} ${failure.hint ?? ''} ${JSON.stringify(failure)}`), []);
    });
  }
});

test('checkServer and the command take a URL too; --dry-run shows its host, never its password', async () => {
  await withAuthServer(false, async (server) => {
    const url = `smtp://alice:${ENCODED}@localhost:${server.port}?starttls=required`;
    const report = await checkServer({ server: url, tls: { ca: fixture('ca.pem') }, authSources: [] });
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(leaks(JSON.stringify(report)), []);
    await withHome(async (_home, env) => {
      const message = 'From: alice@example.org\nTo: bob@example.net\nSubject: cli\n\nhi\n';
      const dry = await runCli(['-t', '--dry-run', '--server', url], message, env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`Server: localhost port ${server.port}`));
      assert.deepEqual(leaks(dry.stdout + dry.stderr), []);
      const withEnv = { ...env, SMTPSERVER: url, NODE_EXTRA_CA_CERTS: CA_FILE };
      const sent = await runCli(['-t', '--debug'], message, withEnv);
      assert.equal(sent.code, 0, sent.stderr);
      assert.deepEqual(leaks(sent.stdout + sent.stderr), []);
      assert.equal(server.received.length, 1);
    });
  });
});

test('lmtp://host:port speaks LMTP: LHLO, and one reply per recipient after the message', async () => {
  const server = await startFakeServer(script`
    S: 220 mda.example.org LMTP
    C: LHLO client.example
    S: 250-mda.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<alice@example.org>
    C: RCPT TO:<bob@example.net>
    C: DATA
    S: 250 2.1.0 OK
    S: 250 2.1.5 OK
    S: 354 go
    C: From: alice@example.org
    C: To: bob@example.net
    C: Subject: url
    C:
    C: hi
    C: .
    S: 250 2.0.0 <bob@example.net> Saved
    C: QUIT
    S: 221 bye
  `);
  try {
    const result = await sendMail(MESSAGE, {
      server: `lmtp://127.0.0.1:${server.port}`,
      clientName: 'client.example',
      authSources: [],
      addMissingHeaders: false,
      timeouts: SHORT_TIMEOUTS,
    });
    assert.deepEqual(result.accepted, ['bob@example.net']);
    const outcome = await server.done;
    assert.equal(outcome.finished, true, outcome.received);
    assert.match(outcome.received, /^LHLO client\.example\r\n/);
  } finally {
    await server.stop();
  }
  await assertNothingLeftOpen();
});

/**
 * Authentication against a real server (npm smtp-server in process): PLAIN,
 * LOGIN and CRAM-MD5 over STARTTLS and implicit TLS, XOAUTH2 with a token and
 * with a token function that refreshes a refused token, wrong passwords failing
 * cleanly, and no secret in any transcript or error. (smtp-server 3.21 has
 * neither SCRAM nor OAUTHBEARER: those are in scram-plus, dovecot and
 * oauth-flow tests.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sendMail,
  SmtpProtocolError,
  type AuthMechanism,
  type PasswordContext,
  type SendOptions,
  type StreamType,
} from '../src/index.js';
import { formatTrace } from '../src/wire/trace.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';

const USER = 'alice';
const PASS = 's3cret pass';
const TOKEN = 'ya29.Zx9-distinctive-token';
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const SECRETS = [
  PASS,
  b64(PASS),
  b64(`\0${USER}\0${PASS}`),
  TOKEN,
  b64(`user=${USER}\x01auth=Bearer ${TOKEN}\x01\x01`),
  'wrong pass',
  b64('wrong pass'),
];

async function withAuthServer(
  secure: boolean,
  run: (server: RealServer, methods: string[]) => Promise<void>,
): Promise<void> {
  const methods: string[] = [];
  const server = await startRealServer({
    secure,
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    onAuth(auth, _session, callback) {
      if (auth.method === 'XOAUTH2') {
        if (auth.username === USER && auth.accessToken === TOKEN) return callback(null, { user: USER });
        return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'https://mail.example.org/' } });
      }
      const ok = auth.method === 'CRAM-MD5' ? auth.validatePassword(PASS) : auth.password === PASS;
      if (auth.username !== USER || !ok) return callback(new Error('Invalid username or password'));
      methods.push(auth.method);
      return callback(null, { user: USER });
    },
  });
  try {
    await run(server, methods);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

function options(
  server: RealServer,
  streamType: StreamType,
  extra: Partial<SendOptions>,
  trace: string[],
): SendOptions {
  return {
    server: 'localhost',
    port: server.port,
    streamType,
    tls: { ca: fixture('ca.pem') },
    envelopeFrom: 'alice@example.org',
    recipients: ['bob@example.net'],
    timeouts: SHORT_TIMEOUTS,
    addMissingHeaders: false,
    authSources: [],
    onTrace: (event) => trace.push(formatTrace(event)),
    ...extra,
  };
}

function assertNoSecrets(texts: readonly (string | undefined)[]): void {
  for (const text of texts) {
    for (const secret of SECRETS) assert.ok(!(text ?? '').includes(secret), `a secret leaked into: ${text}`);
  }
}

for (const streamType of ['starttls', 'ssl'] as const) {
  for (const mechanism of ['PLAIN', 'LOGIN', 'CRAM-MD5'] as const) {
    test(`${mechanism} over ${streamType}: succeeds with the right password, fails cleanly with a wrong one`, async () => {
      await withAuthServer(streamType === 'ssl', async (server, methods) => {
        const trace: string[] = [];
        const ok = await sendMail(
          'Subject: hi\n\nhello\n',
          options(server, streamType, { user: USER, password: PASS, authMechanism: mechanism }, trace),
        );
        assert.equal(ok.authMechanism, mechanism);
        assert.equal(ok.secure, true);
        assert.deepEqual(methods, [mechanism]);
        assert.equal(server.received.length, 1);

        const failed = await sendMail(
          'Subject: hi\n\nhello\n',
          options(server, streamType, { user: USER, password: 'wrong pass', authMechanism: mechanism }, trace),
        ).catch((e: unknown) => e);
        assert.ok(failed instanceof SmtpProtocolError);
        assert.equal(failed.code, 'EAUTH');
        assert.match(failed.message, new RegExp(`^Authentication failed: ${mechanism}: 535 `));
        assert.equal(server.received.length, 1, 'nothing delivered after the failure');
        assertNoSecrets([...trace, failed.message, failed.stack, String(failed), JSON.stringify(failed)]);
      });
    });
  }
}

test('default preference against a server offering all: CRAM-MD5 is chosen', async () => {
  await withAuthServer(false, async (server, methods) => {
    const result = await sendMail('x\n', options(server, 'starttls', { user: USER, password: async () => PASS }, []));
    // Typed as the mechanisms' upper-case names: a `string` here would not compile.
    const used: Uppercase<AuthMechanism> | undefined = result.authMechanism;
    assert.equal(used, 'CRAM-MD5');
    assert.deepEqual(methods, ['CRAM-MD5']);
  });
});

test('XOAUTH2: the token is accepted; a refused token fails with the decoded server error; nothing leaks', async () => {
  await withAuthServer(true, async (server) => {
    const trace: string[] = [];
    const ok = await sendMail(
      'x\n',
      options(server, 'ssl', { user: USER, password: TOKEN, authMechanisms: ['XOAUTH2'] }, trace),
    );
    assert.equal(ok.authMechanism, 'XOAUTH2');
    const failed = await sendMail(
      'x\n',
      options(server, 'ssl', { user: USER, password: 'wrong pass', authMechanisms: ['XOAUTH2'] }, trace),
    ).catch((e: unknown) => e);
    assert.ok(failed instanceof SmtpProtocolError);
    assert.equal(failed.code, 'EAUTH');
    assert.match(failed.message, /XOAUTH2: 535 .*status 401/);
    assertNoSecrets([...trace, failed.message, failed.stack]);
  });
});

test('XOAUTH2 with a token function: a refused token is refreshed once and the new one accepted on the same connection', async () => {
  await withAuthServer(true, async (server) => {
    const trace: string[] = [];
    let connections = 0;
    server.raw.on('connection', () => connections++);
    const attempts: (number | undefined)[] = [];
    const errors: (string | undefined)[] = [];
    const password = async ({ attempt, previousError }: PasswordContext): Promise<string> => {
      attempts.push(attempt);
      errors.push(previousError?.message);
      return attempt === 1 ? 'wrong pass' : TOKEN;
    };
    const ok = await sendMail(
      'x\n',
      options(server, 'ssl', { user: USER, password, authMechanisms: ['XOAUTH2'] }, trace),
    );
    assert.equal(ok.authMechanism, 'XOAUTH2');
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(errors[0], undefined);
    assert.match(errors[1] ?? '', /XOAUTH2: 535 .*status 401/);
    assert.equal(trace.filter((line) => line.startsWith('C: AUTH XOAUTH2')).length, 2, 'two AUTH commands');
    assert.equal(connections, 1, 'on one connection');
    assert.equal(server.received.length, 1);
    assertNoSecrets([...trace]);
  });
});

/**
 * Every option is checked at run time (SPEC §2, issue #14 item 2): a value the
 * library does not know is ECONFIG naming the option, before any connection,
 * at every entry point, never a fallback to a default. The table must cover
 * every option the library knows (OPTION_NAMES).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { checkServer, createPool, sendMail, sendQueuedMail, SmtpClient, SmtpProtocolError } from '../src/index.js';
import { OPTION_NAMES } from '../src/client/validate-options.js';
import { assertNothingLeftOpen } from './helpers/converse.js';

const ED25519_PEM = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

/** Bad values for every option: each must be refused, naming the option. */
const BAD: Readonly<Record<string, readonly unknown[]>> = {
  server: ['', 42],
  port: [0, 65536, -1, 25.5, 'smtpss', '99999', '25 ', null],
  streamType: ['STARTTLS', 'required', 'ssl ', 'none', true],
  lmtp: ['yes', 1],
  path: ['', 5, 'a\0b'],
  tls: ['verify', { ca: 1 }, { rejectUnauthorised: false }, { minVersion: 'TLSv1' }, { rejectUnauthorized: 'no' }],
  timeouts: [5000, { connect: -1 }, { total: -5 }, { greting: 1000 }, { command: Infinity }, { dataEnd: 0 }],
  clientName: ['', 7],
  localDomain: [1],
  verb: ['yes'],
  onTrace: ['console', {}],
  traceData: [1],
  user: [1],
  password: [1, {}],
  authSources: ['~/.authinfo', [1]],
  authMechanisms: [['PLAIN', 'SCRAM-MD5'], [], 'PLAIN'],
  authMechanism: ['plain2', 1],
  allowInsecureAuth: ['true'],
  serversRequiringAuthorization: ['mail.example.org'],
  promptCredentials: [{}],
  serviceAliases: [1],
  caseInsensitiveHosts: ['no'],
  retries: [0, -1, 2.5, '3'],
  retryDelay: [-1, NaN],
  retryBackoff: [0.5, -2],
  envelopeFrom: [1],
  recipients: ['b@example.net', [1]],
  userMailAddress: [1],
  userFullName: [1],
  sendtoDomain: [''],
  mailDomain: ['', 3],
  addMissingHeaders: ['no'],
  partial: [1],
  signal: [{ aborted: false }],
  chunking: ['auto'],
  noopAfterIdle: [-1],
  sendmailProgram: [''],
  queueMail: ['yes'],
  queueOnTransientFailure: [1],
  honorFcc: ['yes'],
  queueDir: [''],
  queueIndexFile: [''],
  storeQueueVariables: [1],
  portableNames: [1],
  continueOnError: [1],
  queuedOptions: [{ server: 'x' }],
  onMessage: ['log'],
  onProgress: [true],
  dsn: [
    'FULL',
    {},
    { ret: 'NONE' },
    { ret: 'hdrs' },
    { notify: ['NEVER', 'DELAY'] },
    { notify: [] },
    { envid: 'x'.repeat(101) },
  ],
  requireTls: ['yes', 1],
  maxConnections: [0],
  maxMessagesPerConnection: [-1, 1.5],
  idleTimeout: [0],
  proxy: ['ftp://proxy', 'socks5://', 3],
  connect: ['127.0.0.1'],
  localAddress: ['here', 127001],
  family: [5, '4'],
  rateLimit: [{ messages: 0, perMs: 1000 }, { messages: 5 }, { messages: 5, perMs: 1000, burst: 2 }, 10],
  tryAlternatives: [1],
  checkRecipient: [''],
  dkim: [
    'example.org',
    [],
    { domainName: 'example.org', keySelector: 'sel' },
    { domainName: 'ex ample.org', keySelector: 'sel', privateKey: ED25519_PEM },
    { domainName: 'example.org', keySelector: 'sel', privateKey: 'not a key' },
    [{ domainName: 'example.org', keySelector: 'sel', privateKey: ED25519_PEM, algorithm: 'rsa-sha256' }],
  ],
};

const MESSAGE = 'From: a@example.org\r\nTo: b@example.net\r\n\r\nhi\r\n';

/** A listener that counts connections: a refused option must not reach it. */
async function withCountingServer(run: (port: number, connections: () => number) => Promise<void>): Promise<void> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as net.AddressInfo).port, () => count);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  await assertNothingLeftOpen();
}

function assertNamesOption(error: unknown, name: string): true {
  assert.ok(error instanceof SmtpProtocolError, `expected SmtpProtocolError, got ${String(error)}`);
  assert.equal(error.code, 'ECONFIG');
  assert.match(error.message, new RegExp(`\\b${name}\\b`), error.message);
  return true;
}

test('the table covers every option the library knows', () => {
  assert.deepEqual(Object.keys(BAD).sort(), [...OPTION_NAMES].sort());
});

test('a bad value of any option is ECONFIG naming it, from every entry point, before any connection', async () => {
  await withCountingServer(async (port, connections) => {
    const queueDir = path.join(os.tmpdir(), `smtpmail-never-created-${process.pid}`);
    for (const [name, values] of Object.entries(BAD)) {
      for (const value of values) {
        const options = { server: '127.0.0.1', port, authSources: [], queueDir, [name]: value } as never;
        const label = `${name}: ${String(JSON.stringify(value))}`;
        await assert.rejects(sendMail(MESSAGE, options), (e) => assertNamesOption(e, name), `sendMail ${label}`);
        assert.throws(
          () => new SmtpClient(options),
          (e) => assertNamesOption(e, name),
          `SmtpClient ${label}`,
        );
        assert.throws(
          () => createPool(options),
          (e) => assertNamesOption(e, name),
          `createPool ${label}`,
        );
        await assert.rejects(checkServer(options), (e) => assertNamesOption(e, name), `checkServer ${label}`);
        await assert.rejects(sendQueuedMail(options), (e) => assertNamesOption(e, name), `sendQueuedMail ${label}`);
      }
    }
    assert.equal(connections(), 0);
  });
});

test('the allowed values are named in the error', async () => {
  await assert.rejects(
    sendMail(MESSAGE, { server: '127.0.0.1', streamType: 'STARTTLS' as never }),
    (error: SmtpProtocolError) => {
      assert.match(error.message, /streamType/);
      assert.match(error.message, /'plain', 'starttls', 'ssl', 'tls'/);
      return true;
    },
  );
  assert.throws(
    () => new SmtpClient({ server: 'x', authMechanisms: ['PLAIN', 'SCRAM-MD5'] as never }),
    /CRAM-MD5, PLAIN, LOGIN, XOAUTH2/,
  );
});

test('an option name the library does not know is refused, with the name it has for it', () => {
  assert.throws(
    () => new SmtpClient({ server: 'x', host: 'mail.example.org' } as never),
    (error: SmtpProtocolError) => {
      assert.equal(error.code, 'ECONFIG');
      assert.match(error.message, /unknown option "host" \(this library calls it server\)/);
      return true;
    },
  );
  assert.throws(() => new SmtpClient({ server: 'x', streamtype: 'ssl' } as never), /unknown option "streamtype"/);
});

test('per-message options take only what may change per message', async () => {
  await withCountingServer(async (port, connections) => {
    const client = new SmtpClient({ server: '127.0.0.1', port, authSources: [] });
    await assert.rejects(
      client.send(MESSAGE, { server: 'elsewhere.example' } as never),
      /option server cannot change per message/,
    );
    await assert.rejects(client.send(MESSAGE, { partial: 'yes' } as never), (e) => assertNamesOption(e, 'partial'));
    await client.quit();
    assert.equal(connections(), 0);
  });
});

test('good values are accepted: service names in any case, numeric strings, total 0', () => {
  for (const port of ['smtp', 'submission', 'SMTPS', 'submissions', '587', 2525]) {
    assert.doesNotThrow(() => new SmtpClient({ server: 'x', port }), `port ${String(port)}`);
  }
  assert.doesNotThrow(
    () =>
      new SmtpClient({
        server: 'x',
        timeouts: { total: 0, connect: 1000 },
        authMechanisms: ['plain', 'XOAUTH2'],
        retryDelay: 0,
      }),
  );
});

test("README's options table names every option the library knows", () => {
  const readme = fs.readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const table = readme.slice(
    readme.indexOf("\n## Options, from smtpmail's variables\n"),
    readme.indexOf('\n## The result\n'),
  );
  assert.ok(table.length > 100, 'README has the options section before "The result"');
  assert.deepEqual(
    OPTION_NAMES.filter((name) => !table.includes(`\`${name}\``)),
    [],
  );
});

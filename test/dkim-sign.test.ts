/**
 * DKIM signing without a verifier (src/message/dkim-options.ts, dkim-signature.ts, src/client/dkim-sign.ts): every
 * problem with the `dkim` option is ECONFIG naming the entry and never showing the key; the fields signed (the default
 * list, each occurrence, From, Reply-To, To, Cc and Subject once more; headerFieldNames, skipFields); the field's
 * folding; a message without From refused before its stream is read; a streamed body spooled to a private file that is
 * removed, also when the deadline stops a stalled stream; a signed message not signed again.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { sendMail, SmtpClient, SmtpProtocolError, type DkimOptions } from '../src/index.js';
import { signMessage } from '../src/client/dkim-sign.js';
import { resolveDkim } from '../src/message/dkim-options.js';
import { signableHead, signatureFields } from '../src/message/dkim-signature.js';
import { prepareBytes } from '../src/message/prepare.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const ED_PEM = ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const RSA_PEM = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const SIGNER: DkimOptions = { domainName: 'example.org', keySelector: 'sel', privateKey: ED_PEM };

/** A line from the middle of each PEM key: no error may show it. */
const SECRETS = [ED_PEM, RSA_PEM].map((pem) => pem.split('\n')[1] as string);

const base = (server: RealServer) => ({
  server: 'localhost',
  port: server.port,
  tls: { ca: fixture('ca.pem') },
  timeouts: SHORT_TIMEOUTS,
  authSources: [],
});

test('every problem with the dkim option is ECONFIG naming the entry, and the key is never shown', () => {
  const cases: [unknown, RegExp][] = [
    ['example.org', /dkim must be an object with domainName, keySelector and privateKey/],
    [[], /or a non-empty array of them/],
    [{ domainName: 'example.org', keySelector: 'sel' }, /dkim\.privateKey must be a PEM string or a KeyObject/],
    [{ ...SIGNER, domainName: 'ex ample.org' }, /dkim\.domainName must be a DNS name .*"ex ample\.org"/],
    [{ ...SIGNER, domainName: '-x.example.org' }, /dkim\.domainName must be a DNS name/],
    [{ ...SIGNER, domainName: 'ex\u00e4mple.org' }, /dkim\.domainName must be ASCII .*url\.domainToASCII/],
    [{ ...SIGNER, keySelector: 'a_b' }, /dkim\.keySelector must be a DNS name/],
    [{ ...SIGNER, keySelector: 'a'.repeat(63) + '.b'.repeat(95) }, /DNS name .* is longer than 253/],
    [{ ...SIGNER, selector: 'sel' }, /dkim has "selector", which is none of these/],
    [{ ...SIGNER, privateKey: 42 }, /dkim\.privateKey must be a PEM string or a KeyObject, not 42/],
    [{ ...SIGNER, privateKey: 'garbage' }, /dkim\.privateKey could not be read as a PEM private key/],
    [{ ...SIGNER, privateKey: ED_PEM.replace(/\n/g, '\\n') }, /its line breaks are the two characters \\n/],
    [
      {
        ...SIGNER,
        privateKey: ed.privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' }),
      },
      /dkim\.privateKey is an encrypted key: give crypto\.createPrivateKey\(\{ key, passphrase \}\)/,
    ],
    [{ ...SIGNER, privateKey: ed.publicKey.export({ format: 'pem', type: 'spki' }) }, /could not be read/],
    [{ ...SIGNER, privateKey: ed.publicKey }, /dkim\.privateKey must be a private key, not a public key/],
    [
      { ...SIGNER, privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey },
      /must be an RSA or Ed25519 key, not an ec key/,
    ],
    [
      { ...SIGNER, privateKey: generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey },
      /an RSA key of 512 bits: DKIM needs 1024 at least \(RFC 8301\)/,
    ],
    [
      { ...SIGNER, privateKey: RSA_PEM, algorithm: 'ed25519-sha256' },
      /dkim\.algorithm 'ed25519-sha256' does not fit the key: an RSA key \('rsa-sha256'\)/,
    ],
    [{ ...SIGNER, algorithm: 'rsa-sha256' }, /does not fit the key: an Ed25519 key \('ed25519-sha256'\)/],
    [{ ...SIGNER, algorithm: 'rsa-sha1' }, /dkim\.algorithm must be one of 'rsa-sha256', 'ed25519-sha256'/],
    [{ ...SIGNER, canonicalization: 'relaxed' }, /dkim\.canonicalization must be one of 'relaxed\/relaxed'/],
    [{ ...SIGNER, headerFieldNames: ['To', 'Subject'] }, /dkim\.headerFieldNames must include From/],
    [{ ...SIGNER, skipFields: ['FROM'] }, /dkim\.skipFields cannot hold From/],
    [{ ...SIGNER, headerFieldNames: ['From', 'Sub ject'] }, /headerFieldNames must be an array of header field names/],
    [[SIGNER, { ...SIGNER, keySelector: '' }], /dkim\[1\]\.keySelector must be a DNS name/],
  ];
  for (const [dkim, message] of cases) {
    assert.throws(
      () => new SmtpClient({ server: 'mail.example.org', dkim: dkim as DkimOptions }),
      (error: SmtpProtocolError) => {
        assert.equal(error.code, 'ECONFIG');
        assert.match(error.message, /^invalid option dkim: /);
        assert.match(error.message, message);
        for (const secret of SECRETS) assert.ok(!error.message.includes(secret), 'the key is not shown');
        assert.doesNotMatch(error.message, /PRIVATE KEY/);
        return true;
      },
      String(message),
    );
  }
});

test('per message too: a bad dkim given to send() is ECONFIG before anything is sent', async () => {
  const client = new SmtpClient({ server: '127.0.0.1', port: 9, authSources: [] });
  await assert.rejects(
    client.send('From: a@example.org\nTo: b@example.net\n\nx\n', { dkim: { ...SIGNER, keySelector: '_' } }),
    {
      code: 'ECONFIG',
      message: /dkim\.keySelector must be a DNS name/,
    },
  );
});

/** The DKIM-Signature fields made for `message` (prepared as sendMail prepares it), at time 1700000000. */
function fieldsFor(message: string, dkim: DkimOptions | DkimOptions[]): string {
  const resolved = resolveDkim(dkim);
  assert.ok('signers' in resolved);
  const prepared = prepareBytes(message, {});
  const hashes = new Map(['simple', 'relaxed'].map((kind) => [kind as 'simple', Buffer.alloc(32)]));
  return signatureFields(signableHead(prepared.head), resolved.signers, hashes, 1_700_000_000).toString('latin1');
}

/** The h= names of each field. */
function signedNames(fields: string): string[][] {
  return [...fields.matchAll(/\bh=([^;]*);/g)].map((match) => match[1]!.replace(/\s/g, '').split(':'));
}

test('signed fields: the default list as present, each occurrence, From/Reply-To/To/Cc/Subject once more', () => {
  const message =
    'Received: from elsewhere\nFrom: a@example.org\nTo: b@example.net\nTo: c@example.net\nBcc: d@example.net\n' +
    'Subject: s\nX-Mailer: m\nList-Unsubscribe: <mailto:u@example.org>\nMIME-Version: 1.0\n\nBody.\n';
  const [names] = signedNames(fieldsFor(message, SIGNER));
  assert.deepEqual(names, [
    'from',
    'to',
    'to',
    'subject',
    'list-unsubscribe',
    'mime-version',
    'date', // added by the library
    'message-id', // added by the library
    'from',
    'reply-to',
    'to',
    'cc',
    'subject',
  ]);
  const [chosen, skipping] = signedNames(
    fieldsFor(message, [
      { ...SIGNER, headerFieldNames: ['From', 'X-Mailer', 'Received'] },
      { ...SIGNER, skipFields: ['To', 'Reply-To', 'Date'] },
    ]),
  );
  assert.deepEqual(chosen, ['received', 'from', 'x-mailer', 'from']);
  assert.deepEqual(skipping, [
    'from',
    'subject',
    'list-unsubscribe',
    'mime-version',
    'message-id',
    'from',
    'cc',
    'subject',
  ]);
});

test('the DKIM-Signature field: its tags, folded within 76 columns, b= last; several on top in the order given', () => {
  const fields = fieldsFor('From: a@example.org\nTo: b@example.net\n\nx\n', [
    { ...SIGNER, privateKey: RSA_PEM, canonicalization: 'simple/relaxed' },
    SIGNER,
  ]);
  const lines = fields.split('\r\n');
  assert.equal(lines.pop(), '', 'ends with CRLF');
  for (const line of lines) assert.ok(line.length <= 76, `${line.length}: ${line}`);
  const starts = lines.flatMap((line, i) => (line.startsWith('DKIM-Signature: ') ? [i] : []));
  assert.equal(starts.length, 2);
  for (const line of lines) assert.ok(line.startsWith('DKIM-Signature: ') || line.startsWith(' '), line);
  const [rsaField, edField] = fields.split(/\r\n(?=DKIM-Signature)/).map((field) => field.replace(/\r\n /g, ' '));
  assert.match(
    rsaField!,
    /^DKIM-Signature: v=1; a=rsa-sha256; c=simple\/relaxed; d=example\.org; s=sel; t=1700000000; h=[a-z:-]+; bh=[A-Za-z0-9+/=]+; b=[A-Za-z0-9+/= ]+$/,
  );
  assert.match(edField!, /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; .*; b=[A-Za-z0-9+/= ]{88,}/);
  assert.doesNotMatch(fields, /\bl=|\bx=|\bi=/, 'no body length, expiry or identity');
});

test('no From: EINPUT before connecting, and a streamed body is not read', async () => {
  await withRealServer({}, async (server) => {
    let bodyRead = false;
    const stream = Readable.from(
      (function* message() {
        yield Buffer.from('To: b@example.net\nSubject: no sender field\n\n');
        bodyRead = true;
        yield Buffer.from('body\n');
      })(),
    );
    await assert.rejects(sendMail(stream, { ...base(server), envelopeFrom: 'a@example.org', dkim: SIGNER }), {
      code: 'EINPUT',
      message: /DKIM signing needs a From field \(RFC 6376 §5\.4\)/,
    });
    assert.equal(bodyRead, false);
    assert.equal(server.mailCommands, 0);
  });
});

/** TMPDIR set to a fresh directory for the test (the spool goes there). */
async function privateTmp(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-dkim-test-'));
  const saved = process.env['TMPDIR'];
  process.env['TMPDIR'] = dir;
  t.after(async () => {
    if (saved === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = saved;
    await fs.rm(dir, { recursive: true, force: true });
  });
  return dir;
}

const HEAD = 'From: a@example.org\nTo: b@example.net\nSubject: stream\n\n';

test('a streamed body past 1 MiB is spooled to a private file (0600 in a 0700 directory), removed after', async (t) => {
  const tmp = await privateTmp(t);
  await withRealServer({ size: 64 * 1024 * 1024 }, async (server) => {
    const modes: number[] = [];
    const chunk = Buffer.from('line of text\n'.repeat(50_000));
    await sendMail(Readable.from([HEAD, chunk, chunk]), {
      ...base(server),
      dkim: SIGNER,
      onProgress: () => {
        if (modes.length > 0) return;
        const [dir] = readdirSync(tmp);
        modes.push(statSync(path.join(tmp, dir!)).mode & 0o777, statSync(path.join(tmp, dir!, 'body')).mode & 0o777);
      },
    });
    assert.deepEqual(modes, [0o700, 0o600]);
    assert.equal(Number(server.received[0]!.size), server.received[0]!.data.length, 'SIZE= measured while spooled');
    assert.ok(server.received[0]!.data.toString('latin1').endsWith(`${'line of text\r\n'.repeat(100_000)}`));
  });
  assert.deepEqual(readdirSync(tmp), []);
});

test('a stalled stream: the deadline stops the spooling (ETIMEOUT), the file is removed, nothing is sent', async (t) => {
  const tmp = await privateTmp(t);
  await withRealServer({}, async (server) => {
    const stalled = new Readable({ read() {} });
    stalled.push(HEAD);
    stalled.push(Buffer.alloc(2 * 1024 * 1024, 'x'));
    await assert.rejects(
      sendMail(stalled, { ...base(server), timeouts: { ...SHORT_TIMEOUTS, total: 500 }, dkim: SIGNER }),
      { code: 'ETIMEOUT' },
    );
    assert.equal(server.mailCommands, 0);
  });
  assert.deepEqual(readdirSync(tmp), []);
});

test('a NUL in a streamed body is EINPUT before connecting', async (t) => {
  await privateTmp(t);
  await withRealServer({}, async (server) => {
    await assert.rejects(sendMail(Readable.from([HEAD, 'a\0b\n']), { ...base(server), dkim: SIGNER }), {
      code: 'EINPUT',
      message: /NUL byte \(offset 1 of its body\)/,
    });
    assert.equal(server.mailCommands, 0);
  });
});

test('a message is signed once: signing a signed message again does nothing', async () => {
  const prepared = prepareBytes('From: a@example.org\nTo: b@example.net\n\nx\n', {});
  const signing = await signMessage(prepared, SIGNER, undefined);
  assert.ok(signing !== undefined);
  assert.equal(signing.unsigned, prepared, 'a message in memory is its own unsigned copy');
  assert.match(signing.signed.head.toString(), /^DKIM-Signature: /);
  assert.ok(signing.signed.head.subarray(-prepared.head.length).equals(prepared.head), 'the head, after the field');
  assert.equal(await signMessage(signing.signed, SIGNER, undefined), undefined);
  assert.equal(await signMessage(prepared, undefined, undefined), undefined);
});

/**
 * DKIM signatures checked by an independent verifier: dkimpy (Debian's python3-dkim), its DNS lookups answered with
 * the public keys made here, on the exact bytes a real server (npm smtp-server in process) received. RSA 2048 and
 * Ed25519 (RFC 8463), every canonicalization, both algorithms on one message, LF and CR line ends, an 8-bit UTF-8 body,
 * non-ASCII headers the library encodes, a Bcc removed, a streamed 5 MB message (spooled to a file), a small stream,
 * SmtpClient with a signature per message, a pool, a sendmail program, and the offline queue (signed when flushed).
 * Skipped, with the reason printed, when no Python has dkimpy.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  createPool,
  sendMail,
  sendQueuedMail,
  SmtpClient,
  type ClientOptions,
  type DkimOptions,
} from '../src/index.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { dkimpyPython, keyRecord, NO_DKIMPY, verifyWithDkimpy, type Verdict } from './helpers/dkim-verifier.js';
import { fixture } from './helpers/fake-server.js';
import { withQueueDir } from './helpers/queue-dir.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';
import { freePort } from './helpers/ports.js';

const python = dkimpyPython();
const skip = python === undefined ? NO_DKIMPY : false;
if (python === undefined) console.log(`# dkim-verify.test: skipped: ${NO_DKIMPY}`);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const RECORDS = {
  'rsa._domainkey.example.org': keyRecord(rsa.publicKey),
  'ed._domainkey.example.org': keyRecord(ed.publicKey),
  'news._domainkey.example.net': keyRecord(other.publicKey),
};
const RSA_PEM = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const ED_PEM = ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const RSA_SIGNER: DkimOptions = { domainName: 'example.org', keySelector: 'rsa', privateKey: RSA_PEM };
const ED_SIGNER: DkimOptions = { domainName: 'example.org', keySelector: 'ed', privateKey: ED_PEM };
const CANONICALIZATIONS = ['relaxed/relaxed', 'simple/simple', 'relaxed/simple', 'simple/relaxed'] as const;

const base = (server: RealServer): ClientOptions => ({
  server: 'localhost',
  port: server.port,
  tls: { ca: fixture('ca.pem') },
  timeouts: SHORT_TIMEOUTS,
  authSources: [],
});

/** dkimpy's verdicts on each message's signatures. */
async function verify(...messages: Buffer[]): Promise<Verdict[][]> {
  return (await verifyWithDkimpy(python as string, messages, RECORDS)).results;
}

/** Every message has `count` signatures and each verifies; returns the verdicts, message by message. */
async function assertVerifies(messages: readonly Buffer[], count: number): Promise<Verdict[][]> {
  const all = await verify(...messages);
  for (const results of all) {
    assert.equal(results.length, count, JSON.stringify(results));
    for (const result of results) assert.ok(result.ok, JSON.stringify(result));
  }
  return all;
}

/** The signed fields of a verdict, as a list. */
const signed = (verdict: Verdict): string[] => (verdict.h ?? '').split(/\s*:\s*/);

/** A message with what canonicalization must cope with: LF line ends, folding, WSP runs, a bare CR, empty lines. */
const TRICKY =
  'From: \u00c9lise Dupr\u00e9 <elise@example.org>\n' +
  'To: Bob <bob@example.net>\n' +
  'Bcc: hidden@example.com\n' +
  'Subject:   Caf\u00e9   au  lait,\n' +
  '\tfolded \t twice  \n' +
  'X-Unsigned: not in the list\n' +
  '\n' +
  '  Body  with \t runs of WSP  \n' +
  '.a line with a leading dot\n' +
  'a bare CR\rthen text\r\n' +
  'UTF-8: \u00e9t\u00e9 \u2615\n' +
  '\n\n\n';

test('RSA 2048 and Ed25519 under every canonicalization, eight signatures on one message, all verify', { skip }, () =>
  withRealServer({}, async (server) => {
    const dkim = CANONICALIZATIONS.flatMap((canonicalization) => [
      { ...RSA_SIGNER, canonicalization },
      { ...ED_SIGNER, canonicalization },
    ]);
    await sendMail(TRICKY, { ...base(server), dkim });
    const data = server.received[0]!.data;
    const text = data.toString('latin1');
    assert.doesNotMatch(text, /^Bcc:/im, 'Bcc removed');
    assert.match(text, /^Subject: +=\?utf-8\?/im, 'the Subject went out RFC 2047 encoded');
    assert.match(text, /^From: =\?utf-8\?/im, 'the From name went out RFC 2047 encoded');
    const [results = []] = await assertVerifies([data], 8);
    assert.deepEqual(
      results.map((r) => `${r.a} ${r.c}`),
      CANONICALIZATIONS.flatMap((c) => [`rsa-sha256 ${c}`, `ed25519-sha256 ${c}`]),
    );
    for (const result of results) {
      const names = signed(result);
      assert.deepEqual(
        names.filter((name) => name === 'from'),
        ['from', 'from'],
        'From oversigned',
      );
      assert.ok(!names.includes('bcc') && !names.includes('x-unsigned'), result.h ?? '');
      for (const name of ['to', 'subject', 'date', 'message-id', 'reply-to', 'cc'])
        assert.ok(names.includes(name), name);
    }

    // Any change breaks them: a body byte, a signed header, an added From.
    const tampered = [
      Buffer.from(text.replace('runs of WSP', 'runs of wsp'), 'latin1'),
      Buffer.from(text.replace(/^To: Bob/m, 'To: Eve'), 'latin1'),
      Buffer.from(text.replace(/^From:/m, 'From: mallory@example.com\r\nFrom:'), 'latin1'),
    ];
    for (const results of await verify(...tampered)) {
      assert.equal(results.length, 8);
      for (const result of results) assert.equal(result.ok, false, JSON.stringify(result));
    }
  }),
);

test(
  'one signature each: the algorithm follows the key (PKCS#8 PEM for both, PKCS#1 PEM and a KeyObject for RSA)',
  { skip },
  () =>
    withRealServer({}, async (server) => {
      const message = 'From: a@example.org\nTo: b@example.net\nSubject: one\n\nHello.\n';
      const pkcs1 = rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
      assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
      const signers: [DkimOptions, string][] = [
        [RSA_SIGNER, 'rsa-sha256'],
        [ED_SIGNER, 'ed25519-sha256'],
        [{ ...RSA_SIGNER, privateKey: pkcs1 }, 'rsa-sha256'],
        [{ ...RSA_SIGNER, privateKey: rsa.privateKey, algorithm: 'rsa-sha256' }, 'rsa-sha256'],
        [{ ...ED_SIGNER, privateKey: ed.privateKey }, 'ed25519-sha256'],
      ];
      for (const [dkim] of signers) await sendMail(message, { ...base(server), dkim });
      const verdicts = await assertVerifies(
        server.received.map((got) => got.data),
        1,
      );
      assert.deepEqual(
        verdicts.map(([result]) => `${result!.a} ${result!.c}`),
        signers.map(([, algorithm]) => `${algorithm} relaxed/relaxed`),
        'the algorithm of the key, and the default canonicalization',
      );
    }),
);

test('an 8-bit UTF-8 body with CRLF line ends, and headerFieldNames / skipFields chosen', { skip }, () =>
  withRealServer({}, async (server) => {
    const message =
      'From: a@example.org\r\nTo: b@example.net\r\nSubject: \u00e9t\u00e9\r\nX-Campaign: 7\r\n\r\n' +
      'Gr\u00fc\u00dfe, \u65e5\u672c\u8a9e \u2615\r\n';
    const dkim = [
      { ...RSA_SIGNER, headerFieldNames: ['From', 'X-Campaign', 'Subject'] },
      { ...ED_SIGNER, skipFields: ['subject', 'message-id'] },
    ];
    await sendMail(message, { ...base(server), dkim });
    const got = server.received[0]!;
    assert.equal(got.body, '8BITMIME');
    assert.match(got.data.toString('utf8'), /Content-Transfer-Encoding: 8bit/, 'the MIME fields the library adds');
    const [[chosen, skipping] = []] = await assertVerifies([got.data], 2);
    assert.deepEqual(signed(chosen!), ['from', 'subject', 'x-campaign', 'from', 'subject']);
    assert.ok(!signed(skipping!).includes('subject') && !signed(skipping!).includes('message-id'));
    assert.ok(signed(skipping!).includes('content-type'));
  }),
);

test('a message with CR line ends (old Mac files), in memory and streamed: signed as the wire has it', { skip }, () =>
  withRealServer({}, async (server) => {
    const message = 'From: a@example.org\rTo: b@example.net\rSubject: cr\r\rLine one  \rLine two\r\r';
    await sendMail(message, { ...base(server), dkim: RSA_SIGNER });
    await sendMail(Readable.from([message.slice(0, 30), message.slice(30)]), { ...base(server), dkim: ED_SIGNER });
    const data = server.received.map((got) => got.data);
    for (const got of data) assert.match(got.toString('latin1'), /\r\n\r\nLine one  \r\nLine two\r\n/);
    await assertVerifies(data, 1);
  }),
);

/**
 * A message of about `size` bytes of body, in 64 KiB chunks: LF line ends, 8-bit text, WSP runs, dot lines, empty
 * lines at the end (held here, by the test; the library reads it as a stream).
 */
function bigMessage(size: number): Buffer[] {
  const line = 'Stre\u00e4med  line with\t WSP runs and text to fill it up to some length.\n.dotted\n\n';
  const block = Buffer.from(line.repeat(Math.ceil(65536 / Buffer.byteLength(line))), 'utf8');
  const chunks = [Buffer.from('From: a@example.org\nTo: b@example.net\nSubject: big\n\n')];
  for (let left = size; left > 0; left -= block.length) chunks.push(block.subarray(0, Math.min(left, block.length)));
  chunks.push(Buffer.from('\n\n\n'));
  return chunks;
}

/** TMPDIR set to a fresh directory for the test: the spool file goes there, and must be gone after. */
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

test(
  'a streamed 5 MB message: spooled to a file while hashed, sent with SIZE=, verifies; the file is removed',
  { skip },
  async (t) => {
    const tmp = await privateTmp(t);
    await withRealServer({ size: 64 * 1024 * 1024 }, async (server) => {
      const seen: string[] = [];
      await sendMail(Readable.from(bigMessage(5 * 1024 * 1024)), {
        ...base(server),
        dkim: [RSA_SIGNER, { ...ED_SIGNER, canonicalization: 'simple/simple' }],
        onProgress: () => {
          if (seen.length === 0) seen.push(...readdirSync(tmp));
        },
      });
      const got = server.received[0]!;
      assert.ok(got.data.length > 5 * 1024 * 1024);
      assert.equal(got.size, String(got.data.length), 'SIZE= is the measured size of what was sent');
      await assertVerifies([got.data], 2);
      assert.equal(seen.length, 1, 'a spool directory existed while sending');
      assert.match(seen[0]!, /^smtpmail-dkim-/);
      assert.deepEqual(await fs.readdir(tmp), [], 'and is gone');
    });
  },
);

test('a small stream is read into memory (no file) and verifies', { skip }, async (t) => {
  const tmp = await privateTmp(t);
  await withRealServer({}, async (server) => {
    const message = Readable.from(['From: a@example.org\nTo: b@example.net\nSubject: s\n\n', 'small \t body\n']);
    await sendMail(message, {
      ...base(server),
      dkim: ED_SIGNER,
      onProgress: () => assert.deepEqual(readdirSync(tmp), []),
    });
    await assertVerifies([server.received[0]!.data], 1);
  });
});

test('SmtpClient: a signature per message (another domain for one), and a pool', { skip }, () =>
  withRealServer({}, async (server) => {
    const client = new SmtpClient({ ...base(server), dkim: RSA_SIGNER });
    try {
      await client.send('From: a@example.org\nTo: b@example.net\nSubject: 1\n\nOne.\n');
      await client.send('From: news@example.net\nTo: b@example.net\nSubject: 2\n\nTwo.\n', {
        dkim: { domainName: 'example.net', keySelector: 'news', privateKey: other.privateKey },
      });
      await client.send('From: a@example.org\nTo: b@example.net\nSubject: 3\n\nThree.\n', { dkim: undefined });
    } finally {
      await client.quit();
    }
    const pool = createPool({ ...base(server), dkim: ED_SIGNER, maxConnections: 2 });
    await Promise.all(
      [4, 5, 6].map((i) => pool.send(`From: a@example.org\nTo: b@example.net\nSubject: ${i}\n\nPooled ${i}.\n`)),
    );
    await pool.close();
    const [one, two, three, ...pooled] = server.received.map((got) => got.data);
    const [[first] = [], [second] = []] = await assertVerifies([one!, two!], 1);
    assert.equal(first!.s, 'rsa');
    assert.equal(second!.d, 'example.net');
    assert.doesNotMatch(three!.toString(), /DKIM-Signature/, 'dkim: undefined per message: unsigned');
    for (const [result] of await assertVerifies(pooled, 1)) assert.equal(result!.s, 'ed');
  }),
);

test(
  'X-Message-SMTP-Method sendmail: what the program gets verifies (CRLF made as an MTA makes it)',
  { skip },
  async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-dkim-sendmail-'));
    t.after(() => fs.rm(dir, { recursive: true, force: true }));
    const program = path.join(dir, 'sendmail');
    await fs.writeFile(program, `#!/bin/sh\ncat > "${dir}/message"\n`, { mode: 0o755 });
    const message =
      'X-Message-SMTP-Method: sendmail\nFrom: a@example.org\nTo: b@example.net\nBcc: c@example.com\n\nHi.\n';
    await sendMail(message, { sendmailProgram: program, authSources: [], dkim: ED_SIGNER });
    const got = await fs.readFile(path.join(dir, 'message'), 'latin1');
    assert.match(got, /^DKIM-Signature: /);
    assert.match(got, /^Bcc: c@example.com/m, 'Bcc kept for sendmail -t, which removes it');
    const delivered = got.replace(/^Bcc: .*\n/m, '').replace(/\r?\n/g, '\r\n');
    await assertVerifies([Buffer.from(delivered, 'latin1')], 1);
  },
);

test('the offline queue keeps messages unsigned; sendQueuedMail signs them when it sends', { skip }, () =>
  withQueueDir((queueDir) =>
    withRealServer({}, async (server) => {
      const queued = await sendMail('From: a@example.org\nTo: b@example.net\nSubject: q\n\nQueued.\n', {
        ...base(server),
        queueDir,
        queueMail: true,
        dkim: RSA_SIGNER,
      });
      assert.doesNotMatch(await fs.readFile(queued.path, 'utf8'), /DKIM-Signature/);
      const report = await sendQueuedMail({ ...base(server), queueDir, dkim: RSA_SIGNER });
      assert.equal(report.sent.length, 1);
      await assertVerifies([server.received[0]!.data], 1);
    }),
  ),
);

test(
  'queueOnTransientFailure with a stream: the whole message is queued unsigned, then signed when flushed',
  { skip },
  async (t) => {
    await privateTmp(t);
    await withQueueDir(async (queueDir) => {
      const closed = await freePort(); // nobody listens there
      const chunks = bigMessage(2 * 1024 * 1024);
      const outcome = await sendMail(Readable.from(chunks), {
        server: '127.0.0.1',
        port: closed,
        authSources: [],
        timeouts: SHORT_TIMEOUTS,
        queueDir,
        queueOnTransientFailure: true,
        dkim: ED_SIGNER,
      });
      assert.ok('queued' in outcome, 'queued');
      const kept = await fs.readFile(outcome.path);
      assert.doesNotMatch(kept.toString('latin1'), /DKIM-Signature/);
      const body = Buffer.concat(chunks.slice(1));
      assert.ok(kept.subarray(-body.length).equals(body), 'the whole body, to its last line');
      await withRealServer({}, async (server) => {
        const report = await sendQueuedMail({ ...base(server), queueDir, dkim: ED_SIGNER });
        assert.equal(report.sent.length, 1);
        await assertVerifies([server.received[0]!.data], 1);
      });
    });
  },
);

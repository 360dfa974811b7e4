/**
 * DKIM signatures survive delivery through a real MTA: Exim (helpers/exim.ts) on a loopback port, over STARTTLS,
 * delivering to files; dkimpy verifies what Exim wrote. By BDAT (Exim offers CHUNKING and PIPELINING) and by DATA,
 * a message in memory and a streamed 2 MB one, RSA and Ed25519 under both canonicalizations; and byte for byte: what
 * Exim delivered is its Received field on top of exactly the bytes the client sent (read back from the transcript).
 * Skipped, with the reason printed, without Exim, without root, or without dkimpy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { sendMail, type ClientOptions, type DkimOptions, type TraceEvent } from '../src/index.js';
import { dkimpyPython, keyRecord, NO_DKIMPY, verifyWithDkimpy } from './helpers/dkim-verifier.js';
import { eximSkipReason, startExim, type Exim } from './helpers/exim.js';
import { fixture } from './helpers/fake-server.js';

const python = dkimpyPython();
const reason = eximSkipReason() ?? (python === undefined ? NO_DKIMPY : undefined);
const skip = reason ?? false;
if (reason !== undefined) console.log(`# dkim-exim.test: skipped: ${reason}`);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519');
const RECORDS = {
  'rsa._domainkey.example.org': keyRecord(rsa.publicKey),
  'ed._domainkey.example.org': keyRecord(ed.publicKey),
};
const DKIM: DkimOptions[] = [
  { domainName: 'example.org', keySelector: 'rsa', privateKey: rsa.privateKey },
  { domainName: 'example.org', keySelector: 'ed', privateKey: ed.privateKey, canonicalization: 'simple/simple' },
];

const options = (exim: Exim): ClientOptions => ({
  server: 'localhost',
  port: exim.port,
  streamType: 'starttls',
  tls: { ca: fixture('ca.pem') },
  authSources: [],
  dkim: DKIM,
});

/** A message with LF line ends, a header the library encodes, a Bcc, WSP runs, dot lines and 8-bit text. */
const message = (to: string): string =>
  `From: \u00c9lise <elise@example.org>\nTo: ${to}@example.net\nBcc: hidden@example.net\n` +
  'Subject: \u00e9t\u00e9  report\n\n  Body  with \t runs\n.dot line\n..two dots\nCaf\u00e9 \u2615\n\n\n';

async function assertVerifies(exim: Exim, delivered: Buffer[]): Promise<void> {
  const { results } = await verifyWithDkimpy(python as string, delivered, RECORDS);
  for (const [i, verdicts] of results.entries()) {
    assert.equal(verdicts.length, 2, `message ${i}: ${JSON.stringify(verdicts)}`);
    for (const verdict of verdicts)
      assert.ok(verdict.ok, `message ${i}: ${JSON.stringify(verdict)}\n${await exim.log()}`);
  }
}

/** The message data as the client sent it after DATA, read back from a transcript with traceData (dots unstuffed). */
function sentData(events: readonly TraceEvent[]): Buffer {
  const lines = events.filter((event) => event.direction === 'client').map((event) => event.line);
  const start = lines.indexOf('DATA');
  const end = lines.indexOf('.', start);
  assert.ok(start >= 0 && end > start, 'DATA and the final dot in the transcript');
  const data = lines.slice(start + 1, end).map((line) => (line.startsWith('.') ? line.slice(1) : line));
  return Buffer.from(data.map((line) => `${line}\r\n`).join(''), 'utf8');
}

test(
  'through Exim: BDAT and DATA, in memory and streamed; what it delivered verifies, byte for byte as sent',
  { skip },
  async () => {
    const exim = await startExim(['bdat', 'data', 'stream', 'hidden']);
    try {
      const viaBdat = await sendMail(message('bdat'), options(exim));
      const events: TraceEvent[] = [];
      await sendMail(message('data'), {
        ...options(exim),
        chunking: false,
        traceData: true,
        onTrace: (e) => events.push(e),
      });
      const line = 'A streamed  line\twith text, 8-bit \u00e9, to make it long enough to be a line.\n';
      const chunks = [message('stream'), line.repeat((2 * 1024 * 1024) / line.length)];
      await sendMail(Readable.from(chunks), options(exim));
      assert.equal(viaBdat.secure, true, 'over STARTTLS');

      const delivered = await Promise.all(['bdat', 'data', 'stream'].map((to) => exim.delivered(to)));
      const log = await exim.log();
      // Exim's "K" flag: the message came by BDAT (CHUNKING).
      const flags = [...log.matchAll(/<= \S+ .* CV=no( K)? S=/g)].map((m) => m[1] === ' K');
      assert.deepEqual(flags, [true, false, true], 'BDAT, DATA, BDAT');
      assert.doesNotMatch(delivered.map((d) => d.toString('latin1')).join(''), /^Bcc:/im);
      assert.ok(delivered[2]!.length > 2 * 1024 * 1024);
      await assertVerifies(exim, delivered);

      // Byte for byte: Exim's Received field, then exactly what was sent.
      const sent = sentData(events);
      const got = delivered[1]!;
      assert.match(sent.toString('latin1'), /^DKIM-Signature: v=1; a=rsa-sha256; /);
      assert.ok(got.subarray(got.length - sent.length).equals(sent), 'the sent bytes, unchanged, at the end');
      const added = got.subarray(0, got.length - sent.length).toString('latin1');
      assert.match(added, /^Received: from \[127\.0\.0\.1\] [^]*\r\n$/);
      assert.doesNotMatch(added, /\r\n(?![ \t])[^]*\r\n$/, 'one folded field: nothing else was added');
    } finally {
      await exim.close();
    }
  },
);

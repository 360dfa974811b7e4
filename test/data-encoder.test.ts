/**
 * The DATA encoder (wire/data-encoder.ts): CRLF line ends, dot-stuffing, the SMTP-smuggling
 * end-of-data forms neutralised, chunk boundaries, and random messages against a slow reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { BLOCK_BYTES, CLEAN_CHECK_MIN_BYTES, DataEncoder, has8bit, MessageEncoder } from '../src/wire/data-encoder.js';

/** Every block a MessageEncoder gives, joined. */
function encodeMessage(head: Buffer, body: Buffer, dotStuffing = true): Buffer {
  const encoder = new MessageEncoder(head, body, { dotStuffing });
  const blocks: Buffer[] = [];
  for (let block = encoder.next(); block !== undefined; block = encoder.next()) blocks.push(Buffer.from(block));
  return Buffer.concat(blocks);
}
import { encodeData } from './helpers/encode-data.js';
import { normalizedSize } from '../src/wire/line-ends.js';
import { SmtpProtocolError } from '../src/errors.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const wire = (message: string): string => encodeData(bytes(message)).toString('latin1');

/** Pushes the chunks, then ends; the concatenated wire bytes. */
function encodeChunks(chunks: readonly Buffer[]): Buffer {
  const encoder = new DataEncoder();
  const parts = chunks.map((chunk) => encoder.push(chunk));
  parts.push(encoder.end());
  return Buffer.concat(parts);
}

/**
 * The properties every DATA body must have on the wire, whatever the input.
 * Checked on the DATA command line and what follows it, since for an empty
 * message the CRLF before the final dot is the one ending that line.
 */
function assertWireSafe(body: string): void {
  const out = `DATA\r\n${body}`;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '\r') assert.equal(out[i + 1], '\n', `CR at ${i} is not followed by LF`);
    if (out[i] === '\n') assert.equal(out[i - 1], '\r', `LF at ${i} is not preceded by CR`);
  }
  const lines = out.split('\r\n');
  assert.equal(lines.pop(), '', 'the output ends with CRLF');
  assert.equal(lines.pop(), '.', 'the last line is the terminator');
  for (const line of lines) {
    if (line.startsWith('.')) assert.ok(line.startsWith('..'), `line ${JSON.stringify(line)} is not stuffed`);
  }
  const ends: number[] = [];
  for (let at = out.indexOf('\r\n.\r\n'); at !== -1; at = out.indexOf('\r\n.\r\n', at + 1)) ends.push(at);
  assert.deepEqual(ends, [out.length - 5], 'exactly one CRLF . CRLF, at the very end');
}

test('SMTP-smuggling end-of-data sequences inside a body are neutralised', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['\n.\n', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\n.\r', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\r.\n', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\r.\r', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\n.\r\n', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\r.\r\n', 'A\r\n..\r\nB\r\n.\r\n'],
    ['\r\n.\r\r\n', 'A\r\n..\r\n\r\nB\r\n.\r\n'],
    ['\r\r\n.\r\r\n', 'A\r\n\r\n..\r\n\r\nB\r\n.\r\n'],
    ['\r\n.\r\n', 'A\r\n..\r\nB\r\n.\r\n'],
  ];
  for (const [sequence, expected] of cases) {
    const out = wire(`A${sequence}B`);
    assert.equal(out, expected, `for ${JSON.stringify(sequence)}`);
    assertWireSafe(out);
  }
});

test('line ends, dots and terminators', () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['', '.\r\n'],
    ['A', 'A\r\n.\r\n'],
    ['A\r\n', 'A\r\n.\r\n'],
    ['A\n', 'A\r\n.\r\n'],
    ['A\r', 'A\r\n.\r\n'],
    ['.A\r\nB', '..A\r\nB\r\n.\r\n'],
    ['.', '..\r\n.\r\n'],
    ['A\r\n.\r\nB\r\n', 'A\r\n..\r\nB\r\n.\r\n'],
    ['A\r\n..\r\nB', 'A\r\n...\r\nB\r\n.\r\n'],
    ['A\r\nB\r\nC\r\n', 'A\r\nB\r\nC\r\n.\r\n'],
    ['A\rB', 'A\r\nB\r\n.\r\n'],
    ['A\r\r\nB', 'A\r\n\r\nB\r\n.\r\n'],
    ['\r\n', '\r\n.\r\n'],
    ['\n\n', '\r\n\r\n.\r\n'],
    ['\r\r', '\r\n\r\n.\r\n'],
    ['\n\r', '\r\n\r\n.\r\n'],
    ['A.B\r\n.', 'A.B\r\n..\r\n.\r\n'],
  ];
  for (const [message, expected] of cases) {
    const out = wire(message);
    assert.equal(out, expected, `for ${JSON.stringify(message)}`);
    assertWireSafe(out);
  }
});

test('chunk boundaries: CR|LF is one CRLF, a break then a dot is stuffed', () => {
  assert.equal(encodeChunks([bytes('A\r'), bytes('\nB')]).toString('latin1'), 'A\r\nB\r\n.\r\n');
  assert.equal(encodeChunks([bytes('A\r'), bytes('\rB')]).toString('latin1'), 'A\r\n\r\nB\r\n.\r\n');
  assert.equal(encodeChunks([bytes('A\r'), bytes('.B')]).toString('latin1'), 'A\r\n..B\r\n.\r\n');
  assert.equal(encodeChunks([bytes('A\r'), bytes('\n'), bytes('.B')]).toString('latin1'), 'A\r\n..B\r\n.\r\n');
  assert.equal(encodeChunks([bytes('A\n'), bytes('.')]).toString('latin1'), 'A\r\n..\r\n.\r\n');
  assert.equal(encodeChunks([bytes('.'), bytes('.')]).toString('latin1'), '...\r\n.\r\n');
  assert.equal(encodeChunks([bytes('A\r')]).toString('latin1'), 'A\r\n.\r\n');
  assert.equal(encodeChunks([bytes(''), bytes('.'), bytes('')]).toString('latin1'), '..\r\n.\r\n');
});

test('a chunk needing no change is returned as is, without a copy', () => {
  const encoder = new DataEncoder();
  const first = bytes('Subject: hi\r\n\r\nbody line\r');
  const second = bytes('\nmore text. not a leading dot\r\n');
  assert.equal(encoder.push(first), first);
  assert.equal(encoder.push(second), second);
  assert.equal(encoder.end().toString('latin1'), '.\r\n');
  const changed = bytes('a\nb');
  assert.notEqual(new DataEncoder().push(changed), changed);
});

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Slow reference, step 1: line ends to CRLF, byte by byte. */
function referenceNormalize(message: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < message.length; i++) {
    const byte = message[i];
    if (byte === 0x0d) {
      out.push(0x0d, 0x0a);
      if (message[i + 1] === 0x0a) i++;
    } else if (byte === 0x0a) {
      out.push(0x0d, 0x0a);
    } else if (byte !== undefined) {
      out.push(byte);
    }
  }
  return out;
}

/** Slow reference, step 2: dot-stuff each CRLF line, then terminate. */
function referenceEncode(message: Uint8Array): Buffer {
  const normalized = referenceNormalize(message);
  const out: number[] = [];
  let atLineStart = true;
  for (let i = 0; i < normalized.length; i++) {
    const byte = normalized[i] ?? 0;
    if (atLineStart && byte === 0x2e) out.push(0x2e);
    out.push(byte);
    atLineStart = byte === 0x0a;
  }
  if (!atLineStart) out.push(0x0d, 0x0a);
  out.push(0x2e, 0x0d, 0x0a);
  return Buffer.from(out);
}

test('random messages, random chunking: same as one-shot and as the slow reference', () => {
  const random = mulberry32(0x5eed);
  const alphabet = ['\r', '\n', '.', 'a', '\r', '\n', '.', 'a', '\r\n', 'é', '€', '😀', ' '];
  for (let round = 0; round < 400; round++) {
    const pieces: string[] = [];
    const count = Math.floor(random() * 60);
    for (let i = 0; i < count; i++) pieces.push(alphabet[Math.floor(random() * alphabet.length)] ?? 'a');
    const message = Buffer.from(pieces.join(''), 'utf8');

    const expected = referenceEncode(message);
    const whole = encodeData(message);
    assert.deepEqual(whole, expected, `one-shot, message ${JSON.stringify(pieces.join(''))}`);
    assertWireSafe(whole.toString('latin1'));
    assert.equal(normalizedSize(message), referenceNormalize(message).length);

    const chunks: Buffer[] = [];
    const oneByte = round % 4 === 0;
    for (let at = 0; at < message.length;) {
      const size = oneByte ? 1 : Math.floor(random() * 8);
      chunks.push(message.subarray(at, at + size));
      at += size;
    }
    assert.deepEqual(
      encodeChunks(chunks),
      expected,
      `chunked as ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`,
    );

    // The same message with a NUL somewhere: refused, one-shot and chunked, naming its offset.
    const at = Math.floor(random() * (message.length + 1));
    const withNul = Buffer.concat([message.subarray(0, at), Buffer.from([0]), message.subarray(at)]);
    assert.throws(
      () => encodeData(withNul),
      (error) => assertNulError(error, at),
    );
    const cut = Math.floor(random() * (withNul.length + 1));
    assert.throws(
      () => encodeChunks([withNul.subarray(0, cut), withNul.subarray(cut)]),
      (error) => assertNulError(error, at),
    );
  }
});

test('a 150 KB message in large and small chunks: same as the slow reference', () => {
  const random = mulberry32(0xb16);
  const alphabet = ['\r', '\n', '.', 'abc', '\r\n', '\r\n.', 'é', ' '];
  const pieces: string[] = [];
  for (let i = 0; i < 100_000; i++) pieces.push(alphabet[Math.floor(random() * alphabet.length)] ?? 'a');
  const message = Buffer.from(pieces.join(''), 'utf8');
  assert.ok(message.length > 150_000);
  const expected = referenceEncode(message);
  assert.deepEqual(encodeData(message), expected, 'one chunk');
  assert.equal(normalizedSize(message), referenceNormalize(message).length);
  // Chunks on both sides of the limit, in turn.
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < message.length; i++) {
    const size = i % 2 === 0 ? 70_000 : 1 + Math.floor(random() * 3000);
    chunks.push(message.subarray(at, at + size));
    at += size;
  }
  assert.deepEqual(encodeChunks(chunks), expected, 'mixed chunk sizes');
});

test("MessageEncoder (a message in memory): the reference encoder's output and SIZE, whatever its line ends, cut anywhere", () => {
  const random = mulberry32(0xc71f);
  const lines = ['', '.', '..', '.x', 'a.b', 'text', '.\u00e9', ' .', 'bare\nlf', 'bare\rcr'];
  for (let round = 0; round < 300; round++) {
    const count = Math.floor(random() * 12);
    const picked = Array.from({ length: count }, () => lines[Math.floor(random() * lines.length)] ?? '');
    const text = picked.join(random() < 0.8 ? '\r\n' : '\n') + (random() < 0.5 ? '\r\n' : '');
    const message = Buffer.from(text, 'utf8');
    const cut = Math.floor(random() * (message.length + 1));
    const head = message.subarray(0, message.lastIndexOf(0x0a, cut - 1) + 1); // a header block ends with its line end
    const body = message.subarray(head.length);
    assert.equal(new MessageEncoder(head, body).size, normalizedSize(message), JSON.stringify(text));
    assert.deepEqual(encodeMessage(head, body), referenceEncode(message), JSON.stringify(text));
  }
});

test('normalizedSize is the encoded length without added dots and terminator', () => {
  // [message, wire length, dots added, terminator length, size]
  const cases: ReadonlyArray<readonly [string, number, number, number, number]> = [
    ['', 3, 0, 3, 0],
    ['A\r\n', 6, 0, 3, 3],
    ['.A\n.B', 13, 2, 5, 6],
    ['\r\r\n', 7, 0, 3, 4],
    ['x\ry', 9, 0, 5, 4],
    ['\n', 5, 0, 3, 2],
  ];
  for (const [message, wireLength, dots, terminator, size] of cases) {
    assert.equal(encodeData(bytes(message)).length, wireLength, `wire length of ${JSON.stringify(message)}`);
    assert.equal(normalizedSize(bytes(message)), size, `size of ${JSON.stringify(message)}`);
    assert.equal(size, wireLength - dots - terminator);
  }
});

test('has8bit', () => {
  assert.equal(has8bit(bytes('')), false);
  assert.equal(has8bit(bytes('plain ASCII\r\n')), false);
  assert.equal(has8bit(Buffer.from([0x7f, 0x00, 0x41])), false);
  assert.equal(has8bit(Buffer.from([0x41, 0x80])), true);
  assert.equal(has8bit(Buffer.from([0xff])), true);
  assert.equal(has8bit(Buffer.from('Grüße', 'utf8')), true);
});

function assertNulError(error: unknown, offset: number): true {
  assert.ok(error instanceof SmtpProtocolError);
  assert.equal(error.code, 'EINPUT');
  assert.equal(error.message, `the message contains a NUL byte at offset ${offset}`);
  return true;
}

test('a NUL byte is refused with its offset in the message', () => {
  assert.throws(
    () => encodeData(Buffer.from([0x00])),
    (error) => assertNulError(error, 0),
  );
  assert.throws(
    () => encodeData(bytes('ab\r\nc\0')),
    (error) => assertNulError(error, 5),
  );

  const encoder = new DataEncoder();
  assert.equal(encoder.push(bytes('abc')).toString('latin1'), 'abc');
  assert.throws(
    () => encoder.push(bytes('de\0f')),
    (error) => assertNulError(error, 5),
  );
  assert.equal(encoder.bytesIn, 3, 'a refused chunk is not counted');
});

test('bytesIn counts the input bytes pushed', () => {
  const encoder = new DataEncoder();
  assert.equal(encoder.bytesIn, 0);
  encoder.push(bytes('a\nb'));
  assert.equal(encoder.bytesIn, 3);
  assert.equal(encoder.push(bytes('')).length, 0);
  assert.equal(encoder.bytesIn, 3);
  encoder.push(bytes('\r\n.'));
  assert.equal(encoder.bytesIn, 6);
  encoder.end();
  assert.equal(encoder.bytesIn, 6);
});

test('the encoder refuses use after end()', () => {
  const encoder = new DataEncoder();
  encoder.end();
  assert.throws(() => encoder.end(), SmtpProtocolError);
  assert.throws(() => encoder.push(bytes('a')), SmtpProtocolError);
});

test('MessageEncoder: blocks of BLOCK_BYTES across a large message, dots at block edges, NUL refused, BDAT without stuffing', () => {
  const line = Buffer.from('.dot line\r\n');
  const big = Buffer.alloc(BLOCK_BYTES * 2 + 5);
  for (let at = 0; at < big.length; at += line.length) line.copy(big, at);
  // whole lines: one starts right at each block edge, or near it
  const body = big.subarray(0, big.lastIndexOf(0x0a) + 1);
  const encoder = new MessageEncoder(Buffer.from('A: b\r\n\r\n'), body);
  let blocks = 0;
  const out: Buffer[] = [];
  for (let block = encoder.next(); block !== undefined; block = encoder.next(), blocks++) out.push(Buffer.from(block));
  assert.ok(blocks >= 4, `${blocks} blocks`);
  assert.equal(encoder.finished, true);
  assert.deepEqual(Buffer.concat(out), referenceEncode(Buffer.concat([Buffer.from('A: b\r\n\r\n'), body])));
  assert.throws(
    () => encodeMessage(Buffer.alloc(0), Buffer.from('a\r\n\0\r\n')),
    (error) => assertNulError(error, 3),
  );
  assert.equal(
    encodeMessage(Buffer.from('A: b\r\n\r\n'), Buffer.from('.x\nlast'), false).toString('latin1'),
    'A: b\r\n\r\n.x\r\nlast\r\n',
  );
  assert.equal(
    encodeMessage(Buffer.from('A: b\r\n\r\n'), Buffer.from('.x\r\nlast'), false).toString('latin1'),
    'A: b\r\n\r\n.x\r\nlast\r\n',
  );
});

test('chunks of CLEAN_CHECK_MIN_BYTES and more with clean CRLF: dots stuffed at chunk edges, clean chunks passed by reference', () => {
  const random = mulberry32(0xc1ea);
  const lines = ['plain text', '.dot line', '..two dots', '', 'é ü', '.'];
  const pieces: string[] = [];
  for (let i = 0; i < 40_000; i++) pieces.push(`${lines[Math.floor(random() * lines.length)] ?? ''}\r\n`);
  const message = Buffer.from(pieces.join(''), 'utf8');
  assert.ok(message.length > 10 * CLEAN_CHECK_MIN_BYTES);
  const expected = referenceEncode(message);
  for (let round = 0; round < 20; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < message.length;) {
      // Sizes around the threshold; some cuts land just before a dot line, between CR and LF, or after an LF.
      const size = CLEAN_CHECK_MIN_BYTES - 8 + Math.floor(random() * CLEAN_CHECK_MIN_BYTES);
      let end = Math.min(at + size, message.length);
      const lf = message.indexOf(0x0a, end);
      if (round % 3 === 1 && lf !== -1) end = lf + 1; // the chunk ends with a line; the next may start with "."
      if (round % 3 === 2 && lf !== -1) end = lf; // the chunk ends with CR; the next starts with its LF
      chunks.push(message.subarray(at, end));
      at = end;
    }
    assert.deepEqual(encodeChunks(chunks), expected, `round ${round}`);
  }
  // BDAT: a clean chunk goes out as it is (the same bytes, no copy); with dots to stuff DATA copies.
  const clean = Buffer.from('plain\r\n'.repeat(CLEAN_CHECK_MIN_BYTES / 4), 'latin1');
  assert.equal(new DataEncoder({ dotStuffing: false }).push(clean), clean);
  assert.equal(new DataEncoder().push(clean), clean);
  const dotted = Buffer.concat([clean, Buffer.from('.x\r\n', 'latin1')]);
  assert.equal(new DataEncoder({ dotStuffing: false }).push(dotted), dotted);
  assert.equal(new DataEncoder().push(dotted).toString('latin1'), `${clean.toString('latin1')}..x\r\n`);
});

test('a large chunk that ends with CR, and the next that starts with its LF, pass as they are; what follows a CR decides', () => {
  const clean = 'plain\r\n'.repeat(CLEAN_CHECK_MIN_BYTES / 4);
  const endsWithCr = Buffer.from(`${clean}x\r`, 'latin1');
  const startsWithLf = Buffer.from(`\n${clean}`, 'latin1');
  const bdat = new DataEncoder({ dotStuffing: false });
  assert.equal(bdat.push(endsWithCr), endsWithCr);
  assert.equal(bdat.push(startsWithLf), startsWithLf);
  assert.equal(bdat.end().length, 0);
  // DATA: the line after the boundary starts with a dot, which is stuffed.
  const data = new DataEncoder();
  const dotted = Buffer.from(`\n.dot\r\n${clean}`, 'latin1');
  const out = [data.push(endsWithCr), data.push(dotted), data.end()];
  assert.equal(out[0], endsWithCr);
  assert.deepEqual(Buffer.concat(out), referenceEncode(Buffer.concat([endsWithCr, dotted])));
  // A bare CR at the end of a clean chunk: its LF is added before the next chunk's first byte.
  const bare = Buffer.from(`y${clean}`, 'latin1');
  assert.deepEqual(encodeChunks([endsWithCr, bare]), referenceEncode(Buffer.concat([endsWithCr, bare])));
  // A NUL after the LF that completes a CR: refused, with its offset in the message.
  const withNul = Buffer.from(`\n${clean}\0`, 'latin1');
  const refusing = new DataEncoder({ dotStuffing: false });
  refusing.push(endsWithCr);
  assert.throws(
    () => refusing.push(withNul),
    (error) => assertNulError(error, endsWithCr.length + withNul.length - 1),
  );
});

test('large chunks cut anywhere, every line-end kind: DATA and BDAT give the reference bytes', () => {
  const random = mulberry32(0xb0da);
  const lines = ['text', '.dot', '', 'é', '.'];
  const ends = ['\r\n', '\r\n', '\r\n', '\n', '\r'];
  const pieces: string[] = [];
  for (let i = 0; i < 30_000; i++) {
    const pick = (list: readonly string[]): string => list[Math.floor(random() * list.length)] ?? '';
    pieces.push(pick(lines) + (i % 2000 === 0 ? pick(ends) : '\r\n'));
  }
  const message = Buffer.from(pieces.join(''), 'utf8');
  const normalized = Buffer.from(referenceNormalize(message));
  const bdatExpected = normalized.subarray(-2).equals(Buffer.from('\r\n'))
    ? normalized
    : Buffer.concat([normalized, Buffer.from('\r\n')]);
  for (let round = 0; round < 12; round++) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < message.length;) {
      let end = Math.min(message.length, at + CLEAN_CHECK_MIN_BYTES + Math.floor(random() * 3 * CLEAN_CHECK_MIN_BYTES));
      const cr = message.indexOf(0x0d, end);
      if (round % 2 === 1 && cr !== -1) end = cr + 1; // the chunk ends with a CR
      chunks.push(message.subarray(at, end));
      at = end;
    }
    assert.deepEqual(encodeChunks(chunks), referenceEncode(message), `DATA, round ${round}`);
    const bdat = new DataEncoder({ dotStuffing: false });
    const parts = chunks.map((chunk) => bdat.push(chunk));
    parts.push(bdat.end());
    assert.deepEqual(Buffer.concat(parts), bdatExpected, `BDAT, round ${round}`);
  }
});

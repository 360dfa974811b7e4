/**
 * The encoder's buffers (smtp/encode-buffers.ts over wire/buffer-pool.ts): lent once at a time,
 * given back, and byte-identical output when the pool is empty.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataEncoder } from '../src/wire/data-encoder.js';
import { encodeData } from './helpers/encode-data.js';
import { MIN_POOLED_BYTES, ScratchPool } from '../src/smtp/encode-buffers.js';
import { bytesOf, type Lent, type Part } from '../src/wire/buffer-pool.js';

const lent = (part: Part | undefined): Lent => {
  assert.ok(part !== undefined);
  assert.ok(!Buffer.isBuffer(part), 'expected a lent buffer');
  return part;
};

const encode = (pool: ScratchPool, encoder: DataEncoder, chunk: Buffer): Part =>
  pool.lend(chunk.length, (scratch) => encoder.push(chunk, scratch)) as Part;

/** A chunk of whole lines, every line starting with "." (so the encoder must rewrite it). */
function dotted(bytes: number, mark: string): Buffer {
  const line = `.${mark.repeat(70)}\r\n`;
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)), 'latin1');
}

test('a rewritten large chunk is lent from the pool, never lent twice at once, and reused once given back', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const first = lent(encode(pool, encoder, dotted(MIN_POOLED_BYTES, 'a')));
  const second = lent(encode(pool, encoder, dotted(MIN_POOLED_BYTES, 'b')));
  assert.notEqual(first.bytes.buffer, second.bytes.buffer, 'a lent buffer was lent again');
  const firstCopy = Buffer.from(first.bytes);
  first.done();
  first.done(); // giving back twice does not put it in the pool twice
  const third = lent(encode(pool, encoder, dotted(MIN_POOLED_BYTES, 'c')));
  assert.equal(third.bytes.buffer, first.bytes.buffer, 'the given-back buffer is reused');
  const fourth = lent(encode(pool, encoder, dotted(MIN_POOLED_BYTES, 'd')));
  assert.notEqual(fourth.bytes.buffer, first.bytes.buffer, 'a double release made the buffer lendable twice');
  assert.notDeepEqual(firstCopy, third.bytes);
  // The buffer still lent was not touched by the later encodes.
  assert.deepEqual(second.bytes, new DataEncoder().push(dotted(MIN_POOLED_BYTES, 'b')));
});

test('small chunks and chunks that pass through unchanged borrow nothing', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const small = encode(pool, encoder, dotted(100, 'x'));
  assert.ok(Buffer.isBuffer(small));
  const clean = Buffer.from('plain text line\r\n'.repeat(2000), 'latin1');
  const unchanged = encode(pool, encoder, clean);
  assert.equal(unchanged, clean);
});

test('with every buffer lent, the encoder still works (fresh buffers), and the output stays byte-identical', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const chunks = Array.from({ length: 8 }, (_, i) => dotted(MIN_POOLED_BYTES * 2, String.fromCharCode(97 + i)));
  const outputs = chunks.map((chunk) => Buffer.from(bytesOf(encode(pool, encoder, chunk))));
  const whole = Buffer.concat([...outputs, encoder.end()]);
  assert.deepEqual(whole, encodeData(Buffer.concat(chunks)));
});

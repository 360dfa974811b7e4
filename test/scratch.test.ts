import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataEncoder, encodeData } from '../src/data.js';
import { MIN_POOLED_BYTES, ScratchPool } from '../src/scratch.js';

/** A chunk of whole lines, every line starting with "." (so the encoder must rewrite it). */
function dotted(bytes: number, mark: string): Buffer {
  const line = `.${mark.repeat(70)}\r\n`;
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)), 'latin1');
}

test('a rewritten large chunk is lent from the pool, never lent twice at once, and reused once given back', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const first = pool.encode(encoder, dotted(MIN_POOLED_BYTES, 'a'));
  const second = pool.encode(encoder, dotted(MIN_POOLED_BYTES, 'b'));
  assert.ok(first.release !== undefined && second.release !== undefined);
  assert.notEqual(first.bytes.buffer, second.bytes.buffer, 'a lent buffer was lent again');
  const firstCopy = Buffer.from(first.bytes);
  first.release();
  first.release(); // giving back twice does not put it in the pool twice
  const third = pool.encode(encoder, dotted(MIN_POOLED_BYTES, 'c'));
  assert.equal(third.bytes.buffer, first.bytes.buffer, 'the given-back buffer is reused');
  const fourth = pool.encode(encoder, dotted(MIN_POOLED_BYTES, 'd'));
  assert.notEqual(fourth.bytes.buffer, first.bytes.buffer, 'a double release made the buffer lendable twice');
  assert.notDeepEqual(firstCopy, third.bytes);
  // The buffer still lent was not touched by the later encodes.
  assert.deepEqual(second.bytes, new DataEncoder().push(dotted(MIN_POOLED_BYTES, 'b')));
});

test('small chunks and chunks that pass through unchanged borrow nothing', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const small = pool.encode(encoder, dotted(100, 'x'));
  assert.equal(small.release, undefined);
  const clean = Buffer.from('plain text line\r\n'.repeat(2000), 'latin1');
  const unchanged = pool.encode(encoder, clean);
  assert.equal(unchanged.release, undefined);
  assert.equal(unchanged.bytes, clean);
});

test('with every buffer lent, the encoder still works (fresh buffers), and the output stays byte-identical', () => {
  const pool = new ScratchPool();
  const encoder = new DataEncoder();
  const chunks = Array.from({ length: 8 }, (_, i) => dotted(MIN_POOLED_BYTES * 2, String.fromCharCode(97 + i)));
  const outputs = chunks.map((chunk) => Buffer.from(pool.encode(encoder, chunk).bytes));
  const whole = Buffer.concat([...outputs, encoder.end()]);
  assert.deepEqual(whole, encodeData(Buffer.concat(chunks)));
});

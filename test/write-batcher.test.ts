/**
 * The write batcher (net/write-batcher.ts) and the buffer pool it shares with the
 * encoder (wire/buffer-pool.ts): commands and small parts copied into one buffer
 * per event-loop turn, large parts lent by reference, every byte in order,
 * each lent part given back once the stream is done with it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import test from 'node:test';
import { BufferPool, type Lent } from '../src/wire/buffer-pool.js';
import { Connection } from '../src/net/connection.js';
import { COPY_LIMIT, TURN_WRITE_BYTES, WriteBatcher } from '../src/net/write-batcher.js';
import { Writable } from 'node:stream';

/** Deterministic pseudo-random bytes (a linear congruential generator). */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

test('buffer pool: a buffer given back is reused whole; more than it keeps are dropped; clear drops them all', () => {
  const pool = new BufferPool(1);
  const first = pool.take(100);
  pool.give(first.subarray(0, 10)); // a view of its start: the whole buffer comes back
  const again = pool.take(50);
  assert.equal(again.buffer, first.buffer);
  assert.ok(again.length >= 100);
  pool.give(again);
  pool.give(Buffer.allocUnsafeSlow(200)); // over the one it keeps
  assert.equal(pool.take(10).buffer, again.buffer);
  pool.give(again);
  pool.clear();
  assert.notEqual(pool.take(10).buffer, again.buffer);
});

test('connection: commands and small parts copied, large ones lent, the peer gets every byte in order; each lent part given back once written', async () => {
  let received: Buffer[] = [];
  const server = net.createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const connection = new Connection({ stream: socket, tls: undefined, remoteAddress: '127.0.0.1' }, undefined);
  try {
    const calls: string[] = [];
    const part = (name: string, content: Buffer): Lent => ({ bytes: content, done: () => calls.push(name) });
    const small = bytes(100, 1);
    const large = bytes(COPY_LIMIT + 1, 2);
    connection.send(['ONE\r\n', { line: 'TWO\r\n', shown: 'two (redacted)' }], [part('small copied', small)]);
    assert.deepEqual(calls, ['small copied'], 'a copied part is given back at once');
    connection.send(['THREE\r\n'], [part('large lent', large), small]);
    assert.deepEqual(calls, ['small copied'], 'a lent part is given back only once the stream has written it');
    const many = Array.from({ length: 40 }, (_, i) => bytes(COPY_LIMIT, 10 + i)); // more than TURN_WRITE_BYTES
    assert.ok(many.length * COPY_LIMIT > TURN_WRITE_BYTES);
    connection.send(['FOUR\r\n'], many);
    await connection.write(part('write large', large), 1000, 'test');
    connection.send(['QUIT\r\n']);
    const expected = Buffer.concat([
      Buffer.from('ONE\r\nTWO\r\n'),
      small,
      Buffer.from('THREE\r\n'),
      large,
      small,
      Buffer.from('FOUR\r\n'),
      ...many,
      large,
      Buffer.from('QUIT\r\n'),
    ]);
    for (let i = 0; i < 200 && Buffer.concat(received).length < expected.length; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(Buffer.concat(received), expected);
    assert.deepEqual(calls.sort(), ['large lent', 'small copied', 'write large']);
  } finally {
    connection.close();
    received = [];
    await new Promise((resolve) => server.close(resolve));
  }
});

test('batcher: a turn is written at its end in one write, except that once it gathers TURN_WRITE_BYTES that much goes at once', async () => {
  const writes: Buffer[] = [];
  const stream = new Writable({
    writev(chunks, callback) {
      writes.push(Buffer.concat(chunks.map((c) => c.chunk as Buffer)));
      callback();
    },
  });
  const batcher = new WriteBatcher(stream);
  const part = bytes(1000, 7);
  // A small turn: nothing is written before it ends, then all of it at once.
  for (let i = 0; i < 4; i++) batcher.put(`CMD ${i}\r\n`, [part]);
  assert.equal(writes.length, 0, 'a small turn is gathered');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes.length, 1, 'and leaves in one write');
  // A big turn: the first TURN_WRITE_BYTES go while the turn is still putting.
  const perPut = part.length + 'CMD n\r\n'.length;
  const puts = Math.ceil((2.5 * TURN_WRITE_BYTES) / perPut);
  for (let i = 0; i < puts; i++) batcher.put(`CMD ${i % 10}\r\n`, [part]);
  assert.equal(writes.length, 3, 'two writes made within the turn');
  assert.ok(
    (writes[1] as Buffer).length >= TURN_WRITE_BYTES && (writes[1] as Buffer).length < TURN_WRITE_BYTES + perPut,
  );
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes.length, 4, 'the rest at the end of the turn');
  assert.equal(Buffer.concat(writes.slice(1)).length, puts * perPut, 'every byte, once');
  stream.destroy();
});

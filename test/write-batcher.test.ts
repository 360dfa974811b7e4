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
import { COPY_LIMIT, FLUSH_BYTES } from '../src/net/write-batcher.js';

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
    const many = Array.from({ length: 40 }, (_, i) => bytes(COPY_LIMIT, 10 + i)); // more than FLUSH_BYTES in one turn
    assert.ok(many.length * COPY_LIMIT > FLUSH_BYTES);
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

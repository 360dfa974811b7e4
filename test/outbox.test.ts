import assert from 'node:assert/strict';
import net from 'node:net';
import test from 'node:test';
import { Connection } from '../src/connection.js';
import { COPY_LIMIT, FLUSH_BYTES, Outbox } from '../src/outbox.js';

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

test('outbox: text and bytes come out as one buffer, in order; then it is empty', () => {
  const outbox = new Outbox();
  outbox.addText('MAIL FROM:<a@example.org>\r\n');
  outbox.addBytes(Buffer.from('body\r\n'));
  outbox.addText('RCPT TO:<b@bücher.example>\r\n');
  assert.equal(outbox.length, 27 + 6 + 29);
  assert.equal(outbox.take()?.toString('utf8'), 'MAIL FROM:<a@example.org>\r\nbody\r\nRCPT TO:<b@bücher.example>\r\n');
  assert.equal(outbox.length, 0);
  assert.equal(outbox.take(), undefined);
});

test('outbox: bytes are copied, so the caller may change its buffer at once', () => {
  const outbox = new Outbox();
  const scratch = Buffer.from('first');
  outbox.addBytes(scratch);
  scratch.write('XXXXX');
  assert.equal(outbox.take()?.toString(), 'first');
});

test('outbox: many parts of random sizes, across growth, equal their concatenation', () => {
  const outbox = new Outbox();
  const parts: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const part = bytes((i * 7919) % 5000, i + 1);
    parts.push(part);
    outbox.addBytes(part);
  }
  const taken = outbox.take();
  assert.ok(taken !== undefined && taken.length > FLUSH_BYTES / 2, 'the test must cross several growths');
  assert.deepEqual(taken, Buffer.concat(parts));
});

test('outbox: a recycled buffer is reused, and what is taken next holds only the new bytes', () => {
  const outbox = new Outbox();
  outbox.addText('a'.repeat(100));
  const first = outbox.take() as Buffer;
  outbox.recycle(first);
  outbox.addText('second');
  const second = outbox.take() as Buffer;
  assert.equal(second.buffer, first.buffer, 'the same memory');
  assert.equal(second.toString(), 'second');
});

test('outbox: clear drops the gathered bytes and the spare buffers', () => {
  const outbox = new Outbox();
  outbox.addText('kept?');
  const spare = outbox.take() as Buffer;
  outbox.recycle(spare);
  outbox.addText('dropped');
  outbox.clear();
  assert.equal(outbox.length, 0);
  assert.equal(outbox.take(), undefined);
  outbox.addText('new');
  assert.notEqual((outbox.take() as Buffer).buffer, spare.buffer);
});

test('connection: small parts are copied and large ones lent, and the peer gets every byte in order; written is called once the stream is done', async () => {
  let received: Buffer[] = [];
  const server = net.createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const connection = new Connection({ stream: socket, tls: undefined, remoteAddress: '127.0.0.1' }, undefined);
  try {
    const small = bytes(100, 1);
    const large = bytes(COPY_LIMIT + 1, 2);
    const calls: string[] = [];
    connection.send(['ONE\r\n', 'TWO\r\n'], undefined, [small], () => calls.push('copied'));
    assert.deepEqual(calls, ['copied'], 'a copied payload is released at once');
    connection.send(['THREE\r\n'], undefined, [large, small], () => calls.push('lent then copied'));
    connection.send(['FOUR\r\n'], undefined, [small, large], () => calls.push('copied then lent'));
    assert.deepEqual(calls, ['copied'], 'a lent buffer is released only once the stream has written it');
    await connection.write(small, 1000, 'test', () => calls.push('write small'));
    await connection.write(large, 1000, 'test', () => calls.push('write large'));
    connection.send(['QUIT\r\n']);
    const expected = Buffer.concat([Buffer.from('ONE\r\nTWO\r\n'), small, Buffer.from('THREE\r\n'), large, small, Buffer.from('FOUR\r\n'), small, large, small, large, Buffer.from('QUIT\r\n')]);
    for (let i = 0; i < 200 && Buffer.concat(received).length < expected.length; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(Buffer.concat(received), expected);
    assert.deepEqual(calls.sort(), ['copied', 'copied then lent', 'lent then copied', 'write large', 'write small']);
  } finally {
    connection.close();
    received = [];
    await new Promise((resolve) => server.close(resolve));
  }
});

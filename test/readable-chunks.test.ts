/**
 * A Readable's chunks read in flowing mode (message/readable-chunks.ts): large chunks handed on as pushed (no copy),
 * small ones that arrive together joined, the stream paused while enough waits, its error or early close a rejection,
 * `return()` destroying it; anything but a byte-mode Readable nobody reads is left to its own iterator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readableChunks } from '../src/message/readable-chunks.js';

/** A stream that pushes `chunks` in order, as fast as it is asked. */
function pushing(chunks: readonly Buffer[]): Readable {
  let next = 0;
  return new Readable({
    read() {
      this.push(next < chunks.length ? chunks[next++] : null);
    },
  });
}

/** Takes every chunk, yielding to the event loop before each (so that the stream runs ahead of the consumer). */
async function takeAll(iterator: AsyncIterator<Buffer | string | Uint8Array>): Promise<Buffer[]> {
  const taken: Buffer[] = [];
  for (let i = 0; i < 10_000; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    const next = await iterator.next();
    if (next.done === true) return taken;
    assert.ok(Buffer.isBuffer(next.value));
    taken.push(next.value);
  }
  throw new Error('no end');
}

const fill = (length: number, seed: number): Buffer => Buffer.alloc(length, seed);

test('large chunks are handed on as they were pushed; small ones that wait together are joined; nothing is lost', async () => {
  const large = [fill(64 * 1024, 1), fill(64 * 1024, 2), fill(70 * 1024, 3)];
  const small = Array.from({ length: 300 }, (_, i) => fill(100, 10 + (i % 50)));
  const chunks = [large[0], large[1], ...small, large[2]] as Buffer[];
  const iterator = readableChunks(pushing(chunks));
  assert.ok(iterator !== undefined);
  const taken = await takeAll(iterator);
  assert.deepEqual(Buffer.concat(taken), Buffer.concat(chunks));
  for (const chunk of large) assert.ok(taken.includes(chunk), 'a large chunk is the very buffer pushed');
  const joined = taken.filter((chunk) => !large.includes(chunk));
  assert.ok(joined.length < small.length / 4, `300 small chunks came in ${joined.length}`);
  for (const chunk of joined) assert.ok(chunk.length <= 64 * 1024);
});

test("the stream's own iterator (what was used before) copies large chunks that wait together", async () => {
  // The reason for readable-chunks.ts: if this stops holding, Node no longer joins them, and it could go.
  const large = [fill(64 * 1024, 1), fill(64 * 1024, 2), fill(64 * 1024, 3)];
  const stream = pushing(large);
  stream.read(0); // starts reading: with the default highWaterMark more than one chunk waits at the first read
  await new Promise((resolve) => setImmediate(resolve));
  const taken = await takeAll(stream[Symbol.asyncIterator]());
  assert.deepEqual(Buffer.concat(taken), Buffer.concat(large));
  assert.ok(
    large.some((chunk) => !taken.includes(chunk)),
    'some chunk was copied',
  );
});

test('back-pressure: a stream nobody takes from is read only so far ahead', async () => {
  let pushed = 0;
  const stream = new Readable({
    read() {
      pushed += 16 * 1024;
      this.push(fill(16 * 1024, 7));
    },
  });
  const iterator = readableChunks(stream);
  assert.ok(iterator !== undefined);
  await iterator.next();
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  // 64 KiB waiting here, the stream's own 16 KiB buffer, and the chunk taken
  assert.ok(pushed <= 128 * 1024, `${pushed} bytes read ahead`);
  await iterator.return?.();
  assert.equal(stream.destroyed, true, 'return() destroys the stream');
});

test("the stream's error rejects; a close before its end rejects; chunks before either are still taken", async () => {
  const failing = new Readable({ read() {} });
  const iterator = readableChunks(failing);
  assert.ok(iterator !== undefined);
  failing.push(fill(10, 1));
  const first = await iterator.next();
  assert.deepEqual(first.value, fill(10, 1));
  const waiting = iterator.next();
  failing.destroy(new Error('disk on fire'));
  await assert.rejects(waiting, /disk on fire/);
  await assert.rejects(iterator.next(), /disk on fire/);

  const closing = new Readable({ read() {} });
  const early = readableChunks(closing);
  assert.ok(early !== undefined);
  const pending = early.next();
  closing.destroy();
  await assert.rejects(pending, /closed before its end/);
});

test('anything but a byte-mode Readable that nobody reads is left to its own iterator', () => {
  assert.equal(readableChunks(Readable.from(['a', 'b'])), undefined, 'object mode');
  const flowing = pushing([fill(10, 1)]);
  flowing.on('data', () => {});
  assert.equal(readableChunks(flowing), undefined, 'already flowing');
  const destroyed = pushing([]);
  destroyed.destroy();
  assert.equal(readableChunks(destroyed), undefined, 'destroyed');
  const generator = (async function* () {
    yield Buffer.from('x');
  })();
  assert.equal(readableChunks(generator), undefined, 'an async generator');
});

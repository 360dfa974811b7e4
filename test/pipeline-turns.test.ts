/**
 * Pipelining turns (smtp/pipeline-turns.ts): writers take turns in order, readers read in the order
 * writers wrote, and a failed transaction passes its turn on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Turn, Turns } from '../src/smtp/pipeline-turns.js';

test('Turns: a free turn is taken at once, a held one is queued and handed over in order', async () => {
  const turns = new Turns();
  const first = turns.tryTake();
  assert.equal(typeof first, 'function', 'free: taken at once');
  assert.equal(turns.tryTake(), undefined, 'held: tryTake queues nothing');
  const order: string[] = [];
  const second = turns.take().then((release) => {
    order.push('second');
    return release;
  });
  const third = turns.take().then((release) => {
    order.push('third');
    release();
  });
  await Promise.resolve();
  assert.deepEqual(order, [], 'nobody runs before the holder releases');
  (first as () => void)();
  (first as () => void)(); // a second call does nothing: the turn is not passed twice
  const releaseSecond = await second;
  await Promise.resolve();
  assert.deepEqual(order, ['second']);
  releaseSecond();
  await third;
  assert.deepEqual(order, ['second', 'third']);
  assert.equal(typeof turns.tryTake(), 'function', 'free again once everyone released');
});

test('Turn: readers read in the order writers wrote, whatever order they finish writing', async () => {
  const writes = new Turns();
  const reads = new Turns();
  const a = Turn.tryTake(writes, reads) as Turn;
  assert.ok(a instanceof Turn, 'write turn free: taken at once');
  assert.equal(a.readable, true, 'no earlier writer: its replies may be read at once');
  assert.equal(Turn.tryTake(writes, reads), undefined, 'write turn held: not taken at once');
  const pendingB = Turn.take(writes, reads);
  a.releaseWrites();
  const b = await pendingB;
  assert.equal(b.readable, false, 'B reads after A');
  const log: string[] = [];
  const bReads = b.reads().then(() => log.push('B reads'));
  await Promise.resolve();
  log.push('A reads');
  a.release();
  await bReads;
  assert.deepEqual(log, ['A reads', 'B reads']);
  b.release();
  b.release(); // idempotent
  const c = Turn.tryTake(writes, reads) as Turn;
  assert.equal(c.readable, true);
  c.release();
});

test('Turn: a transaction that fails before reading still passes its read turn on', async () => {
  const writes = new Turns();
  const reads = new Turns();
  const a = Turn.tryTake(writes, reads) as Turn;
  a.releaseWrites();
  const b = Turn.tryTake(writes, reads) as Turn;
  b.releaseWrites();
  const c = Turn.tryTake(writes, reads) as Turn;
  b.release(); // B gives up before its read turn came: it is passed on when it comes
  let cReads = false;
  const waiting = c.reads().then(() => (cReads = true));
  await Promise.resolve();
  assert.equal(cReads, false, 'A still reads');
  a.release();
  await waiting;
  assert.equal(cReads, true);
  c.release();
});

test('Turns.takeThen: called at once when free, else in order as earlier holders release', () => {
  const turns = new Turns();
  const log: string[] = [];
  const releases: (() => void)[] = [];
  for (const name of ['a', 'b', 'c']) {
    turns.takeThen((release) => {
      log.push(name);
      releases.push(release);
    });
  }
  assert.deepEqual(log, ['a'], 'only the first holds the turn');
  releases[0]?.();
  releases[0]?.(); // a second call does nothing
  assert.deepEqual(log, ['a', 'b']);
  releases[1]?.();
  releases[2]?.();
  assert.deepEqual(log, ['a', 'b', 'c']);
  assert.equal(typeof turns.tryTake(), 'function', 'free again');
});

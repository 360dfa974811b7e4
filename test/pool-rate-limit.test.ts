/**
 * A pool's rateLimit (client/rate-limit.ts): sends start evenly spaced, at most `messages` in any `perMs` window,
 * without polling; close() does not wait for the next slot (the sends still waiting fail, saying they were not sent).
 * Timers never fire early, so the lower bounds asserted here hold on any machine; no upper bound on time is asserted
 * but one of a minute against an immediate close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, SmtpProtocolError, type PoolOptions, type TraceEvent } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';

const message = (i: number): string => `From: a@example.org\r\nTo: b@example.net\r\nSubject: ${i}\r\n\r\nhi\r\n`;

async function withServer(run: (server: RealServer) => Promise<void>): Promise<void> {
  const server = await startRealServer({ disabledCommands: ['STARTTLS'] });
  try {
    await run(server);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

const options = (server: RealServer, extra: Partial<PoolOptions>): PoolOptions => ({
  server: '127.0.0.1',
  port: server.port,
  authSources: [],
  timeouts: SHORT_TIMEOUTS,
  maxConnections: 3,
  ...extra,
});

test('rateLimit 5 per 500 ms: twelve sends at once start 100 ms apart, never more than five in a window', async () => {
  await withServer(async (server) => {
    const starts: number[] = [];
    const onTrace = (event: TraceEvent): void => {
      if (event.line.startsWith('MAIL FROM:')) starts.push(event.time);
    };
    const pool = createPool(options(server, { rateLimit: { messages: 5, perMs: 500 }, onTrace }));
    const began = Date.now();
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: 12 }, (_, i) => pool.send(message(i))));
    const used = process.cpuUsage(cpu);
    await pool.close();
    assert.equal(server.received.length, 12);
    assert.equal(starts.length, 12);
    starts.sort((a, b) => a - b); // the k-th earliest start is still at or after the k-th slot
    // The twelfth slot comes 11 spacings after the first, which was at once.
    assert.ok(
      (starts.at(-1) as number) - began >= 1100,
      `the last send started ${(starts.at(-1) as number) - began} ms in`,
    );
    for (let i = 0; i + 5 < starts.length; i++) {
      // Slot i+5 is 500 ms after slot i; a MAIL FROM is written at its slot or later.
      assert.ok((starts[i + 5] as number) - began >= 500 + i * 100, `send ${i + 5} started too early`);
    }
    // Waiting is on timers, not a loop: well under the 1.1 s of waiting in CPU.
    assert.ok(used.user + used.system < 600_000, `${(used.user + used.system) / 1000} ms of CPU`);
  });
});

test('close() does not wait for the next slot: the sends still waiting fail, those under way finish', async () => {
  await withServer(async (server) => {
    const pool = createPool(options(server, { rateLimit: { messages: 1, perMs: 60_000 } }));
    const sends = [0, 1, 2].map((i) => pool.send(message(i)));
    const outcomes = Promise.allSettled(sends);
    await sends[0];
    const began = Date.now();
    await pool.close();
    assert.ok(Date.now() - began < 10_000, 'close() did not wait a minute for the next slot');
    const [first, second, third] = await outcomes;
    assert.equal(first?.status, 'fulfilled');
    for (const waiting of [second, third]) {
      assert.equal(waiting?.status, 'rejected');
      const error = (waiting as PromiseRejectedResult).reason as SmtpProtocolError;
      assert.ok(error instanceof SmtpProtocolError);
      assert.match(error.message, /closed before this message could start under rateLimit: it was not sent/);
    }
    assert.equal(server.received.length, 1);
  });
});

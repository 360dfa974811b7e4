/**
 * The pool against a real server (npm smtp-server in process): messages
 * spread over connections, connections retired after their message budget
 * and after idleTimeout, a 421 answered by a retry on a new connection, a
 * NOOP check after a pause, close() waiting for messages under way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { createPool, type PoolOptions } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { startRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';

async function withServer(
  options: RealServerOptions,
  run: (server: RealServer, sockets: Socket[]) => Promise<void>,
): Promise<void> {
  const server = await startRealServer({ disabledCommands: ['STARTTLS'], ...options });
  const sockets: Socket[] = [];
  server.raw.on('connection', (socket: Socket) => sockets.push(socket));
  try {
    await run(server, sockets);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

const poolOptions = (server: RealServer, extra: Partial<PoolOptions> = {}): PoolOptions => ({
  server: '127.0.0.1',
  port: server.port,
  envelopeFrom: 'a@example.org',
  recipients: ['b@example.net'],
  addMissingHeaders: false,
  authSources: [],
  timeouts: SHORT_TIMEOUTS,
  retryDelay: 1,
  ...extra,
});

const message = (i: number): string => `Subject: ${i}\r\n\r\nmessage ${i}\r\n`;

test('eight concurrent messages over a pool of two: two connections, every message delivered once', async () => {
  await withServer({}, async (server, sockets) => {
    const pool = createPool(poolOptions(server, { maxConnections: 2 }));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.send(message(i))));
    await pool.close();
    assert.equal(
      results.every((r) => r.reply.code === 250),
      true,
    );
    assert.equal(sockets.length, 2);
    assert.deepEqual(
      server.received.map((r) => r.data.toString()).sort(),
      Array.from({ length: 8 }, (_, i) => message(i)).sort(),
    );
  });
});

test('maxMessagesPerConnection: a connection is replaced after its budget', async () => {
  await withServer({}, async (server, sockets) => {
    const pool = createPool(poolOptions(server, { maxConnections: 1, maxMessagesPerConnection: 2 }));
    for (let i = 0; i < 5; i++) await pool.send(message(i));
    await pool.close();
    assert.equal(server.received.length, 5);
    assert.equal(sockets.length, 3);
  });
});

test('421 to MAIL on a pooled connection: the message is retried on a new connection', async () => {
  let refusals = 0;
  await withServer(
    {
      onMailFrom(_address, session, callback) {
        if (refusals === 0) {
          refusals++;
          const error = Object.assign(new Error('4.3.2 shutting down'), { responseCode: 421 });
          callback(error);
          setTimeout(() => (session as unknown as { close?: () => void }).close?.(), 0);
          return;
        }
        callback();
      },
    },
    async (server, sockets) => {
      const pool = createPool(poolOptions(server, { maxConnections: 1 }));
      const result = await pool.send(message(1));
      await pool.close();
      assert.equal(result.attempts, 2);
      assert.equal(server.received.length, 1);
      assert.equal(sockets.length, 2);
    },
  );
});

test('idleTimeout closes an unused connection; the next message opens a new one', async () => {
  await withServer({}, async (server, sockets) => {
    const pool = createPool(poolOptions(server, { idleTimeout: 30 }));
    await pool.send(message(1));
    const closedByClient = new Promise((resolve) => sockets[0]?.once('close', resolve));
    await closedByClient;
    await pool.send(message(2));
    await pool.close();
    assert.equal(sockets.length, 2);
    assert.equal(server.received.length, 2);
  });
});

test('after a pause the connection is checked with NOOP; one the server dropped is replaced', async () => {
  await withServer({}, async (server, sockets) => {
    const trace: string[] = [];
    const pool = createPool(
      poolOptions(server, { noopAfterIdle: 1, maxConnections: 1, onTrace: (e) => trace.push(e.line) }),
    );
    await pool.send(message(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.send(message(2)); // NOOP on the same connection, then the message
    assert.equal(trace.filter((line) => line === 'NOOP').length, 1);
    sockets[0]?.destroy(); // the server side goes away while idle
    await new Promise((resolve) => setTimeout(resolve, 20));
    await pool.send(message(3));
    await pool.close();
    // The drop was seen as it happened: no NOOP needed to find out, a new connection instead.
    assert.equal(trace.filter((line) => line === 'NOOP').length, 1);
    assert.equal(server.received.length, 3);
    assert.equal(sockets.length, 2);
  });
});

test('close() waits for the messages under way', async () => {
  await withServer({}, async (server) => {
    const pool = createPool(poolOptions(server, { maxConnections: 2 }));
    const sending = Promise.all([pool.send(message(1)), pool.send(message(2)), pool.send(message(3))]);
    await pool.close();
    assert.equal(server.received.length, 3);
    assert.equal((await sending).length, 3);
    await assert.rejects(pool.send(message(4)), { code: 'ECONFIG' });
  });
});

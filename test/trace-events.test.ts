/**
 * Trace events that can debug a pool (wire/trace.ts): every event has a time and its connection's id; the lines of
 * a transaction, and the replies owed to them, carry their message even when transactions are pipelined; connecting,
 * TLS, authentication, retries and reconnections are structured events (kind and fields); formatTrace still prints
 * the readable transcript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, formatTrace, SmtpClient, type TraceEvent } from '../src/index.js';
import { assertNothingLeftOpen, converse, SHORT_TIMEOUTS } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';
import { startRealServer } from './helpers/real-server.js';

const message = (i: number): string =>
  `From: a@example.org\r\nTo: b@example.net\r\nMessage-ID: <m${i}@example.org>\r\nSubject: ${i}\r\n\r\nbody ${i}\r\n`;

test('a pool of two, eight messages pipelined: ids, times, and every line and reply with its own message', async () => {
  const server = await startRealServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
  });
  const events: TraceEvent[] = [];
  const started = Date.now();
  try {
    const pool = createPool({
      server: '127.0.0.1',
      port: server.port,
      user: 'alice',
      password: 's3cret pass',
      authSources: [],
      timeouts: SHORT_TIMEOUTS,
      maxConnections: 2,
      onTrace: (event) => events.push(event),
    });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => pool.send(message(i))));
    await pool.close();
    assert.deepEqual(
      results.map((result) => result.messageId),
      Array.from({ length: 8 }, (_, i) => `<m${i}@example.org>`),
    );
  } finally {
    await server.close();
  }
  const ended = Date.now();
  await assertNothingLeftOpen();

  for (const event of events) {
    assert.ok(event.time >= started && event.time <= ended, `time of ${formatTrace(event)}`);
    assert.equal(typeof event.connection, 'number', `connection of ${formatTrace(event)}`);
  }
  const connections = [...new Set(events.map((event) => event.connection))];
  assert.equal(connections.length, 2, 'two connections');
  for (const id of connections) {
    const own = events.filter((event) => event.connection === id);
    const connect = own[0];
    assert.equal(connect?.kind, 'connect', 'a connection starts with its connect event');
    assert.deepEqual(connect?.fields, { host: '127.0.0.1', port: server.port, implicitTls: false });
    const auth = own.find((event) => event.kind === 'auth');
    assert.equal(auth?.fields?.['user'], 'alice');
    assert.equal(auth?.fields?.['source'] !== undefined, true);
    assert.ok(['PLAIN', 'LOGIN'].includes(String(auth?.fields?.['mechanism'])), JSON.stringify(auth?.fields));
    assert.ok(!JSON.stringify(own).includes('s3cret'), 'no password in any event');
    for (let i = 1; i < own.length; i++) assert.ok((own[i] as TraceEvent).time >= (own[i - 1] as TraceEvent).time);
  }

  const indexes = new Set<number>();
  for (let i = 0; i < 8; i++) {
    const id = `<m${i}@example.org>`;
    const mine = events.filter((event) => event.message?.id === id);
    const sent = mine.filter((event) => event.direction === 'client').map((event) => event.line);
    // MAIL, RCPT, DATA and the final dot are owed a reply each (smtp-server has no CHUNKING).
    assert.deepEqual(sent.slice(0, 3), ['MAIL FROM:<a@example.org>', 'RCPT TO:<b@example.net>', 'DATA'], id);
    const replies = mine.filter((event) => event.direction === 'server').map((event) => event.line);
    assert.equal(replies.length, 4, `${id}: ${JSON.stringify(replies)}`);
    assert.match(replies[2] ?? '', /^354/, id);
    assert.match(replies[3] ?? '', /^250 .*(queued|accepted|OK)/i, id);
    assert.equal(new Set(mine.map((event) => event.connection)).size, 1, `${id} stays on one connection`);
    assert.equal(new Set(mine.map((event) => event.message?.index)).size, 1);
    indexes.add(mine[0]?.message?.index as number);
  }
  assert.equal(indexes.size, 8, 'one index per message');
  const outside = events.filter((event) => event.message === undefined).map((event) => event.line);
  assert.ok(outside.some((line) => line.startsWith('EHLO ')));
  assert.ok(!outside.some((line) => line.startsWith('MAIL ')), 'no transaction line without its message');

  const transcript = events.map(formatTrace);
  assert.ok(transcript.includes('C: MAIL FROM:<a@example.org>'));
  assert.ok(transcript.some((line) => line.startsWith('S: 220 ')));
  assert.ok(transcript.some((line) => line.startsWith('* connecting to 127.0.0.1 port ')));
});

test('a retry is a structured event on the connection of the failed attempt', async () => {
  const events: TraceEvent[] = [];
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 451 4.3.0 try again later
    C: RSET
    S: 250 ok
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { retries: 3, retryDelay: 1, onTrace: (event) => events.push(event) });
  assert.equal(c.error, undefined);
  const retry = events.find((event) => event.kind === 'retry');
  assert.deepEqual(retry?.fields, { attempt: 1, nextAttempt: 2, waitMs: 1, code: 'ESENDER' });
  assert.match(retry?.line ?? '', /^attempt 1 failed \(.*451 4\.3\.0 try again later.*\); trying again in 1 ms$/);
  const mail = events.find((event) => event.line === 'MAIL FROM:<a@x.org>');
  assert.equal(typeof retry?.connection, 'number');
  assert.equal(retry?.connection, mail?.connection);
  const [first, second] = events.filter((event) => event.line === 'MAIL FROM:<a@x.org>');
  assert.equal(first?.message?.index, second?.message?.index, 'both attempts carry the same message index');
});

test('a new connection after the last one closed is a reconnect event naming the one it replaces', async () => {
  const server = await startRealServer({ disabledCommands: ['STARTTLS'] });
  const events: TraceEvent[] = [];
  try {
    const client = new SmtpClient({
      server: '127.0.0.1',
      port: server.port,
      authSources: [],
      timeouts: SHORT_TIMEOUTS,
      onTrace: (event) => events.push(event),
    });
    await client.send(message(1));
    client.close();
    await client.send(message(2));
    await client.quit();
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
  const connects = events.filter((event) => event.kind === 'connect');
  assert.equal(connects.length, 2);
  const [first, second] = connects.map((event) => event.connection as number);
  assert.notEqual(first, second);
  const reconnect = events.filter((event) => event.kind === 'reconnect');
  assert.equal(reconnect.length, 1);
  assert.equal(reconnect[0]?.connection, second);
  assert.deepEqual(reconnect[0]?.fields, { previousConnection: first });
});

/**
 * One overall deadline per send (`timeouts.total`, SPEC §6): no combination
 * of retries, delays and per-phase timeouts runs past it, and the error says
 * how many attempts were made and why it stopped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPool, sendMail, SmtpProtocolError } from '../src/index.js';
import { converse, SHORT_TIMEOUTS } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';
import { withRealServer } from './helpers/real-server.js';

const LONG = { connect: 10_000, greeting: 10_000, command: 10_000, dataBlock: 10_000, dataEnd: 10_000 };

test('a server that never answers EHLO: ETIMEOUT at timeouts.total, not at the command timeout', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    !hang
  `;
  const c = await converse(steps, { timeouts: { ...LONG, total: 300 } });
  assert.equal(c.error?.code, 'ETIMEOUT');
  assert.match(c.error?.message ?? '', /did not finish within timeouts\.total \(300 ms\)/);
  assert.equal(c.error?.attempts, 1);
});

let mailCommands = 0;
const refuseEveryMail = {
  disabledCommands: ['STARTTLS'],
  onMailFrom(_address: unknown, _session: unknown, callback: (error?: Error) => void) {
    mailCommands++;
    callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: 451 }));
  },
};

test('retries stop before they would pass the deadline; the error counts the attempts and says why it stopped', async () => {
  mailCommands = 0;
  await withRealServer(refuseEveryMail, async (server) => {
    const error = await sendMail('Subject: x\r\n\r\nbody\r\n', {
      server: '127.0.0.1',
      port: server.port,
      envelopeFrom: 'a@example.org',
      recipients: ['b@example.net'],
      authSources: [],
      // Room for an attempt on a busy machine (at 400 ms, one slow attempt ran into the deadline itself: ETIMEOUT).
      timeouts: { ...SHORT_TIMEOUTS, total: 2000 },
      retries: 10,
      retryDelay: 500,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ESENDER');
    assert.ok(
      error.attempts !== undefined && error.attempts >= 1 && error.attempts < 10,
      `attempts: ${error.attempts}`,
    );
    assert.equal(mailCommands, error.attempts);
    assert.match(error.message, /\(\d+ attempts?; another attempt would pass timeouts\.total \(2000 ms\)\)/);
  });
});

test('with retries used up, the error says how many attempts were made', async () => {
  mailCommands = 0;
  await withRealServer(refuseEveryMail, async (server) => {
    const error = await sendMail('Subject: x\r\n\r\nbody\r\n', {
      server: '127.0.0.1',
      port: server.port,
      envelopeFrom: 'a@example.org',
      recipients: ['b@example.net'],
      authSources: [],
      timeouts: { ...SHORT_TIMEOUTS, total: 0 },
      retries: 3,
      retryDelay: 1,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.attempts, 3);
    assert.equal(mailCommands, 3);
    assert.match(error.message, /\(gave up after 3 attempts\)$/);
  });
});

test('a pool send has the same deadline', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    !hang
  `;
  // The scripted server takes one connection; the pool's send waits at EHLO until the deadline.
  const { startFakeServer } = await import('./helpers/fake-server.js');
  const server = await startFakeServer(steps);
  const pool = createPool({
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    authSources: [],
    envelopeFrom: 'a@x.org',
    recipients: ['b@y.org'],
    timeouts: { ...LONG, total: 300 },
  });
  await assert.rejects(
    pool.send('hello\r\n'),
    (error: SmtpProtocolError) => error.code === 'ETIMEOUT' && /timeouts\.total/.test(error.message),
  );
  await pool.close();
  server.stop();
  await server.done;
});

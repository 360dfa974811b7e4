/**
 * Port 465 (or `smtps`) without a streamType means implicit TLS, as
 * X-Message-SMTP-Method and nodemailer already have it; on any other port a
 * greeting that never comes (a port that speaks TLS from the first byte) is
 * not retried, and its hint says to use streamType 'ssl'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { sendMail, SmtpProtocolError } from '../src/index.js';
import { resolveTarget } from '../src/options.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { startRealServer } from './helpers/real-server.js';

const MESSAGE = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\nhello\r\n';

test('port 465, smtps and submissions without streamType resolve to implicit TLS; a streamType given wins', () => {
  for (const port of [465, '465', 'smtps', 'SMTPS', 'submissions']) {
    assert.equal(resolveTarget({ server: 'x', port }).implicitTls, true, String(port));
  }
  assert.equal(resolveTarget({ server: 'x', port: 465, streamType: 'starttls' }).implicitTls, false);
  assert.equal(resolveTarget({ server: 'x', port: 587 }).implicitTls, false);
  assert.equal(resolveTarget({ server: 'x', streamType: 'ssl' }).port, 465);
});

test('sendMail to port 465 without streamType speaks TLS from the first byte', async (t) => {
  // Port 465 needs privileges to listen on; a loopback address of its own avoids a clash with anything on 127.0.0.1.
  const host = '127.0.0.46';
  let server;
  try {
    server = await startRealServer({ secure: true, listenPort: 465, host });
  } catch (error) {
    t.skip(
      `cannot listen on ${host}:465 (${(error as NodeJS.ErrnoException).code ?? String(error)}): needs root or ` +
        `CAP_NET_BIND_SERVICE`,
    );
    return;
  }
  try {
    for (const port of [465, 'smtps']) {
      const result = await sendMail(MESSAGE, {
        server: host,
        port,
        tls: { ca: fixture('ca.pem'), servername: 'localhost' },
        timeouts: SHORT_TIMEOUTS,
        authSources: [],
        retries: 1,
      });
      assert.equal(result.secure, true);
    }
    assert.equal(server.received.length, 2);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
});

/** A TLS listener (implicit TLS, as on port 465) on some other port, counting connections. */
async function withTlsListener(run: (port: number, connections: () => number) => Promise<void>): Promise<void> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: fixture('server-key.pem'), cert: fixture('server.pem') });
  server.on('connection', (socket: net.Socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as net.AddressInfo).port, () => count);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  await assertNothingLeftOpen();
}

test('plain text to a TLS port: the greeting timeout is not retried, and the hint says streamType ssl', async () => {
  await withTlsListener(async (port, connections) => {
    const error = await sendMail(MESSAGE, {
      server: '127.0.0.1',
      port,
      timeouts: { ...SHORT_TIMEOUTS, greeting: 300 },
      authSources: [],
      retryDelay: 1,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ETIMEOUT');
    assert.equal(error.attempts, 1);
    assert.equal(error.transient, false);
    assert.match(
      error.hint ?? '',
      /sent no greeting: port \d+ probably expects TLS from the first byte.*streamType 'ssl'/,
    );
    assert.equal(connections(), 1);
  });
});

test('a server that says nothing and hangs up (a TLS port giving up on its handshake): not retried, same hint', async () => {
  // What Exim's TLS-on-connect port does after smtp_receive_timeout: closes without a byte.
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    setTimeout(() => socket.destroy(), 100);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const error = await sendMail(MESSAGE, {
      server: '127.0.0.1',
      port,
      timeouts: SHORT_TIMEOUTS,
      authSources: [],
      retryDelay: 1,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ECONNECTION');
    assert.equal(error.attempts, 1);
    assert.match(error.hint ?? '', /streamType 'ssl'/);
    assert.equal(connections, 1);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  await assertNothingLeftOpen();
});

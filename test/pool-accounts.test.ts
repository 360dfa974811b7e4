/**
 * A pool that protects the account and keeps its budget (issue #14 items 5
 * and 6), against a real server (npm smtp-server in process): refused
 * credentials are tried on one connection only, once per mechanism, and every
 * later send fails at once until new credentials are given; no connection
 * carries more than maxMessagesPerConnection, however many sends start at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { createPool, SmtpClient, SmtpProtocolError, type PoolOptions } from '../src/index.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';

const USER = 'alice';
const PASS = 's3cret pass';

interface AuthLog {
  connections: number;
  attempts: string[];
}

function authServer(log: AuthLog): Parameters<typeof withRealServer>[0] {
  return {
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
    onConnect(_session, callback) {
      log.connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      log.attempts.push(auth.method);
      const ok = auth.method === 'CRAM-MD5' ? auth.validatePassword(PASS) : auth.password === PASS;
      if (auth.username !== USER || !ok) return callback(new Error('Invalid username or password'));
      return callback(null, { user: USER });
    },
  };
}

const options = (server: RealServer, extra: Partial<PoolOptions>): PoolOptions => ({
  server: '127.0.0.1',
  port: server.port,
  envelopeFrom: 'a@example.org',
  recipients: ['b@example.net'],
  addMissingHeaders: false,
  authSources: [],
  user: USER,
  timeouts: SHORT_TIMEOUTS,
  retryDelay: 1,
  ...extra,
});

const message = (i: number): string => `Subject: ${i}\r\n\r\nmessage ${i}\r\n`;

test('5 concurrent pool sends with a wrong password: 1 connection, one AUTH per mechanism, every send EAUTH', async () => {
  const log: AuthLog = { connections: 0, attempts: [] };
  await withRealServer(authServer(log), async (server) => {
    const pool = createPool(options(server, { password: 'wrong', maxConnections: 5 }));
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => pool.send(message(i))));
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result.reason as SmtpProtocolError).code, 'EAUTH');
    }
    assert.equal(log.connections, 1);
    assert.deepEqual(log.attempts, ['CRAM-MD5', 'PLAIN', 'LOGIN']);

    // Later sends fail at once with the same error, without connecting.
    await assert.rejects(
      pool.send(message(6)),
      (error: SmtpProtocolError) => error.code === 'EAUTH' && /535/.test(error.message),
    );
    assert.equal(log.connections, 1);

    // New credentials open the gate.
    pool.setCredentials({ user: USER, password: PASS });
    const sent = await pool.send(message(7));
    assert.equal(sent.authMechanism, 'CRAM-MD5');
    await pool.close();
    assert.equal(server.received.length, 1);
  });
});

test('an SmtpClient whose credentials were refused fails later sends without connecting; promptCredentials may answer anew', async () => {
  const log: AuthLog = { connections: 0, attempts: [] };
  await withRealServer(authServer(log), async (server) => {
    const asked: string[] = [];
    const client = new SmtpClient(
      options(server, {
        password: 'wrong',
        authMechanisms: ['PLAIN'],
        promptCredentials: async (request) => {
          asked.push(request.host);
          return asked.length === 1 ? undefined : { user: USER, password: PASS };
        },
      }),
    );
    await assert.rejects(client.send(message(1)), { code: 'EAUTH' });
    // The prompt declines: the refusal stands, no connection.
    await assert.rejects(client.send(message(2)), { code: 'EAUTH' });
    assert.equal(log.connections, 1);
    // The prompt answers: a new connection with the new credentials.
    const result = await client.send(message(3));
    assert.equal(result.authMechanism, 'PLAIN');
    await client.quit();
    assert.equal(log.connections, 2);
    assert.deepEqual(log.attempts, ['PLAIN', 'PLAIN']);
    assert.deepEqual(asked, ['127.0.0.1', '127.0.0.1']);
  });
});

test('maxMessagesPerConnection holds under a burst: 12 sends at once, 5 per connection at most', async () => {
  const perConnection = new Map<string, number>();
  await withRealServer(
    {
      disabledCommands: ['STARTTLS', 'AUTH'],
      onMailFrom(_address, session, callback) {
        perConnection.set(session.id, (perConnection.get(session.id) ?? 0) + 1);
        callback();
      },
    },
    async (server) => {
      const sockets: Socket[] = [];
      server.raw.on('connection', (socket: Socket) => sockets.push(socket));
      const pool = createPool(options(server, { user: undefined, maxConnections: 1, maxMessagesPerConnection: 5 }));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.send(message(i))));
      await pool.close();
      assert.equal(results.length, 12);
      assert.equal(server.received.length, 12);
      assert.deepEqual([...perConnection.values()], [5, 5, 2]);
      assert.equal(sockets.length, 3);
    },
  );
});

test('a pool opens its second connection only once the first has opened', async () => {
  let open = 0;
  let most = 0;
  await withRealServer(
    {
      disabledCommands: ['STARTTLS', 'AUTH'],
      onConnect(_session, callback) {
        open++;
        most = Math.max(most, open);
        callback();
      },
      onClose() {
        open--;
      },
    },
    async (server) => {
      const pool = createPool(options(server, { user: undefined, maxConnections: 3 }));
      await Promise.all(Array.from({ length: 9 }, (_, i) => pool.send(message(i))));
      await pool.close();
      assert.equal(server.received.length, 9);
      assert.ok(most >= 2 && most <= 3, `connections at once: ${most}`);
    },
  );
});

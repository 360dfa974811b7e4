/**
 * Reaching the server from where users are (issue #21 items 1-3): a socket factory (`connect`), proxies on it (SOCKS5
 * through Dante, with and without user and password, `socks5h` resolving at the proxy; HTTP CONNECT through
 * tinyproxy with Basic credentials), TLS and STARTTLS on top, the proxy's refusals as ECONNECTION naming the proxy,
 * no password of a proxy in any error, no password in clear text through a proxy, and `localAddress` / `family`.
 * The Dante and tinyproxy tests skip with a reason when those are not installed (.ci/run installs them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sendMail, SmtpProtocolError, type SendOptions } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import {
  HTTP_PASSWORD,
  HTTP_USER,
  missing,
  SOCKS_PASSWORD,
  SOCKS_USER,
  startDante,
  startTinyproxy,
  type RunningProxy,
} from './helpers/proxies.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';

const MESSAGE = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: proxied\r\n\r\nhello\r\n';

async function withServer(secure: boolean, run: (server: RealServer, peers: string[]) => Promise<void>) {
  const peers: string[] = [];
  const server = await startRealServer({
    secure,
    onConnect: (session, callback) => {
      peers.push(session.remoteAddress);
      callback();
    },
    onAuth: (login, _session, callback) =>
      login.password === 'mail pass' ? callback(null, { user: 'alice' }) : callback(new Error('Invalid password')),
  });
  try {
    await run(server, peers);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

async function withProxy(start: () => Promise<RunningProxy>, run: (proxy: RunningProxy) => Promise<void>) {
  const proxy = await start();
  try {
    await run(proxy);
  } finally {
    await proxy.stop();
  }
}

const base = (server: RealServer, extra: Partial<SendOptions>): SendOptions => ({
  server: '127.0.0.1',
  port: server.port,
  authSources: [],
  timeouts: SHORT_TIMEOUTS,
  tls: { ca: fixture('ca.pem') },
  retries: 1,
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<SmtpProtocolError> {
  return promise.then(
    () => assert.fail('expected a failure'),
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError, String(error));
      return error;
    },
  );
}

test('connect: a socket factory replaces the TCP connection; STARTTLS and implicit TLS happen on top', async () => {
  for (const secure of [false, true]) {
    await withServer(secure, async (server) => {
      const asked: string[] = [];
      const result = await sendMail(
        MESSAGE,
        base(server, {
          server: 'localhost',
          streamType: secure ? 'ssl' : 'starttls',
          connect: async ({ host, port, signal }) => {
            asked.push(`${host}:${port}:${signal.aborted}`);
            const socket = net.connect({ host: '127.0.0.1', port });
            await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
            return socket;
          },
        }),
      );
      assert.equal(result.secure, true);
      assert.deepEqual(asked, [`localhost:${server.port}:false`]);
      assert.equal(server.received.length, 1);
    });
  }
});

test('a factory that fails is ECONNECTION (transient); proxy and connect together are ECONFIG', async () => {
  await withServer(false, async (server) => {
    const error = await failure(
      sendMail(MESSAGE, base(server, { connect: async () => Promise.reject(new Error('tunnel down')) })),
    );
    assert.equal(error.code, 'ECONNECTION');
    assert.match(error.message, /tunnel down/);
    const both = await failure(
      sendMail(MESSAGE, base(server, { proxy: 'socks5://127.0.0.1:1', connect: async () => new net.Socket() })),
    );
    assert.equal(both.code, 'ECONFIG');
    for (const proxy of ['ftp://u:topsecret@h', 'socks5://u:top/secret@h:1080', 'http://u:top@secret@h/path']) {
      const bad = await failure(sendMail(MESSAGE, base(server, { proxy })));
      assert.equal(bad.code, 'ECONFIG');
      assert.ok(!/top|secret/.test(bad.message), bad.message);
    }
    assert.equal(server.received.length, 0);
  });
});

test('localAddress and family: the server sees the address given; IPv6 only to an IPv4 listener fails', async () => {
  await withServer(false, async (server, peers) => {
    await sendMail(MESSAGE, base(server, { server: 'localhost', family: 4, localAddress: '127.0.0.2' }));
    assert.deepEqual(peers, ['127.0.0.2']);
    const v6 = await failure(sendMail(MESSAGE, base(server, { server: 'localhost', family: 6 })));
    assert.equal(v6.code, 'ECONNECTION');
    const wrong = await failure(sendMail(MESSAGE, base(server, { localAddress: 'here' })));
    assert.equal(wrong.code, 'ECONFIG');
    assert.equal((await failure(sendMail(MESSAGE, base(server, { family: 5 as 4 })))).code, 'ECONFIG');
  });
});

test(
  'SOCKS5 through Dante: socks5 and socks5h, STARTTLS on top; a refused destination names the proxy',
  { skip: missing('danted') ?? false },
  async () => {
    await withProxy(
      () => startDante(false),
      async (proxy) => {
        await withServer(false, async (server) => {
          const plain = await sendMail(MESSAGE, base(server, { proxy: `socks5://127.0.0.1:${proxy.port}` }));
          assert.equal(plain.secure, true); // opportunistic STARTTLS through the tunnel
          const named = await sendMail(
            MESSAGE,
            base(server, { server: 'localhost', streamType: 'starttls', proxy: `socks5h://127.0.0.1:${proxy.port}` }),
          );
          assert.equal(named.secure, true);
          assert.equal(server.received.length, 2);
          // Through a proxy the peer is not known to be loopback: a password goes only over TLS.
          const clear = await failure(
            sendMail(
              MESSAGE,
              base(server, {
                streamType: 'plain',
                user: 'alice',
                password: 'mail pass',
                proxy: `socks5://127.0.0.1:${proxy.port}`,
              }),
            ),
          );
          assert.equal(clear.code, 'EPOLICY');
          const refused = await failure(
            sendMail(MESSAGE, base(server, { port: 9, proxy: `socks5://127.0.0.1:${proxy.port}` })),
          );
          assert.equal(refused.code, 'ECONNECTION');
          assert.match(
            refused.message,
            /proxy socks5:\/\/127\.0\.0\.1:\d+ failed: .*connection not allowed by ruleset/,
          );
          assert.match(refused.hint ?? '', /proxy/);
        });
      },
    );
  },
);

test(
  'SOCKS5 with a user and password (RFC 1929) through Dante; a wrong password is the proxy refusing, never quoted',
  { skip: missing('danted', true) ?? false },
  async () => {
    await withProxy(
      () => startDante(true),
      async (proxy) => {
        await withServer(true, async (server) => {
          const url = (password: string): string =>
            `socks5://${SOCKS_USER}:${encodeURIComponent(password)}@127.0.0.1:${proxy.port}`;
          const result = await sendMail(MESSAGE, base(server, { streamType: 'ssl', proxy: url(SOCKS_PASSWORD) }));
          assert.equal(result.secure, true);
          const refused = await failure(
            sendMail(MESSAGE, base(server, { streamType: 'ssl', proxy: url('wrong pass') })),
          );
          assert.equal(refused.code, 'ECONNECTION');
          assert.match(refused.message, /proxy .* failed: it refused the user and password/);
          assert.ok(!/wrong|proxy%20pass|proxy pass/.test(refused.message), refused.message);
          const none = await failure(
            sendMail(MESSAGE, base(server, { streamType: 'ssl', proxy: `socks5://127.0.0.1:${proxy.port}` })),
          );
          assert.match(none.message, /proxy .* failed: it accepts none of our methods/);
          assert.equal(server.received.length, 1);
        });
      },
    );
  },
);

test(
  'HTTP CONNECT through tinyproxy with Basic credentials; implicit TLS on top; a 407 names the proxy',
  { skip: missing('tinyproxy') ?? false },
  async () => {
    await withProxy(startTinyproxy, async (proxy) => {
      await withServer(true, async (server) => {
        const url = (password: string): string => `http://${HTTP_USER}:${password}@127.0.0.1:${proxy.port}`;
        const result = await sendMail(
          MESSAGE,
          base(server, { server: 'localhost', streamType: 'ssl', proxy: url(HTTP_PASSWORD) }),
        );
        assert.equal(result.secure, true);
        assert.equal(server.received.length, 1);
        const refused = await failure(sendMail(MESSAGE, base(server, { streamType: 'ssl', proxy: url('nopenope') })));
        assert.equal(refused.code, 'ECONNECTION');
        assert.match(
          refused.message,
          /proxy http:\/\/bob:\*\*\*@127\.0\.0\.1:\d+ failed: it refused CONNECT .*: 40[17]/,
        );
        assert.ok(!refused.message.includes('nopenope'));
      });
    });
  },
);

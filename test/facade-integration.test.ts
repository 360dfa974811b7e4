/**
 * The send-it facade against a real server (npm smtp-server in process): the
 * envelope derived from the headers, Bcc stripped, Date and Message-ID added,
 * BODY=8BITMIME for a UTF-8 body; SmtpClient with 100 messages on one
 * connection, and reconnecting after the server dropped it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { sendMail, SmtpClient, type ClientOptions } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';

async function withServer(run: (server: RealServer, connections: Socket[]) => Promise<void>): Promise<void> {
  const connections: Socket[] = [];
  const server = await startRealServer();
  server.raw.on('connection', (socket: Socket) => connections.push(socket));
  try {
    await run(server, connections);
  } finally {
    await server.close();
  }
  await assertNothingLeftOpen();
}

const base = (server: RealServer): ClientOptions => ({
  server: 'localhost',
  port: server.port,
  tls: { ca: fixture('ca.pem') },
  timeouts: SHORT_TIMEOUTS,
  authSources: [],
});

test('From/To/Cc/Bcc and a UTF-8 body: envelope from the headers, Bcc stripped, Date and Message-ID added', async () => {
  const visible = [
    'From: Alice <alice@example.org>',
    'To: Bob <bob@example.net>, "Doe, Carol" <carol@example.net>',
    'Cc: dave@example.net',
    'Subject: =?UTF-8?B?w6l0w6k=?=',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  const body = ['', 'Caf\u00e9 au lait \u2615', '.a leading dot', ''].join('\n');
  const message =
    [...visible.slice(0, 3), 'Bcc: hidden@example.com,', '  also-hidden@example.com', ...visible.slice(3)].join('\n') +
    '\n' +
    body;
  await withServer(async (server) => {
    const result = await sendMail(message, base(server));
    assert.equal(result.secure, true);
    assert.deepEqual(result.envelope, {
      from: 'alice@example.org',
      to: ['bob@example.net', 'carol@example.net', 'dave@example.net', 'hidden@example.com', 'also-hidden@example.com'],
    });
    const got = server.received[0]!;
    assert.equal(got.from, 'alice@example.org');
    assert.deepEqual(got.to, result.envelope.to);
    assert.equal(got.body, '8BITMIME');
    const delivered = got.data.toString('utf8');
    const date = /^Date: .*$/m.exec(delivered)?.[0];
    const id = /^Message-ID: <[^>]+@example\.org>$/m.exec(delivered.replaceAll('\r', ''))?.[0];
    assert.ok(date !== undefined && id !== undefined, delivered);
    assert.equal(`Message-ID: ${result.messageId}`, id, 'the result names the Message-ID that was added');
    const expected = [...visible, date.replace('\r', ''), id].join('\r\n') + '\r\n' + body.replaceAll('\n', '\r\n');
    assert.equal(delivered, expected);
    assert.ok(!delivered.includes('hidden'));
  });
});

test('SendResult.messageId: the given Message-ID (unfolded), none without one, a new one per message', async () => {
  await withServer(async (server) => {
    const given = 'From: a@example.org\nTo: b@example.net\nMessage-ID:\n <given.1@example.org> \n\nhi\n';
    assert.equal((await sendMail(given, base(server))).messageId, '<given.1@example.org>');
    const bare = 'From: a@example.org\nTo: b@example.net\n\nhi\n';
    assert.equal((await sendMail(bare, { ...base(server), addMissingHeaders: false })).messageId, undefined);
    const first = (await sendMail(bare, base(server))).messageId;
    const second = (await sendMail(bare, base(server))).messageId;
    assert.match(first ?? '', /^<[^<>@\s]+@example\.org>$/);
    assert.notEqual(first, second);
    const delivered = server.received.map((got) => /^Message-ID:\s*(<[^>]*>)/im.exec(got.data.toString('latin1'))?.[1]);
    assert.deepEqual(delivered, ['<given.1@example.org>', undefined, first, second]);
  });
});

test('SmtpClient: 100 messages on one connection', async () => {
  await withServer(async (server, connections) => {
    const client = await SmtpClient.connect(base(server));
    for (let i = 0; i < 100; i++) {
      const result = await client.send(`From: a@example.org\nTo: b@example.net\nSubject: ${i}\n\nmessage ${i}\n`);
      assert.equal(result.reply.code, 250);
    }
    await client.quit();
    assert.equal(connections.length, 1);
    assert.equal(server.received.length, 100);
    assert.match(server.received[99]!.data.toString('utf8'), /\r\n\r\nmessage 99\r\n$/);
  });
});

test('SmtpClient: after the server dropped the connection, the next send reconnects', async () => {
  await withServer(async (server, connections) => {
    const client = await SmtpClient.connect({ ...base(server), retryDelay: 1 });
    await client.send('From: a@example.org\nTo: b@example.net\n\none\n');
    connections[0]!.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await client.send('From: a@example.org\nTo: b@example.net\n\ntwo\n');
    assert.equal(second.reply.code, 250);
    await client.quit();
    assert.equal(connections.length, 2);
    assert.equal(server.received.length, 2);
  });
});

/**
 * Integration against a real SMTP server (npm smtp-server, in process, on
 * loopback): plain, STARTTLS and implicit TLS with the fixture CA, and the
 * bytes the server received compared with the normalised message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { Readable } from 'node:stream';
import { sendMail, type SendOptions, type StreamType } from '../src/index.js';
import { SmtpProtocolError } from '../src/errors.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';

const MESSAGE = [
  'From: Alice <alice@example.org>',
  'To: Bob <bob@example.net>',
  'Subject: integration',
  '',
  'Hello Bob,',
  '.a line that starts with a dot',
  '.',
  '..two dots',
  'a bare CR\rin the middle and UTF-8: \u00e9t\u00e9 \u2603',
  'no final line end',
].join('\n');

/** What the server must store: CRLF line ends, dots as given (the server unstuffs). */
const DELIVERED = MESSAGE.replace(/\r\n|\r|\n/g, '\r\n') + '\r\n';

const withServer = withRealServer;

function options(server: RealServer, extra: Partial<SendOptions>): SendOptions {
  return {
    server: 'localhost',
    port: server.port,
    envelopeFrom: 'alice@example.org',
    recipients: ['bob@example.net', 'carol@example.net'],
    tls: { ca: fixture('ca.pem') },
    timeouts: SHORT_TIMEOUTS,
    addMissingHeaders: false,
    ...extra,
  };
}

interface Case {
  readonly name: string;
  readonly server: RealServerOptions;
  readonly streamType: StreamType | undefined;
  readonly secure: boolean;
}

const cases: readonly Case[] = [
  { name: 'plain TCP', server: { disabledCommands: ['STARTTLS'] }, streamType: undefined, secure: false },
  { name: 'STARTTLS (opportunistic default)', server: {}, streamType: undefined, secure: true },
  { name: "STARTTLS required ('starttls')", server: {}, streamType: 'starttls', secure: true },
  { name: "implicit TLS ('ssl')", server: { secure: true }, streamType: 'ssl', secure: true },
];

for (const c of cases) {
  test(`${c.name}: delivered bytes equal the normalised message`, async () => {
    await withServer(c.server, async (server) => {
      const result = await sendMail(MESSAGE, options(server, { streamType: c.streamType }));
      assert.equal(result.secure, c.secure);
      assert.equal(result.reply.code, 250);
      assert.deepEqual(result.accepted, ['bob@example.net', 'carol@example.net']);
      assert.equal(server.received.length, 1);
      const got = server.received[0]!;
      assert.equal(got.secure, c.secure);
      assert.equal(got.from, 'alice@example.org');
      assert.deepEqual(got.to, ['bob@example.net', 'carol@example.net']);
      assert.equal(got.body, '8BITMIME');
      assert.equal(got.data.toString('utf8'), DELIVERED);
    });
  });
}

test('a 4 MiB message from a stream, in uneven chunks: delivered bytes equal the normalised message', async () => {
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++)
    lines.push(i % 7 === 0 ? `.line ${i}` : i % 11 === 0 ? `line ${i}\r` : `line ${i} ${'x'.repeat(i % 90)}`);
  const text = lines.join('\n');
  const bytes = Buffer.from(text);
  async function* source(): AsyncGenerator<Buffer> {
    for (let at = 0, step = 1; at < bytes.length; at += step, step = ((step * 7 + 3) % 65_536) + 1)
      yield bytes.subarray(at, at + step);
  }
  await withServer({}, async (server) => {
    const result = await sendMail(Readable.from(source()), options(server, {}));
    assert.equal(result.secure, true);
    assert.equal(result.size, bytes.length);
    const want = Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n') + '\r\n');
    const got = server.received[0]!.data;
    assert.equal(got.length, want.length);
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(want).digest('hex'));
  });
});

test('STARTTLS with the wrong CA: ETLS, and the server never sees MAIL', async () => {
  await withServer({}, async (server) => {
    const error = await sendMail(MESSAGE, options(server, { tls: { ca: fixture('other-ca.pem') } })).catch(
      (e: unknown) => e,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ETLS');
    assert.equal(server.mailCommands, 0);
    assert.equal(server.received.length, 0);
  });
});

test('implicit TLS with the wrong CA: ETLS, and the server never sees MAIL', async () => {
  await withServer({ secure: true }, async (server) => {
    const error = await sendMail(
      MESSAGE,
      options(server, { streamType: 'tls', tls: { ca: fixture('other-ca.pem') } }),
    ).catch((e: unknown) => e);
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ETLS');
    assert.equal(server.mailCommands, 0);
  });
});

test('IPv6 loopback: connects to ::1 and verifies the certificate by IP address', async (t) => {
  const hasV6 = Object.values(networkInterfaces())
    .flat()
    .some((i) => i?.address === '::1');
  if (!hasV6) {
    t.skip('no ::1 on this machine');
    return;
  }
  await withServer({ host: '::1' }, async (server) => {
    const result = await sendMail(MESSAGE, options(server, { server: '::1', streamType: 'starttls' }));
    assert.equal(result.secure, true);
    assert.equal(result.tls?.authorized, true);
    assert.equal(server.received[0]?.data.toString('utf8'), DELIVERED);
  });
});

/**
 * Standard input spooled before sending (issue #14 item 11): in memory up to
 * a limit, beyond it a private temporary file measured on the way (size with
 * CRLF line ends, 8-bit, NUL), so that a streamed message gets SIZE= and
 * BODY=8BITMIME and a message over the server's limit is refused before MAIL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spool } from '../src/cli/spool.js';
import { LineEndMeter, normalizedSize } from '../src/wire/line-ends.js';
import { sendMail, SmtpProtocolError } from '../src/index.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { withRealServer } from './helpers/real-server.js';

async function* pieces(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

test('LineEndMeter agrees with normalizedSize however the bytes are cut (CR at chunk ends included)', () => {
  const alphabet = ['\r', '\n', 'a', '.', '\r\n', 'é'];
  let seed = 7;
  const random = (n: number): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  for (let round = 0; round < 2000; round++) {
    const text = Buffer.from(
      Array.from({ length: random(40) }, () => alphabet[random(alphabet.length)]).join(''),
      'utf8',
    );
    const meter = new LineEndMeter();
    for (let at = 0; at < text.length;) {
      const step = 1 + random(5);
      meter.push(text.subarray(at, at + step));
      at += step;
    }
    assert.equal(meter.size, normalizedSize(text), JSON.stringify(text.toString('latin1')));
    assert.equal(
      meter.eightBit,
      text.some((byte) => byte >= 0x80),
    );
  }
});

test('up to the limit the message stays in memory; beyond it, a 0600 file that dispose() removes', async () => {
  const message = 'From: a@example.org\nTo: b@example.net\n\n' + 'line\r\nbare\rend\n'.repeat(100);
  const small = await spool(pieces(message, 7), 1 << 20);
  assert.ok(Buffer.isBuffer(small.message));
  assert.equal(small.message.toString('utf8'), message);

  const before = await spoolDirectories();
  const big = await spool(pieces(message, 7), 64);
  assert.ok(!Buffer.isBuffer(big.message));
  assert.deepEqual(big.message.measured, { wireSize: normalizedSize(Buffer.from(message)), eightBit: false });
  const read: Buffer[] = [];
  for await (const chunk of big.message) read.push(chunk);
  assert.equal(Buffer.concat(read).toString('utf8'), message);
  assert.ok(big.start.length > 64 && message.startsWith(big.start.toString('utf8')));
  const created = (await spoolDirectories()).filter((name) => !before.includes(name));
  assert.equal(created.length, 1);
  const directory = path.join(os.tmpdir(), created[0] as string);
  assert.equal((await fs.stat(directory)).mode & 0o777, 0o700);
  assert.equal((await fs.stat(path.join(directory, 'message'))).mode & 0o777, 0o600);
  await big.dispose();
  await assert.rejects(fs.access(directory), { code: 'ENOENT' });
});

async function spoolDirectories(): Promise<string[]> {
  return (await fs.readdir(os.tmpdir())).filter((name) => name.startsWith('smtpmail-spool-'));
}

test('a NUL in a spooled file is refused (EINPUT) and the file removed', async () => {
  const before = (await spoolDirectories()).length;
  await assert.rejects(
    spool(pieces(Buffer.concat([Buffer.alloc(100, 0x61), Buffer.from([0]), Buffer.alloc(100, 0x61)]), 16), 32),
    {
      code: 'EINPUT',
      message: /NUL byte at offset 100/,
    },
  );
  assert.equal((await spoolDirectories()).length, before);
});

test('a spooled (measured) message gets SIZE= and BODY=8BITMIME; one over the limit is refused before MAIL', async () => {
  let mails = 0;
  await withRealServer(
    {
      disabledCommands: ['STARTTLS'],
      size: 2000,
      onMailFrom: (_a, _s, callback) => {
        mails++;
        callback();
      },
    },
    async (server) => {
      const options = { server: '127.0.0.1', port: server.port, authSources: [], timeouts: SHORT_TIMEOUTS, retries: 1 };
      const fits = await spool(pieces('From: a@example.org\nTo: b@example.net\n\n' + 'Grüße\n'.repeat(50), 10), 32);
      await sendMail(fits.message, options);
      await fits.dispose();
      assert.equal(server.received[0]?.body, '8BITMIME');
      assert.equal(Number(server.received[0]?.size), server.received[0]?.data.length);

      const tooBig = await spool(
        pieces('From: a@example.org\nTo: b@example.net\n\n' + 'x'.repeat(70).concat('\n').repeat(50), 10),
        32,
      );
      await assert.rejects(
        sendMail(tooBig.message, options),
        (error: SmtpProtocolError) => error.code === 'ESIZE' && /more than the 2000 octets/.test(error.message),
      );
      await tooBig.dispose();
      assert.equal(mails, 1);
    },
  );
});

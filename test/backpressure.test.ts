/**
 * Back-pressure: a server that stops reading in the middle of DATA must stop
 * the client from reading its message stream. Checked by counting bytes (how
 * far the client read ahead of the server), never by time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { sendMail } from '../src/index.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';

const TOTAL_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** Socket buffers on both sides plus a few chunks: far below the message size. */
const READ_AHEAD_LIMIT_BYTES = 16 * 1024 * 1024;
const SETTLE_POLLS = 100;

test('a server that stops reading: the client stops pulling from the stream; everything arrives after it resumes', async () => {
  let serverRead = 0;
  let paused: (() => void) | undefined;
  const pausedNow = new Promise<void>((resolve) => (paused = resolve));
  let resume = (): void => {};
  const server = net.createServer((socket) => {
    server.close();
    let inData = false;
    let tail = '';
    socket.write('220 slow.example ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        serverRead += chunk.length;
        tail = (tail + chunk.toString('latin1')).slice(-5);
        if (tail === '\r\n.\r\n') {
          inData = false; // QUIT comes only after this reply
          socket.write('250 queued\r\n');
        }
        return;
      }
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        if (line.startsWith('EHLO')) socket.write('250 slow.example\r\n');
        else if (line.startsWith('MAIL') || line.startsWith('RCPT')) socket.write('250 ok\r\n');
        else if (line === 'QUIT') socket.end('221 bye\r\n');
        else if (line === 'DATA') {
          inData = true;
          socket.write('354 go\r\n');
          socket.pause(); // stop reading: the kernel buffers fill, then the client must wait
          resume = () => socket.resume();
          paused?.();
        }
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  let pulled = 0;
  async function* source(): AsyncGenerator<Buffer> {
    const line = Buffer.from(`${'x'.repeat(78)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: CHUNK_BYTES / line.length }, () => line));
    while (pulled < TOTAL_BYTES) {
      pulled += chunk.length;
      yield chunk;
    }
  }
  const sending = sendMail(source(), {
    server: '127.0.0.1',
    port,
    clientName: 'client.example',
    envelopeFrom: 'a@x.org',
    recipients: ['b@y.org'],
    addMissingHeaders: false,
    authSources: [],
    timeouts: { ...SHORT_TIMEOUTS, dataBlock: 10_000 },
  });
  await pausedNow;
  // Wait (a bounded number of polls) until the client stops pulling.
  let last = -1;
  for (let poll = 0; poll < SETTLE_POLLS && pulled !== last; poll++) {
    last = pulled;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  assert.equal(pulled, last, 'the client stopped reading its stream');
  assert.ok(
    pulled - serverRead < READ_AHEAD_LIMIT_BYTES,
    `read ahead ${pulled - serverRead} bytes while the server read ${serverRead}`,
  );
  assert.ok(pulled < TOTAL_BYTES);
  resume();
  const result = await sending;
  assert.equal(result.reply.code, 250);
  assert.equal(pulled >= TOTAL_BYTES, true);
  assert.equal(serverRead, pulled + 3, 'the whole message, then ".\\r\\n"');
  await assertNothingLeftOpen();
});

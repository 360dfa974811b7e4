/**
 * An untouched fs.createReadStream is read by client/file-stream.ts with reused buffers: the bytes delivered are the
 * file's (ranges, a CR|LF pair cut by a read, several MiB), its buffers come back once written and are read into
 * again, the stream given is closed, no descriptor is left open, and any stream it must not take over (another fs,
 * an encoding, already flowing, opened by descriptor) is sent as it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { FIRST_READ_BYTES, READ_BYTES, readFileStream } from '../src/client/file-stream.js';
import { asWritten, bytesOf, finish } from '../src/wire/buffer-pool.js';
import { SmtpClient, type ClientOptions } from '../src/client/client.js';
import { sendMail } from '../src/send.js';
import { SmtpProtocolError } from '../src/errors.js';
import { startRealServer } from './helpers/real-server.js';

const MIB = 1 << 20;
/** Where the second read (the first of the reused buffers) ends. */
const SECOND_READ_END = FIRST_READ_BYTES + READ_BYTES;

/** A message of about `bytes` whose line ends are CRLF, with a CR as the last byte of the second read. */
function messageText(bytes: number): Buffer {
  const head = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: file\r\n\r\n';
  // Every fourth line starts with a dot: DATA stuffs it, so those chunks are copied, not lent to the socket.
  const lines = 'a line of the message, long enough to be a line\r\n'.repeat(3) + '.a line that starts with a dot\r\n';
  const text = Buffer.from(head + lines.repeat(Math.ceil(bytes / lines.length)), 'latin1');
  // Move a line end so that the second read ends between its CR and LF.
  const crlf = text.indexOf('\r\n', SECOND_READ_END - 60);
  const shift = SECOND_READ_END - 1 - crlf;
  const shifted = Buffer.concat([text.subarray(0, crlf), Buffer.alloc(shift, 0x78), text.subarray(crlf)]);
  assert.equal(shifted[SECOND_READ_END - 1], 0x0d);
  assert.equal(shifted[SECOND_READ_END], 0x0a);
  return shifted;
}

async function withFile<T>(bytes: Buffer, use: (file: string) => Promise<T>): Promise<T> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'smtpmail-file-stream-'));
  const file = path.join(dir, 'message.eml');
  await fs.promises.writeFile(file, bytes);
  try {
    return await use(file);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** A plain connection to the test server on `port`, the message sent as it is. */
function plainTo(port: number): ClientOptions {
  return { server: '127.0.0.1', port, streamType: 'plain', authSources: [], addMissingHeaders: false };
}

/** Descriptors of this process open on `file`. */
function descriptorsOn(file: string): number {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) === file) count++;
    } catch {
      // closed meanwhile (the directory listing's own descriptor)
    }
  }
  return count;
}

test('a file stream is read here, its range delivered byte for byte, the stream given closed, no descriptor left', async () => {
  const server = await startRealServer();
  const text = messageText(2 * MIB + 1234);
  try {
    await withFile(text, async (file) => {
      const client = new SmtpClient(plainTo(server.port));
      const whole = fs.createReadStream(file);
      await client.send(whole);
      assert.equal(whole.destroyed, true, 'the stream given is closed');
      // A range: from the start to 2 MiB + 10 (inclusive), as fs.createReadStream counts.
      const end = 2 * MIB + 10;
      await client.send(fs.createReadStream(file, { start: 0, end }));
      await sendMail(fs.createReadStream(file), plainTo(server.port));
      await client.quit();
      assert.equal(server.received.length, 3);
      assert.deepEqual(server.received[0]?.data, text);
      // The range ends inside a line: BDAT ends it with CRLF.
      assert.deepEqual(server.received[1]?.data, Buffer.concat([text.subarray(0, end + 1), Buffer.from('\r\n')]));
      assert.deepEqual(server.received[2]?.data, text);
      assert.equal(descriptorsOn(file), 0, 'no descriptor left open on the file');
    });
  } finally {
    await server.close();
  }
});

test('its chunks are read into again once the socket is done with them, and not before', async () => {
  const text = messageText(6 * MIB);
  await withFile(text, async (file) => {
    const chunks = readFileStream(fs.createReadStream(file));
    assert.ok(chunks !== undefined);
    const seen: Buffer[] = [];
    const buffers: ArrayBufferLike[] = [];
    const held = new Set<ArrayBufferLike>();
    let reused = 0;
    for await (const chunk of chunks) {
      // The bytes are the file's, whatever buffer they were read into.
      const at = seen.reduce((sum, c) => sum + c.length, 0);
      assert.deepEqual(chunk, text.subarray(at, at + chunk.length));
      assert.ok(!held.has(chunk.buffer), 'a buffer still held by the socket is never read into');
      if (buffers.includes(chunk.buffer)) reused++;
      buffers.push(chunk.buffer);
      seen.push(Buffer.from(chunk));
      // As the socket does: the part passed through (not copied) is written, then given back.
      const part = asWritten(chunk, chunk);
      assert.equal(bytesOf(part), chunk);
      if (seen.length % 2 === 0) {
        finish(part);
      } else {
        held.add(chunk.buffer); // never given back: the reader must use other memory
      }
    }
    assert.deepEqual(Buffer.concat(seen), text);
    assert.ok(reused >= 1, `buffers read into again: ${reused}`);
  });
});

test('a chunk the encoder copied is given back at once; a chunk of anything else is left alone', async () => {
  await withFile(messageText(3 * MIB), async (file) => {
    const chunks = readFileStream(fs.createReadStream(file));
    assert.ok(chunks !== undefined);
    const iterator = chunks[Symbol.asyncIterator]();
    // The first read, the header block's, is into a buffer of its own (preparing the message keeps it).
    const first = (await iterator.next()).value as Buffer;
    assert.equal(first.length, FIRST_READ_BYTES);
    const second = (await iterator.next()).value as Buffer;
    assert.equal(second.length, READ_BYTES);
    const copy = Buffer.from(second);
    assert.equal(asWritten(second, copy), copy, 'a copy goes as it is');
    // Given back: the read after next may reuse it (the one after this one is already in flight).
    await iterator.next();
    const fourth = (await iterator.next()).value as Buffer | undefined;
    assert.ok(fourth !== undefined && fourth.buffer === second.buffer, 'the copied chunk was read into again');
    assert.notEqual(first.buffer, second.buffer);
    await iterator.return?.(undefined);
  });
  const plain = Buffer.from('not from a file\r\n');
  assert.equal(asWritten(plain, plain), plain);
});

test('streams it must not take over are sent as they are', async () => {
  const server = await startRealServer();
  const text = messageText(SECOND_READ_END + 4096);
  try {
    await withFile(text, async (file) => {
      const client = new SmtpClient(plainTo(server.port));
      const otherFs = fs.createReadStream(file, { fs: { ...fs } as unknown as typeof fs });
      assert.equal(readFileStream(otherFs), undefined, 'another fs');
      const encoded = fs.createReadStream(file, { encoding: 'latin1' });
      assert.equal(readFileStream(encoded), undefined, 'an encoding');
      const paused = fs.createReadStream(file);
      paused.pause();
      assert.equal(readFileStream(paused), undefined, 'paused');
      const fd = fs.openSync(file, 'r');
      const byDescriptor = fs.createReadStream('', { fd });
      assert.equal(readFileStream(byDescriptor), undefined, 'opened by descriptor');
      const started = fs.createReadStream(file);
      await once(started, 'readable');
      assert.equal(readFileStream(started), undefined, 'already read from');
      const awaited = fs.createReadStream(file);
      const ended = once(awaited, 'end');
      assert.equal(readFileStream(awaited), undefined, "someone waits for its 'end'");
      assert.equal(readFileStream(Buffer.from('x')), undefined, 'not a stream');
      for (const stream of [otherFs, paused, byDescriptor, started, awaited]) await client.send(stream);
      await ended; // read as it is, it ends as streams do
      await client.send(encoded as unknown as AsyncIterable<string>);
      await client.quit();
      assert.equal(server.received.length, 6);
      for (const received of server.received) assert.deepEqual(received.data, text);
    });
  } finally {
    await server.close();
  }
});

test('a missing file is EINPUT naming the cause; nothing is sent', async () => {
  const server = await startRealServer();
  try {
    const client = new SmtpClient(plainTo(server.port));
    await assert.rejects(
      client.send(fs.createReadStream(path.join(os.tmpdir(), 'smtpmail-no-such-file.eml'))),
      (error: unknown) => error instanceof SmtpProtocolError && error.code === 'EINPUT' && /ENOENT/.test(error.message),
    );
    await client.quit();
    assert.equal(server.received.length, 0);
  } finally {
    await server.close();
  }
});

test('a read abandoned half way closes its file', async () => {
  await withFile(messageText(4 * MIB), async (file) => {
    const given = fs.createReadStream(file);
    const closed = once(given, 'close');
    const chunks = readFileStream(given);
    assert.ok(chunks !== undefined);
    await closed; // the stream given opens the file too, then closes it: only the reading here is counted below
    const iterator = chunks[Symbol.asyncIterator]();
    await iterator.next();
    assert.equal(descriptorsOn(file), 1, 'the file is open while it is read');
    await iterator.return?.(undefined);
    assert.equal(descriptorsOn(file), 0);
  });
});

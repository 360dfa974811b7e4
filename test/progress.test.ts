/**
 * Progress: `onProgress` as a message's data goes out (a stream chunk by chunk, a message in memory once), and the
 * command's progress line for a large message and for a queue flush, drawn only when standard error is a terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { SmtpClient, type SendProgressReport } from '../src/index.js';
import { main } from '../src/cli/main.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { withRealServer } from './helpers/real-server.js';
import { plain, withHome } from './helpers/run-cli.js';

const HEAD = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: big\r\n\r\n';
const LINE = `${'x'.repeat(78)}\r\n`;

/** A message of about `bytes` octets as a stream of 64 KiB chunks. */
function bigStream(bytes: number): { stream: Readable; size: number } {
  const chunk = Buffer.from(LINE.repeat(Math.floor((64 * 1024) / LINE.length)), 'latin1');
  const count = Math.ceil(bytes / chunk.length);
  const chunks = [Buffer.from(HEAD, 'latin1'), ...Array.from({ length: count }, () => chunk)];
  return { stream: Readable.from(chunks), size: HEAD.length + count * chunk.length };
}

test('onProgress: a stream reports its octets chunk by chunk up to its size; a message in memory once, whole', async () => {
  await withRealServer({ disabledCommands: ['STARTTLS'] }, async (server) => {
    const client = new SmtpClient({
      server: '127.0.0.1',
      port: server.port,
      authSources: [],
      timeouts: SHORT_TIMEOUTS,
    });
    const seen: SendProgressReport[] = [];
    const { stream, size } = bigStream(3_000_000);
    await client.send(stream, { onProgress: (report) => seen.push(report) });
    assert.ok(seen.length > 20, `${seen.length} reports`);
    assert.ok(
      seen.every((report, i) => report.total === undefined && (i === 0 || report.bytes >= (seen[i - 1]?.bytes ?? 0))),
    );
    // The header block as sent: Date and Message-ID added.
    assert.equal(seen.at(-1)?.bytes, server.received[0]?.data.length);
    assert.ok((seen.at(-1)?.bytes ?? 0) > size);

    const inMemory: SendProgressReport[] = [];
    const message = Buffer.from(`${HEAD}hello\r\n`, 'latin1');
    await client.send(message, { onProgress: (report) => inMemory.push(report) });
    // By block (smtp-server has no CHUNKING: DATA); the total is the message as sent, added headers included.
    const sent = server.received[1]?.data.length;
    assert.ok((sent ?? 0) > message.length);
    assert.ok(inMemory.length >= 1 && inMemory.every((report) => report.total === sent && report.bytes <= (sent ?? 0)));
    assert.equal(inMemory.at(-1)?.bytes, sent);
    await client.quit();
  });
});

/** What main() writes to a standard error that says it is (or is not) a terminal. */
function stderrOf(terminal: boolean): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  if (terminal) Object.assign(stream, { isTTY: true });
  return { stream, text: () => text };
}

async function runMain(argv: string[], stdin: Iterable<Buffer> | Readable, env: NodeJS.ProcessEnv, terminal: boolean) {
  const stderr = stderrOf(terminal);
  const stdout = stderrOf(false);
  const code = await main(argv, {
    stdin: stdin as AsyncIterable<Buffer>,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env,
  });
  return { code, stderr: stderr.text(), stdout: stdout.text() };
}

test('the command: a progress line for a large message and for a queue flush on a terminal, nothing otherwise', async () => {
  await withHome(async (home, env) => {
    await withRealServer({ disabledCommands: ['STARTTLS'] }, async (server) => {
      const big = await runMain(['-t', ...plain(server)], bigStream(6_000_000).stream, env, true);
      assert.equal(big.code, 0, big.stderr);
      assert.match(big.stderr, /\rsmtpmail: sending: \d+\.\d MB of 6\.0 MB\x1b\[K/);
      assert.ok(big.stderr.endsWith('\r\x1b[K'), 'the line is erased at the end');

      const piped = await runMain(['-t', ...plain(server)], bigStream(6_000_000).stream, env, false);
      assert.equal(piped.code, 0);
      assert.equal(piped.stderr, '', 'nothing when standard error is not a terminal');

      const small = await runMain(['-t', ...plain(server)], [Buffer.from(`${HEAD}hi\r\n`)], env, true);
      assert.equal(small.stderr, '', 'no line for a small message');

      const queueDir = `${home}/queue`;
      for (let i = 0; i < 3; i++) {
        const queued = await runMain(
          ['-t', '--queue', '--queue-dir', queueDir],
          [Buffer.from(`${HEAD}${i}\r\n`)],
          env,
          true,
        );
        assert.equal(queued.code, 0, queued.stderr);
      }
      const flushed = await runMain(['--flush-queue', '--queue-dir', queueDir, ...plain(server)], [], env, true);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.match(flushed.stderr, /\rsmtpmail: queue: 3 of 3 done \(3 sent, 0 failed\)\x1b\[K\r\x1b\[K$/);
      assert.match(flushed.stdout, /3 sent, 0 failed, 0 still queued/);
      assert.equal(server.received.length, 6);
    });
  });
});

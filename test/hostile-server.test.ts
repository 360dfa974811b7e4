/**
 * Hostile servers and hostile input (issue #15 items 4-6 and 8-12): replies
 * nobody asked for, an idle connection that reads anything, an abort while
 * waiting for QUIT's reply, a failed index rewrite after a delivery, streamed
 * 8-bit content, terminal control characters in replies, unreadable standard
 * input, unbounded configuration files and header blocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sendMail, sendQueuedMail, SmtpClient } from '../src/index.js';
import { MAX_HEADER_BYTES } from '../src/message/header-block.js';
import { assertTranscript, assertNothingLeftOpen, converse, SHORT_TIMEOUTS } from './helpers/converse.js';
import { script, startFakeServer } from './helpers/fake-server.js';
import { emacsMessage, recipientsEl, withQueueDir, writeEmacsQueue } from './helpers/queue-dir.js';
import { withRealServer } from './helpers/real-server.js';
import { CLI, runCli, withHome, writeConfig } from './helpers/run-cli.js';

const HELLO = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
`;

test('a stray 250 right after the reply to MAIL: EPROTOCOL, nothing more sent, never "sent"', async () => {
  const steps = script`
    ${HELLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    S: 250 extra
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.result, undefined);
  assert.equal(c.error?.code, 'EPROTOCOL');
  assert.match(c.error?.message ?? '', /a reply that no command asked for \(250 extra/);
});

test('a stray 250 in a one-write BDAT transaction: EUNKNOWN_DELIVERY, never a result built from the wrong reply', async () => {
  const steps = script`
    ${HELLO}
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 CHUNKING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 7 LAST
    C: hello
    S: 250 sender ok
    S: 250 extra
    S: 250 recipient ok
    S: 250 queued
  `;
  const c = await converse(steps, { chunking: true });
  assert.equal(c.result, undefined);
  assert.equal(c.error?.code, 'EUNKNOWN_DELIVERY');
  assert.match(c.error?.message ?? '', /no command asked for/);
});

/** A server for two connections: the first sends `idle` while idle after one message; the second behaves. */
async function withIdleTalker(
  idle: string,
  run: (
    port: number,
    stats: { connections: number; firstClosedBeforeSecond: boolean; messages: number },
  ) => Promise<void>,
): Promise<void> {
  const stats = { connections: 0, firstClosedBeforeSecond: false, messages: 0 };
  let firstClosed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const index = stats.connections++;
    if (index === 1) stats.firstClosedBeforeSecond = firstClosed;
    sockets.add(socket);
    // The server never closes the first connection: its close is the client's.
    socket.on('close', () => {
      sockets.delete(socket);
      if (index === 0) firstClosed = true;
    });
    socket.on('error', () => {});
    socket.write('220 ready\r\n');
    let buffered = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let lf = buffered.indexOf('\n'); lf !== -1; lf = buffered.indexOf('\n')) {
        const line = buffered.slice(0, lf).replace(/\r$/, '');
        buffered = buffered.slice(lf + 1);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
          stats.messages++;
          socket.write('250 queued\r\n');
          if (index === 0) setTimeout(() => socket.write(idle), 20);
        } else if (/^EHLO/i.test(line)) socket.write('250 mail.example.org\r\n');
        else if (/^DATA/i.test(line)) {
          inData = true;
          socket.write('354 go\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run((server.address() as net.AddressInfo).port, stats);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  await assertNothingLeftOpen();
}

for (const [name, idle] of [
  ['an unsolicited reply', '250 hello there\r\n'],
  ['a stream of unsolicited bytes', `${'250-x'.repeat(2000)}`],
] as const) {
  test(`${name} on an idle connection: closed at once, and a new one used for the next message`, async () => {
    await withIdleTalker(idle, async (port, stats) => {
      const client = new SmtpClient({
        server: '127.0.0.1',
        port,
        clientName: 'client.example',
        authSources: [],
        envelopeFrom: 'a@x.org',
        recipients: ['b@y.org'],
        timeouts: SHORT_TIMEOUTS,
      });
      await client.send('Subject: 1\r\n\r\none\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      await client.send('Subject: 2\r\n\r\ntwo\r\n');
      await client.quit();
      assert.equal(stats.messages, 2);
      assert.equal(stats.connections, 2);
      assert.equal(stats.firstClosedBeforeSecond, true);
    });
  });
}

test('sendMail resolves before the reply to QUIT; an abort then closes the connection at once', async () => {
  const steps = script`
    ${HELLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 250 queued
    C: QUIT
    !hang
  `;
  const controller = new AbortController();
  const started = Date.now();
  const c = await converse(steps, {
    signal: controller.signal,
    timeouts: { ...SHORT_TIMEOUTS, command: 60_000 },
    onTrace: (event) => {
      if (event.line === 'QUIT') setImmediate(() => controller.abort());
    },
  });
  // Without the abort the connection would wait out the QUIT reply timeout (10 s): 5 s tells the two apart.
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.equal(c.error, undefined);
  assert.equal(c.result?.reply.code, 250);
  assertTranscript(c, steps);
});

test('the index cannot be rewritten after a delivery: the flush goes on, the report says sent and still listed', async () => {
  await withQueueDir(async (queueDir) => {
    const messages = [1, 2].map((n) => ({
      name: `2026-11-20_09:00:0${n}_${n}`,
      data: emacsMessage('a@example.org', `r${n}@example.net`, `m${n}`, `b${n}\n`),
      el: recipientsEl([`r${n}@example.net`]),
    }));
    await writeEmacsQueue(queueDir, messages);
    const index = path.join(queueDir, 'index');
    let delivered = 0;
    await withRealServer(
      {
        disabledCommands: ['STARTTLS', 'AUTH'],
        onData(stream, _session, callback) {
          stream.resume();
          stream.on('end', () => {
            delivered++;
            // Before the 250 of the first message: the index can no longer be read or rewritten.
            if (!fs.statSync(index).isDirectory()) {
              fs.renameSync(index, `${index}.saved`);
              fs.mkdirSync(index);
            }
            callback();
          });
        },
      },
      async (server) => {
        const report = await sendQueuedMail({
          queueDir,
          server: '127.0.0.1',
          port: server.port,
          authSources: [],
          retries: 1,
          continueOnError: true,
        });
        assert.equal(report.sent.length, 2);
        for (const sent of report.sent)
          assert.match(sent.stillListed ?? '', /sent, but not removed from the queue .*may be sent again/);
        assert.equal(delivered, 2);
      },
    );
  });
});

test('a streamed message is declared BODY=8BITMIME when the server offers it', async () => {
  await withRealServer({ disabledCommands: ['STARTTLS'] }, async (server) => {
    async function* stream(): AsyncGenerator<Buffer> {
      yield Buffer.from('From: a@example.org\r\nTo: b@example.net\r\n\r\n');
      yield Buffer.from('Grüße\r\n');
    }
    await sendMail(stream(), { server: '127.0.0.1', port: server.port, authSources: [] });
    assert.equal(server.received[0]?.body, '8BITMIME');
  });
});

test('a streamed 8-bit message to a server without 8BITMIME stops before the final dot (EPOLICY): nothing delivered', async () => {
  const steps = script`
    ${HELLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: x
    C:
    C: plain ascii
  `;
  async function* stream(): AsyncGenerator<Buffer> {
    yield Buffer.from('Subject: x\r\n\r\n');
    yield Buffer.from('plain ascii\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    yield Buffer.from('Grüße\r\n');
    yield Buffer.from('more\r\n');
  }
  const c = await converse(steps, {}, stream());
  assert.equal(c.error?.code, 'EPOLICY');
  assert.match(c.error?.message ?? '', /8-bit content and the server does not offer 8BITMIME/);
  assert.ok(!c.outcome.received.includes('\r\n.\r\n'), 'no final dot');
  assert.ok(!c.outcome.received.includes('Grüße'));
});

test('terminal control characters from the server are shown escaped in errors, hints and the transcript', async () => {
  const steps = script`
    ${HELLO}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 550 5.7.1 go away${'\x1b'}]0;pwned${'\x07'}${'\x1b'}[2J now
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assert.equal(c.error?.code, 'ESENDER');
  const shown = [c.error?.message ?? '', ...c.trace].join('\n');
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(shown), 'no raw control character');
  assert.match(c.error?.message ?? '', /go away\\x1b\]0;pwned\\x07\\x1b\[2J now/);
});

test('smtpmail --check and --debug print a hostile greeting escaped', async () => {
  const greeting = 'S: 220 mail.example.org \x1b[31mred\x1b[0m';
  for (const args of [
    ['--check', '--stream-type', 'plain'],
    ['--debug', '--stream-type', 'plain', 'b@y.org'],
  ]) {
    const server = await startFakeServer(script`
      ${greeting}
      C: EHLO client.example
      S: 550 no
      !close
    `);
    await withHome(async (home, env) => {
      await writeConfig(home, { defaults: { clientName: 'client.example', retries: 1 } });
      const run = await runCli(
        [...args, '--server', '127.0.0.1', '--port', String(server.port)],
        'From: a@x.org\n\nx\n',
        env,
      );
      const all = run.stdout + run.stderr;
      assert.ok(!all.includes('\x1b'), `raw ESC in ${args[0]} output`);
      assert.match(all, /\\x1b\[31mred/);
    });
    server.stop();
    await server.done;
  }
});

test('standard input that is a directory: exit 66, nothing sent', async () => {
  const directory = await fsp.mkdtemp(path.join(os.tmpdir(), 'smtpmail-stdin-'));
  const fd = fs.openSync(directory, 'r');
  try {
    await withHome(async (_home, env) => {
      const child = spawn(process.execPath, [CLI, '--server', '127.0.0.1', '--port', '9', 'b@example.net'], {
        env,
        stdio: [fd, 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(code, 66);
      assert.match(stderr, /standard input is a directory/);
    });
  } finally {
    fs.closeSync(fd);
    await fsp.rm(directory, { recursive: true, force: true });
  }
});

test('a configuration that is not a regular file (/dev/urandom) is refused at once: exit 78', async () => {
  await withHome(async (_home, env) => {
    const run = await runCli(['--config', '/dev/urandom', 'b@example.net'], 'x\n', env);
    assert.equal(run.code, 78);
    assert.match(run.stderr, /not a regular file/);
  });
});

test('a header block that never ends is refused at the bound, having read no further, in linear time', async () => {
  for (const [line, size] of [
    [`X-Pad: ${'a'.repeat(65_000)}\r\n`, 0],
    ['X-Pad: a', 4096],
  ] as const) {
    let read = 0;
    // Header lines of 64 KB, or one endless header line in 4 KiB chunks (the case that rescanned everything per chunk).
    const chunk =
      size === 0 ? Buffer.from(line) : Buffer.concat([Buffer.from(line), Buffer.alloc(size - line.length, 0x61)]);
    const filler = size === 0 ? chunk : Buffer.alloc(size, 0x61);
    async function* endless(): AsyncGenerator<Buffer> {
      yield chunk;
      for (read = chunk.length; ; read += filler.length) yield filler;
    }
    const cpu = process.cpuUsage();
    await assert.rejects(
      sendMail(endless(), { server: '127.0.0.1', recipients: ['b@y.org'], envelopeFrom: 'a@x.org', authSources: [] }),
      {
        code: 'EINPUT',
        message: new RegExp(`do not end within ${MAX_HEADER_BYTES} bytes`),
      },
    );
    const used = process.cpuUsage(cpu);
    assert.ok(read < MAX_HEADER_BYTES + 200_000, `read ${read} bytes`);
    // Quadratic work (every chunk appended to a copy of all before it, then rescanned) takes minutes here;
    // linear work well under a second. The bound tells the two apart; it is no speed goal.
    assert.ok((used.user + used.system) / 1e6 < 5, `${(used.user + used.system) / 1e6} s of CPU`);
  }
});

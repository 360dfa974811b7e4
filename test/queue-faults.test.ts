/**
 * The offline queue when things go wrong: a file operation failing at any point of enqueueing, refused messages in a
 * flush, index lines without files, entries without recipients or .el files.
 */
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareMessage } from '../src/message/prepare.js';
import { sendQueuedMail } from '../src/index.js';
import { queueMessage } from '../src/queue/write.js';
import {
  emacsMessage,
  flushOptions,
  indexLines,
  listing,
  recipientsEl,
  withQueueDir,
  writeEmacsQueue,
} from './helpers/queue-dir.js';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';

const withServer = (run: (server: RealServer) => Promise<void>, options: RealServerOptions = {}): Promise<void> =>
  withRealServer(options, run);

const three = [1, 2, 3].map((n) => ({
  name: `2026-11-20_09:00:0${n}_${n}`,
  data: emacsMessage('bob@example.org', `r${n}@example.net`, `message ${n}`, `body ${n}\n`),
  el: recipientsEl([`r${n}@example.net`]),
}));

/** The file operations a queued write makes; the test fails the k-th call to any of them. */
const FS_STEPS = ['open', 'rename', 'writeFile', 'link'] as const;
const HANDLE_STEPS = ['chmod', 'write', 'writeFile', 'sync'] as const;

/**
 * Runs `work` with the k-th file operation (of FS_STEPS on node:fs/promises and HANDLE_STEPS on its file handles)
 * failing with EIO, as a full disk or a yanked device would; k = 0 fails nothing. Returns how many operations ran.
 */
async function failingCall<T>(
  k: number,
  work: () => Promise<T>,
): Promise<{ calls: number; result: PromiseSettledResult<T> }> {
  const probe = await fs.open(os.devNull, 'r');
  const handleProto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => unknown>;
  await probe.close();
  let calls = 0;
  type Method = (...args: unknown[]) => unknown;
  const wrap = (target: Record<string, Method>, name: string) => {
    const original = target[name] as Method;
    return mock.method(target, name, function (this: unknown, ...args: unknown[]) {
      calls += 1;
      if (calls !== k) return original.apply(this, args);
      return Promise.reject(Object.assign(new Error(`EIO: injected at call ${k} (${name})`), { code: 'EIO' }));
    });
  };
  const mocks = [
    ...FS_STEPS.map((name) => wrap(fs as unknown as Record<string, Method>, name)),
    ...HANDLE_STEPS.map((name) => wrap(handleProto as Record<string, Method>, name)),
  ];
  try {
    const [result] = await Promise.allSettled([work()]);
    return { calls, result: result as PromiseSettledResult<T> };
  } finally {
    for (const m of mocks) m.mock.restore();
  }
}

test('a file operation failing at any point of enqueueing never leaves a partial message listed, nor a temp file', async () => {
  const text = 'From: a@example.org\nTo: b@example.net\n\nhello\n';
  const prepared = await prepareMessage(text, { addMissingHeaders: false });
  const { calls } = await withQueueDir((queueDir) => failingCall(0, () => queueMessage(prepared, { queueDir })));
  assert.ok(calls >= 10, `enqueueing makes ${calls} file operations`);
  let rejected = 0;
  for (let k = 1; k <= calls; k += 1) {
    await withServer(async (server) => {
      await withQueueDir(async (queueDir) => {
        const { result } = await failingCall(k, () => queueMessage(prepared, { queueDir }));
        if (result.status === 'rejected') {
          rejected += 1;
          assert.match(String(result.reason), /EIO: injected/, `call ${k}`);
        }
        const listed = await indexLines(queueDir);
        assert.ok(listed.length <= 1, `call ${k}`);
        if (result.status === 'fulfilled') assert.equal(listed.length, 1, `call ${k}: resolved means listed`);
        // A listed message is complete, whatever failed.
        for (const line of listed) {
          assert.equal(await fs.readFile(line, 'utf8'), text);
          assert.match(await fs.readFile(`${line}.el`, 'utf8'), /"b@example.net"/);
        }
        const left = (await fs.readdir(queueDir)).filter((name) => name.endsWith('.tmp') || name.endsWith('.lock'));
        assert.deepEqual(left, [], `call ${k}: temporary files and locks are removed`);
        const report = await sendQueuedMail(flushOptions(server, queueDir));
        assert.equal(report.sent.length, listed.length, `call ${k}`);
        assert.deepEqual([report.failed, report.dropped], [[], []]);
        assert.equal(server.received.length, listed.length);
      });
    });
  }
  assert.ok(rejected >= 8, `${rejected} of ${calls} injected failures made enqueueing fail`);
});

test('message 2 of 3 refused: 1 sent and gone, 2 and 3 still queued and listed; the next flush retries 2 first', async () => {
  let refuse = true;
  await withServer(
    async (server) => {
      await withQueueDir(async (queueDir) => {
        const paths = await writeEmacsQueue(queueDir, three);
        const told: string[] = [];
        const report = await sendQueuedMail({
          ...flushOptions(server, queueDir),
          // Called as each message finishes: the first is already delivered when it is told.
          onMessage: (r) =>
            told.push(
              `${r.index}/${r.total} ${r.status} ${r.path} ${r.error?.code ?? ''}${r.reason ?? ''}|${server.received.length}`,
            ),
        });
        assert.deepEqual(told, [
          `1/3 sent ${paths[0]} |1`,
          `2/3 failed ${paths[1]} ERECIPIENT|1`,
          `3/3 skipped ${paths[2]} not tried: ${paths[1]} failed before it|1`,
        ]);
        assert.deepEqual(
          report.sent.map((s) => s.path),
          [paths[0]],
        );
        assert.deepEqual(
          report.failed.map((f) => [f.path, f.error.code, f.error.reply?.code]),
          [[paths[1], 'ERECIPIENT', 550]],
        );
        assert.match(report.failed[0]?.error.message ?? '', /no such user/);
        assert.deepEqual(report.queued, [paths[1], paths[2]]);
        assert.deepEqual(await indexLines(queueDir), [paths[1], paths[2]]);
        assert.deepEqual(
          await listing(queueDir),
          ['index', ...[1, 2].flatMap((i) => [three[i]!.name, `${three[i]!.name}.el`])].sort(),
        );

        refuse = false;
        const again = await sendQueuedMail(flushOptions(server, queueDir));
        assert.deepEqual(
          again.sent.map((s) => s.path),
          [paths[1], paths[2]],
        );
        assert.deepEqual(
          server.received.map((r) => r.to),
          [['r1@example.net'], ['r2@example.net'], ['r3@example.net']],
        );
        assert.deepEqual(await indexLines(queueDir), []);
      });
    },
    {
      onRcptTo(address, _session, callback) {
        if (refuse && address.address === 'r2@example.net')
          callback(Object.assign(new Error('no such user'), { responseCode: 550 }));
        else callback();
      },
    },
  );
});

test('continueOnError: a refused message stays queued and the ones after it are sent', async () => {
  await withServer(
    async (server) => {
      await withQueueDir(async (queueDir) => {
        const paths = await writeEmacsQueue(queueDir, three);
        const report = await sendQueuedMail({ ...flushOptions(server, queueDir), continueOnError: true });
        assert.deepEqual(
          report.sent.map((s) => s.path),
          [paths[0], paths[2]],
        );
        assert.deepEqual(report.queued, [paths[1]]);
        assert.deepEqual(await indexLines(queueDir), [paths[1]]);
      });
    },
    {
      onRcptTo: (address, _s, callback) =>
        callback(
          address.address === 'r2@example.net' ? Object.assign(new Error('no'), { responseCode: 550 }) : undefined,
        ),
    },
  );
});

test('an index line whose data file is missing is reported, dropped from the index, and does not block the queue', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      const stale = path.join(queueDir, '2026-11-19_08:00:00_9');
      await writeEmacsQueue(queueDir, [three[0]!], []);
      await fs.writeFile(path.join(queueDir, 'index'), `${stale}\n${path.join(queueDir, three[0]!.name)}\n`);
      const report = await sendQueuedMail(flushOptions(server, queueDir));
      assert.deepEqual(
        report.dropped.map((d) => d.path),
        [stale],
      );
      assert.match(report.dropped[0]?.reason ?? '', /does not exist/);
      assert.equal(report.sent.length, 1);
      assert.deepEqual(await indexLines(queueDir), []);
    });
  });
});

test('a message without recipients or with a missing .el is reported and left in place', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      const paths = await writeEmacsQueue(queueDir, [
        { ...three[0]!, el: "(setq      smtpmail-recipient-address-list 'nil\n)\n" },
        { ...three[1]!, el: undefined },
      ]);
      const report = await sendQueuedMail({ ...flushOptions(server, queueDir), continueOnError: true });
      assert.deepEqual(
        report.failed.map((f) => [f.path, f.error.code]),
        [
          [paths[0], 'EQUEUE'],
          [paths[1], 'EQUEUE'],
        ],
      );
      assert.match(report.failed[0]?.error.message ?? '', /no recipients/);
      assert.match(report.failed[1]?.error.message ?? '', /Cannot read .*\.el/);
      assert.deepEqual(await indexLines(queueDir), paths);
      assert.equal(server.mailCommands, 0);
    });
  });
});

test('two flushes started at once send each message once', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      await writeEmacsQueue(queueDir, three);
      const outcomes = await Promise.allSettled([
        sendQueuedMail(flushOptions(server, queueDir)),
        sendQueuedMail(flushOptions(server, queueDir)),
      ]);
      const busy = outcomes.filter((o) => o.status === 'rejected');
      for (const o of busy) assert.match(String((o as PromiseRejectedResult).reason), /queue is busy/);
      const sent = outcomes.flatMap((o) => (o.status === 'fulfilled' ? o.value.sent : []));
      assert.equal(sent.length, 3);
      assert.deepEqual(server.received.map((r) => r.to[0]).sort(), [
        'r1@example.net',
        'r2@example.net',
        'r3@example.net',
      ]);
      assert.deepEqual(await listing(queueDir), ['index']);
    });
  });
});

test('a lock left by a process that no longer runs is taken over', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      await writeEmacsQueue(queueDir, [three[0]!]);
      await fs.writeFile(path.join(queueDir, 'flush.lock'), `999999999 ${os.hostname()}\n`);
      const report = await sendQueuedMail(flushOptions(server, queueDir));
      assert.equal(report.sent.length, 1);
      assert.deepEqual(await listing(queueDir), ['index']);
    });
  });
});

test('a .el with code is refused, nothing runs, and the message stays queued', async () => {
  const marker = path.join(os.tmpdir(), `smtpmail-pwned-${process.pid}`);
  const hostile = [
    `(shell-command "touch ${marker}")\n`,
    `(setq      smtpmail-recipient-address-list '("r1@example.net")\n)\n(shell-command "touch ${marker}")\n`,
    `(setq      smtpmail-recipient-address-list (shell-command "touch ${marker}")\n)\n`,
  ];
  for (const el of hostile) {
    await withServer(async (server) => {
      await withQueueDir(async (queueDir) => {
        const paths = await writeEmacsQueue(queueDir, [{ ...three[0]!, el }]);
        const report = await sendQueuedMail(flushOptions(server, queueDir));
        assert.deepEqual(
          report.failed.map((f) => f.error.code),
          ['EQUEUE'],
        );
        assert.ok(report.failed[0]?.error.message.includes(`${paths[0]}.el`), 'the error names the file');
        assert.deepEqual(await indexLines(queueDir), paths);
        assert.equal(server.mailCommands, 0);
      });
    });
  }
  await assert.rejects(fs.access(marker), { code: 'ENOENT' });
});

/**
 * The offline queue when things go wrong: enqueueing stopped after any step, refused messages in a
 * flush, index lines without files, entries without recipients or .el files.
 */
import { test } from 'node:test';
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

/** What the test hook throws to stop enqueueing after a step (a real kill: queue-crash.test.ts). */
class StoppedAfter extends Error {}

const STEPS = [
  'data:written',
  'data:synced',
  'data:renamed',
  'el:written',
  'el:synced',
  'el:renamed',
  'directory:synced',
  'index:appended',
];

test('enqueueing stopped after any step never leaves a partial message listed in the index', async () => {
  const seen: string[] = [];
  await withQueueDir(async (queueDir) => {
    const prepared = await prepareMessage('From: a@example.org\nTo: b@example.net\n\nhello\n', {
      addMissingHeaders: false,
    });
    await queueMessage(prepared, { queueDir }, (step) => seen.push(step));
  });
  assert.deepEqual(seen, STEPS, 'the steps this test interrupts are the steps enqueueing takes');
  for (const [at, crashStep] of STEPS.entries()) {
    await withServer(async (server) => {
      await withQueueDir(async (queueDir) => {
        const prepared = await prepareMessage('From: a@example.org\nTo: b@example.net\n\nhello\n', {
          addMissingHeaders: false,
        });
        const crash = (step: string): void => {
          if (step === crashStep) throw new StoppedAfter(step);
        };
        await assert.rejects(queueMessage(prepared, { queueDir }, crash), StoppedAfter);
        const listed = await indexLines(queueDir);
        // Listed only once the last step (the index line) happened; a listed message is complete.
        assert.equal(listed.length, at === STEPS.length - 1 ? 1 : 0, `after ${crashStep}`);
        for (const line of listed) {
          assert.equal(await fs.readFile(line, 'utf8'), 'From: a@example.org\nTo: b@example.net\n\nhello\n');
          assert.match(await fs.readFile(`${line}.el`, 'utf8'), /"b@example.net"/);
        }
        const report = await sendQueuedMail(flushOptions(server, queueDir));
        assert.equal(report.sent.length, listed.length, `after ${crashStep}`);
        assert.deepEqual([report.failed, report.dropped], [[], []]);
        assert.equal(server.received.length, listed.length);
      });
    });
  }
});

test('message 2 of 3 refused: 1 sent and gone, 2 and 3 still queued and listed; the next flush retries 2 first', async () => {
  let refuse = true;
  await withServer(
    async (server) => {
      await withQueueDir(async (queueDir) => {
        const paths = await writeEmacsQueue(queueDir, three);
        const report = await sendQueuedMail(flushOptions(server, queueDir));
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

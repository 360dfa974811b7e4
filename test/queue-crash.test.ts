/**
 * kill -9 at random points while a process queues and flushes (issue #15
 * item 7): no message reported queued is ever lost, no lock wedges the queue
 * (a lock whose process is gone is taken over), the temporary files a kill
 * leaves are cleaned by the next run, and a message goes out twice only when
 * the kill fell between its final reply and the index rewrite.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sendQueuedMail } from '../src/index.js';
import { indexLines, withQueueDir } from './helpers/queue-dir.js';
import { withRealServer } from './helpers/real-server.js';

const WORKER = fileURLToPath(new URL('./helpers/queue-crash-worker.js', import.meta.url));
const ITERATIONS = 50;
const PER_RUN = 6;

/** Deterministic "random" delays, so that a failure can be replayed. */
function delays(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return 30 + (state % 220);
  };
}

/**
 * Runs the worker, kills it with SIGKILL `killAfterMs` after it is loaded (or lets it finish); returns the messages
 * it reported queued and whether it was killed before its end.
 */
async function runAndKill(
  queueDir: string,
  port: number,
  first: number,
  killAfterMs: number,
): Promise<{ queued: string[]; killedFlushing: boolean }> {
  const child = spawn(process.execPath, [WORKER, queueDir, String(port), String(first), String(PER_RUN)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    out += text;
    // The delay counts from the worker's start of work, not from spawn (module loading is slow on a busy machine).
    if (timer === undefined && out.startsWith('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  });
  const safety = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await new Promise((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  clearTimeout(safety);
  const lines = out.split('\n');
  const queued = lines.filter((line) => line.startsWith('queued ')).map((line) => line.slice('queued '.length));
  // Killed while flushing: the last flush it started did not report.
  return {
    queued,
    killedFlushing: lines.lastIndexOf('flushing') > lines.findLastIndex((l) => l.startsWith('flushed')),
  };
}

test(`${ITERATIONS} kill -9 at random points: nothing reported queued is lost, no lock wedges, temporary files are cleaned`, async () => {
  const subjects: string[] = [];
  await withRealServer(
    {
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream, _session, callback) {
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (text += chunk));
        stream.on('end', () => {
          subjects.push(/^Subject: (id-\d+)$/m.exec(text)?.[1] ?? '?');
          callback();
        });
      },
    },
    async (server) => {
      await withQueueDir(async (queueDir) => {
        const next = delays(42);
        const reported: string[] = [];
        let killedMidway = 0;
        let flushKills = 0;
        for (let run = 0; run < ITERATIONS; run++) {
          const { queued, killedFlushing } = await runAndKill(queueDir, server.port, run * PER_RUN, next());
          if (queued.length < PER_RUN) killedMidway++;
          if (killedFlushing) flushKills++;
          reported.push(...queued);
          // Every message reported queued is listed, or was delivered.
          const listed = await Promise.all(
            (await indexLines(queueDir)).map(
              async (line) => /Subject: (id-\d+)/.exec(await fs.readFile(line, 'utf8'))?.[1],
            ),
          );
          for (const id of queued)
            assert.ok(
              listed.includes(id) || subjects.includes(id),
              `run ${run}: ${id} was reported queued and is neither listed nor delivered`,
            );
        }
        assert.ok(
          killedMidway >= ITERATIONS / 2,
          `only ${killedMidway} of ${ITERATIONS} runs were killed midway: the delays do not hit the work`,
        );

        // The next run takes over whatever lock a kill left, cleans temporary files and sends the rest.
        const report = await sendQueuedMail({
          queueDir,
          server: '127.0.0.1',
          port: server.port,
          streamType: 'plain',
          authSources: [],
          retries: 1,
        });
        assert.deepEqual(report.failed, []);
        assert.deepEqual(await indexLines(queueDir), []);
        for (const id of reported) assert.ok(subjects.includes(id), `${id} was reported queued and never delivered`);
        const leftovers = (await fs.readdir(queueDir)).filter(
          (name) => name.endsWith('.tmp') || name.endsWith('.lock'),
        );
        assert.deepEqual(leftovers, []);
        // A message goes out again only when a kill fell during a flush, between its final reply and the index
        // rewrite: one such kill sends at most one message twice (one hit by two kills in a row goes out three times).
        const counts = new Map<string, number>();
        for (const subject of subjects) counts.set(subject, (counts.get(subject) ?? 0) + 1);
        const extra = [...counts.values()].reduce((sum, n) => sum + n - 1, 0);
        assert.ok(extra <= flushKills, `${extra} extra deliveries for ${flushKills} kills during a flush`);
      });
    },
  );
});

test('an empty lock left by a process killed while creating it (an older version) is taken over once it is a few seconds old', async () => {
  await withQueueDir(async (queueDir) => {
    await fs.mkdir(queueDir, { recursive: true, mode: 0o700 });
    const lock = `${queueDir}/flush.lock`;
    await fs.writeFile(lock, '');
    await assert.rejects(sendQueuedMail({ queueDir, server: '127.0.0.1', authSources: [] }), {
      code: 'EQUEUE',
      message: /queue is busy/,
    });
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    const report = await sendQueuedMail({ queueDir, server: '127.0.0.1', authSources: [] });
    assert.deepEqual(report.sent, []);
    await assert.rejects(fs.access(lock), { code: 'ENOENT' });
  });
});

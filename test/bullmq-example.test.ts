/**
 * examples/bullmq-worker against a real Redis and the npm smtp-server (issue #19 item 10): 1,000 messages through
 * two worker processes, one killed with SIGKILL mid-run; a 451 retried with backoff, a 550 not retried, and a
 * connection lost after the final dot (EUNKNOWN_DELIVERY) sent again and flagged.
 *
 * The example's rule for a message that may have gone out already (a job that stalled after it started sending, or
 * EUNKNOWN_DELIVERY): send it again and flag the job's result `possiblyDuplicate`. So every message arrives at least
 * once, twice only when its job is flagged, never three times. Skipped when redis-server is not installed or the
 * example's node_modules are missing.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { startRealServer, type RealServer } from './helpers/real-server.js';
import { redisMissing, startRedis, type TestRedis } from './helpers/redis-server.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/bullmq-worker/', import.meta.url));
const EXIT_WITH_PARENT = fileURLToPath(new URL('./helpers/exit-with-parent.js', import.meta.url));

const skip =
  redisMissing() ??
  (existsSync(`${EXAMPLE}node_modules/bullmq`)
    ? false
    : 'examples/bullmq-worker/node_modules is missing: skipped (npm ci in examples/bullmq-worker)');

const MESSAGES = 1000;
/** The first worker is killed when the server has received this many messages. */
const KILL_AT = 300;
/** What the test waits for at most: the producer, all jobs finished, a worker's graceful exit. */
const PRODUCER_TIMEOUT_MS = 20_000;
const FINISH_TIMEOUT_MS = 45_000;
const EXIT_TIMEOUT_MS = 10_000;
/** Short stall settings: a dead worker's jobs go back to the queue within about 3-5 s. */
const STALL_ENV = { LOCK_DURATION_MS: '3000', STALLED_INTERVAL_MS: '1000' };

/** The little of BullMQ the test uses (it is the example's dependency, loaded from the example's node_modules). */
interface BullJob {
  readonly id?: string | undefined;
  readonly returnvalue: { readonly possiblyDuplicate?: boolean } | null;
  readonly attemptsMade: number;
  readonly failedReason?: string | undefined;
}
interface BullQueue {
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  getJobs(types: string[], start?: number, end?: number): Promise<BullJob[]>;
  close(): Promise<void>;
}
type QueueClass = new (name: string, options: { connection: { url: string } }) => BullQueue;

async function loadQueueClass(): Promise<QueueClass> {
  const entry = createRequire(`${EXAMPLE}package.json`).resolve('bullmq');
  return ((await import(pathToFileURL(entry).href)) as { Queue: QueueClass }).Queue;
}

/** Cleanup steps, run last first at the end of the test whatever happened. */
function cleanups(t: TestContext): (step: () => Promise<unknown> | void) => void {
  const steps: (() => Promise<unknown> | void)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) await Promise.resolve(step()).catch(() => undefined);
  });
  return (step) => steps.push(step);
}

interface NodeChild {
  readonly process: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** A script of the example in its own Node process, which exits when the test process does (exit-with-parent). */
function runExample(script: string, args: readonly string[], env: Record<string, string>): NodeChild {
  const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, script, ...args], {
    cwd: EXAMPLE,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, exited, output: () => `${script}: ${output}` };
}

function kill(child: NodeChild): Promise<unknown> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  return child.exited;
}

/** `promise`, or an error naming `what` after `ms` (the timer cleared either way). */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until every one of `count` jobs is completed or failed, for `ms` at most. */
async function allFinished(queue: BullQueue, count: number, ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const counts = await queue.getJobCounts('completed', 'failed');
    if ((counts['completed'] ?? 0) + (counts['failed'] ?? 0) >= count) return;
    if (Date.now() > deadline) {
      const all = await queue.getJobCounts();
      assert.fail(`jobs not finished after ${ms} ms: ${JSON.stringify(all)}\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The Message-ID of a message as received, without its angle brackets. */
function messageId(text: string): string {
  return /^Message-ID: <([^>]+)>/im.exec(text)?.[1] ?? '?';
}

/** Calls `handle` with the whole message text once the data stream ends. */
function readMessage(stream: SMTPServerDataStream, handle: (text: string) => void): void {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (text += chunk));
  stream.on('end', () => handle(text));
}

async function startEverything(t: TestContext, queueName: string) {
  const cleanup = cleanups(t);
  const redis: TestRedis = await startRedis();
  cleanup(() => redis.stop());
  const Queue = await loadQueueClass();
  const queue = new Queue(queueName, { connection: { url: redis.url } });
  cleanup(() => queue.close());
  return { cleanup, redis, queue };
}

function workerEnv(redis: TestRedis, smtpPort: number, queueName: string): Record<string, string> {
  return { ...STALL_ENV, REDIS_URL: redis.url, QUEUE: queueName, SMTPSERVER: '127.0.0.1', SMTP_PORT: String(smtpPort) };
}

/**
 * The server's 'error' events (a worker killed mid-session resets its connections), which must all be connection
 * resets: the returned list, checked by `assertOnlyResets`.
 */
function expectResets(smtp: RealServer): Error[] {
  const errors: Error[] = [];
  smtp.smtp.on('error', (error: Error) => errors.push(error));
  return errors;
}

function assertOnlyResets(errors: readonly Error[]): void {
  const others = errors.filter(
    (error) => !['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? ''),
  );
  assert.deepEqual(others.map(String), [], 'the SMTP server saw only connection resets');
}

function increment(counts: Map<string, number>, key: string): number {
  const next = (counts.get(key) ?? 0) + 1;
  counts.set(key, next);
  return next;
}

test(
  `${MESSAGES} messages, 2 workers, one killed with SIGKILL mid-run: each arrives once, or twice if flagged`,
  { skip, timeout: 90_000 },
  async (t) => {
    const { cleanup, redis, queue } = await startEverything(t, 'bulk');
    const received = new Map<string, number>();
    let total = 0;
    let victim: NodeChild | undefined;
    const smtp = await startRealServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream, _session, callback) {
        readMessage(stream, (text) => {
          increment(received, messageId(text));
          if (++total === KILL_AT) victim?.process.kill('SIGKILL'); // synchronously: mid-run, whatever the speed
          callback(null);
        });
      },
    });
    cleanup(() => smtp.close());
    const resets = expectResets(smtp);
    const env = workerEnv(redis, smtp.port, 'bulk');
    const workers = [runExample('worker.js', [], env), runExample('worker.js', [], env)];
    for (const worker of workers) cleanup(() => kill(worker));
    victim = workers[0];
    const survivor = workers[1] as NodeChild;
    const log = (): string => workers.map((worker) => worker.output()).join('\n');

    const started = Date.now();
    const producer = runExample('producer.js', [String(MESSAGES), 'bulk'], env);
    cleanup(() => kill(producer));
    assert.equal(await within(producer.exited, PRODUCER_TIMEOUT_MS, 'the producer'), 0, producer.output());
    await allFinished(queue, MESSAGES, FINISH_TIMEOUT_MS, log);
    const elapsed = Date.now() - started;
    assert.equal(victim?.process.signalCode, 'SIGKILL', 'the first worker was killed');

    const completed = await queue.getJobs(['completed'], 0, -1);
    assert.deepEqual(await queue.getJobs(['failed'], 0, -1), [], 'no job failed');
    assert.equal(completed.length, MESSAGES);
    const flagged = new Set(
      completed.filter((job) => job.returnvalue?.possiblyDuplicate === true).map((job) => job.id),
    );
    const wrong: string[] = [];
    let twice = 0;
    for (let n = 1; n <= MESSAGES; n++) {
      const id = `bulk.${n}@example.org`;
      const times = received.get(id) ?? 0;
      if (times === 2) twice++;
      // Sent again when in doubt: never lost, so never 0 (flagged or not); twice only when flagged; never 3 times.
      if (times === 0) wrong.push(`${id} never arrived${flagged.has(id) ? ' (flagged)' : ''}`);
      if (times === 2 && !flagged.has(id)) wrong.push(`${id} arrived twice, not flagged possiblyDuplicate`);
      if (times > 2) wrong.push(`${id} arrived ${times} times`);
    }
    assert.deepEqual(wrong, [], log());
    assertOnlyResets(resets);
    assert.deepEqual([...received.keys()].filter((id) => !id.startsWith('bulk.')).sort(), [], 'nothing else arrived');
    // The kill fell on work under way: some jobs ran again after their worker died, with the mark set.
    assert.ok(flagged.size > 0, `no job was flagged: the kill hit no work under way\n${log()}`);
    t.diagnostic(
      `${MESSAGES} jobs in ${elapsed} ms; killed at ${KILL_AT} received; ${flagged.size} flagged possiblyDuplicate, ` +
        `${twice} of them received twice, ${flagged.size - twice} once`,
    );

    // The surviving worker stops cleanly on SIGTERM: worker.close(), then pool.close().
    survivor.process.kill('SIGTERM');
    assert.equal(await within(survivor.exited, EXIT_TIMEOUT_MS, 'the worker after SIGTERM'), 0, survivor.output());
  },
);

test(
  'a 451 is retried with backoff, a 550 is not, a connection lost after the final dot is sent again and flagged',
  { skip, timeout: 60_000 },
  async (t) => {
    const { cleanup, redis, queue } = await startEverything(t, 'faults');
    const sockets = new Map<number, Socket>();
    const tries = new Map<string, number>();
    const received = new Map<string, number>();
    const smtp = await startRealServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
        readMessage(stream, (text) => {
          const id = messageId(text);
          const attempt = increment(tries, id);
          if (id === 'faults.2@example.org' && attempt === 1) {
            callback(Object.assign(new Error('4.3.0 Try again later'), { responseCode: 451 }));
          } else if (id === 'faults.3@example.org') {
            callback(Object.assign(new Error('5.7.1 Refused by policy'), { responseCode: 550 }));
          } else if (id === 'faults.4@example.org' && attempt === 1) {
            increment(received, id); // the server has it, and the connection drops before its reply
            sockets.get(session.remotePort)?.destroy();
          } else {
            increment(received, id);
            callback(null);
          }
        });
      },
    });
    smtp.raw.on('connection', (socket: Socket) => {
      const port = socket.remotePort;
      if (port !== undefined) sockets.set(port, socket);
    });
    cleanup(() => smtp.close());
    const resets = expectResets(smtp);
    const env = { ...workerEnv(redis, smtp.port, 'faults'), CONCURRENCY: '1' };
    const worker = runExample('worker.js', [], env);
    cleanup(() => kill(worker));

    const producer = runExample('producer.js', ['4', 'faults'], env);
    cleanup(() => kill(producer));
    assert.equal(await within(producer.exited, PRODUCER_TIMEOUT_MS, 'the producer'), 0, producer.output());
    await allFinished(queue, 4, FINISH_TIMEOUT_MS, () => worker.output());

    const completed = new Set((await queue.getJobs(['completed'], 0, -1)).map((job) => job.id));
    const jobs = new Map((await queue.getJobs(['completed', 'failed'], 0, -1)).map((job) => [job.id, job]));
    const outcome = (n: number) => {
      const id = `faults.${n}@example.org`;
      const job = jobs.get(id);
      return {
        state: completed.has(id) ? 'completed' : 'failed',
        tries: tries.get(id) ?? 0,
        received: received.get(id) ?? 0,
        attemptsMade: job?.attemptsMade,
        possiblyDuplicate: job?.returnvalue?.possiblyDuplicate,
      };
    };
    const log = worker.output();
    // Plain: once. 451 then 250: two tries (the second after BullMQ's backoff), delivered once, not flagged.
    const done = { state: 'completed', possiblyDuplicate: false };
    assert.deepEqual(outcome(1), { ...done, tries: 1, received: 1, attemptsMade: 1 }, log);
    assert.deepEqual(outcome(2), { ...done, tries: 2, received: 1, attemptsMade: 2 }, log);
    // 550: one try, the job failed at once (UnrecoverableError), 4 of its 5 attempts unused.
    const refused = { state: 'failed', tries: 1, received: 0, attemptsMade: 1, possiblyDuplicate: undefined };
    assert.deepEqual(outcome(3), refused, log);
    assert.match(jobs.get('faults.3@example.org')?.failedReason ?? '', /550 5\.7\.1 Refused by policy/, log);
    // EUNKNOWN_DELIVERY: not dropped, not blindly retried: sent again (after the backoff) with the flag.
    assert.deepEqual(outcome(4), { ...done, tries: 2, received: 2, attemptsMade: 2, possiblyDuplicate: true }, log);
    assert.match(log, /faults\.4@example\.org: attempt 1 failed: .*may or may not have been delivered/);
    assert.match(log, /faults\.4@example\.org: sent again, possibly a duplicate/);
    assertOnlyResets(resets);
  },
);

/**
 * Runs ONE cell in this (fresh) process and prints one JSON line:
 *
 *   node build/bench/cell-runner.js <cell> <workload> <sinkPort> <durationMs> [count] [directPort]
 *
 * durationMs > 0: a warm-up, then every message completed in a window of that length (sends still in flight at the
 * deadline are waited for and counted). durationMs = 0: WARM_MESSAGES (the memory case: WARM_MESSAGES_MEMORY)
 * unmeasured, then exactly `count`. With an IPC channel the window's start and end are announced to the parent
 * ({ type: 'mark' }), which reads the sink's CPU time at those moments.
 *
 * directPort (the distance mode, where sinkPort is the delaying proxy's): the cell first sends straight to the sink
 * for DIRECT_WARMUP_MS, then starts over through the proxy. At 10 ms a round trip a cell sends 40-90 messages a
 * second, and its code would spend the whole window being compiled by V8: measured on this machine, the DATA cell's
 * reply-to-write time went from 0.39 ms in its first 200 messages through the proxy to 0.23 ms after 600, and 0.26 ms
 * after 2,000 straight to the sink, which is what a sender that has been running a while sees. Every cell, the raw
 * clients and nodemailer included, is warmed the same way.
 */
import { performance } from 'node:perf_hooks';
import {
  CELL_NAMES,
  ENVELOPE_FROM,
  IN_FLIGHT,
  RECIPIENT,
  isCellName,
  openDriver,
  type CellName,
  type Driver,
} from './cells.js';
import { RawSession } from './raw-session.js';
import { isWorkloadName, loadWorkload, type Workload } from './workloads.js';

export interface CellResult {
  /** Messages completed in the measured window. */
  readonly messages: number;
  /** Messages sent in all, warm-up included: what the sink must have received. */
  readonly totalMessages: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly peakRssBytes: number;
  /** Every send succeeded (the parent adds the sink's hash check). */
  readonly ok: boolean;
  readonly error?: string;
}

/**
 * Time-boxed cells send this long before their window opens. In a fresh process the 64-in-flight cell takes 1-2 s to
 * reach its pace while V8 compiles its path: in 250 ms steps, 5k, 22k, 64k, 46k, 57k, 53k, 57k msgs/s in one run,
 * 6k, 20k, 54k, 35k, 55k, 57k, 78k, 102k, 109k in another (session 7); with 0.3 s the window measured the climb.
 */
const WARMUP_MS = 2000;
/** At a distance, after DIRECT_WARMUP_MS straight to the sink: this long via the proxy. */
const WARMUP_AFTER_DIRECT_MS = 300;
/**
 * Messages sent before a counted cell's clock starts. Five: timed one by one in a fresh process, a 20 MB file took
 * 102, 84, 63, 43, then 17-27 ms (session 7): with three, the first counted message was still being compiled.
 */
const WARM_MESSAGES = 5;
/**
 * The memory case (huge-stream) keeps the three it has always had: its peak RSS is taken over the whole process,
 * warm-up included, so every 200 MB more streamed adds to what it measures (4-7 MB more with five, session 7).
 */
const WARM_MESSAGES_MEMORY = 3;
const DIRECT_WARMUP_MS = 1000;
const RSS_SAMPLE_MS = 10;
const CLOSE_TIMEOUT_MS = 10_000;
/** The cell gives up by itself after its window plus this. */
const HARD_LIMIT_MS = 150_000;

interface Plan {
  readonly durationMs: number;
  readonly count: number;
  /** Unmeasured messages before a counted run. */
  readonly warmMessages: number;
  /** The warm-up of a time-boxed run. */
  readonly warmupMs: number;
}

interface Counts {
  messages: number;
  total: number;
  seconds: number;
}

function mark(what: 'start' | 'end'): Promise<void> {
  return new Promise((resolve) =>
    process.send === undefined ? resolve() : process.send({ type: 'mark', what }, () => resolve()),
  );
}

/** Keeps `driver.concurrency` sends in flight while `more()` allows; stops at the first failure. */
async function pump(driver: Driver, more: () => boolean): Promise<number> {
  let done = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && more()) {
      try {
        await driver.send();
        done++;
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: driver.concurrency }, worker));
  if (failure !== undefined) throw failure;
  return done;
}

async function runDriver(driver: Driver, plan: Plan): Promise<Counts> {
  let total = 0;
  if (plan.durationMs > 0) {
    const warmEnd = performance.now() + plan.warmupMs;
    total += await pump(driver, () => performance.now() < warmEnd);
    await mark('start');
    const t0 = performance.now();
    const deadline = t0 + plan.durationMs;
    const messages = await pump(driver, () => performance.now() < deadline);
    const seconds = (performance.now() - t0) / 1000;
    await mark('end');
    return { messages, total: total + messages, seconds };
  }
  // Unmeasured messages first: the connection is opened (as the raw client's is before its clock starts), and the
  // message path is compiled (see WARM_MESSAGES).
  let warm = 0;
  const first = await pump(driver, () => warm++ < plan.warmMessages);
  let claimed = 0;
  await mark('start');
  const t0 = performance.now();
  const messages = await pump(driver, () => claimed++ < plan.count);
  const seconds = (performance.now() - t0) / 1000;
  await mark('end');
  return { messages, total: first + messages, seconds };
}

async function runRaw(workload: Workload, port: number, plan: Plan, window: number): Promise<Counts> {
  if (workload.buffer === undefined) throw new Error('the raw ceiling needs a message in memory');
  const session = await RawSession.open(port, workload.buffer, ENVELOPE_FROM, RECIPIENT);
  try {
    if (plan.durationMs > 0) {
      const warmEnd = performance.now() + plan.warmupMs;
      const total = await session.send(() => performance.now() < warmEnd, window);
      await mark('start');
      const t0 = performance.now();
      const deadline = t0 + plan.durationMs;
      const messages = await session.send(() => performance.now() < deadline, window);
      const seconds = (performance.now() - t0) / 1000;
      await mark('end');
      return { messages, total: total + messages, seconds };
    }
    const first = await session.send((written) => written < plan.warmMessages, window);
    await mark('start');
    const t0 = performance.now();
    const messages = await session.send((written) => written < plan.count, window);
    const seconds = (performance.now() - t0) / 1000;
    await mark('end');
    return { messages, total: first + messages, seconds };
  } finally {
    await session.quit();
  }
}

/** The raw clients send from memory: for the file workload, the same bytes as the large one, read into memory. */
function rawWorkload(workload: Workload): Workload {
  if (workload.name !== 'large-file') return workload;
  const large = loadWorkload('large');
  return { ...large, name: workload.name };
}

/** Sends straight to the sink for DIRECT_WARMUP_MS (see the module comment); returns the messages sent. */
async function warmDirect(cell: CellName, workload: Workload, directPort: number): Promise<number> {
  const end = performance.now() + DIRECT_WARMUP_MS;
  if (cell === 'raw' || cell === 'raw-seq') {
    const workloadInMemory = rawWorkload(workload);
    if (workloadInMemory.buffer === undefined) throw new Error('the raw ceiling needs a message in memory');
    const session = await RawSession.open(directPort, workloadInMemory.buffer, ENVELOPE_FROM, RECIPIENT);
    try {
      return await session.send(() => performance.now() < end, cell === 'raw' ? IN_FLIGHT : 1);
    } finally {
      await session.quit();
    }
  }
  const driver = await openDriver(cell, workload, directPort);
  try {
    return await pump(driver, () => performance.now() < end);
  } finally {
    await withTimeout(driver.close(), CLOSE_TIMEOUT_MS, 'closing the client');
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main(): Promise<CellResult> {
  const [cell = '', workloadName = '', portText = '', durationText = '', countText = '1', directText = '0'] =
    process.argv.slice(2);
  if (!isCellName(cell) || !isWorkloadName(workloadName)) {
    throw new Error(
      `usage: cell-runner.js <${CELL_NAMES.join('|')}> <workload> <sinkPort> <durationMs> [count] [directPort]`,
    );
  }
  const directPort = Number(directText);
  const port = Number(portText);
  const plan: Plan = {
    durationMs: Number(durationText),
    count: Number(countText),
    warmMessages: workloadName === 'huge-stream' ? WARM_MESSAGES_MEMORY : WARM_MESSAGES,
    warmupMs: directPort > 0 ? WARMUP_AFTER_DIRECT_MS : WARMUP_MS,
  };
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), RSS_SAMPLE_MS);
  const workload = loadWorkload(workloadName);
  let counts: Counts = { messages: 0, total: 0, seconds: 0 };
  let error: string | undefined;
  try {
    const warmed = directPort > 0 ? await warmDirect(cell, workload, directPort) : 0;
    if (cell === 'raw' || cell === 'raw-seq') {
      counts = await runRaw(rawWorkload(workload), port, plan, cell === 'raw' ? IN_FLIGHT : 1);
    } else {
      const driver = await openDriver(cell, workload, port);
      try {
        counts = await runDriver(driver, plan);
      } finally {
        await withTimeout(driver.close(), CLOSE_TIMEOUT_MS, 'closing the client');
      }
    }
    counts = { ...counts, total: counts.total + warmed };
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  } finally {
    clearInterval(sampler);
    workload.dispose();
  }
  peak = Math.max(peak, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024);
  return {
    messages: counts.messages,
    totalMessages: counts.total,
    bytes: counts.messages * workload.bytes,
    seconds: counts.seconds,
    peakRssBytes: peak,
    ok: error === undefined,
    ...(error === undefined ? {} : { error }),
  };
}

setTimeout(() => {
  const failed = { messages: 0, totalMessages: 0, bytes: 0, seconds: 0, peakRssBytes: 0, ok: false };
  process.stdout.write(`${JSON.stringify({ ...failed, error: 'hard time limit' })}\n`);
  process.exit(1);
}, HARD_LIMIT_MS).unref();
process.on('disconnect', () => process.exit(1));

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0)),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);

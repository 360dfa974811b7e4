/**
 * `npm run bench`: starts the sink (the C sink when it can be built, else the Node sink, with a warning), runs every
 * cell three times (each run in a fresh process, runs interleaved across cells), then the 200 MB memory case, prints
 * the Markdown tables and the target lines, and writes them to build/bench/results.md.
 *
 * `npm run bench -- --rtt N`: the 2 KB workload only, through a proxy that delays each direction by N/2 ms; the
 * table gives round trips per message. Exits non-zero only when a cell fails its correctness check (or the
 * benchmark itself breaks).
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildCSink, CSink } from './c-sink.js';
import { killCells, runCell, type RunResult, type RunSpec } from './cell-process.js';
import { CELL_NAMES, findCreatePool, type CellName } from './cells.js';
import {
  formatRttTable,
  formatRttTargets,
  formatTable,
  formatTargets,
  summarize,
  SINK_BUSY_PERCENT,
  type MemoryCase,
  type Row,
} from './report.js';
import { SinkControl, type BenchSink } from './sink-control.js';
import type { WorkloadName } from './workloads.js';

const RUNS = 3;
const WINDOW_MS = 2000;
const LARGE_COUNT = 10;
const PROXY_START_TIMEOUT_MS = 10_000;
/** The whole benchmark gives up after this. */
const GLOBAL_LIMIT_MS = 9.5 * 60_000;

const TABLE_WORKLOADS: readonly WorkloadName[] = ['small', 'medium', 'large', 'large-file'];

function plan(workload: WorkloadName, cell: CellName): RunSpec {
  if (workload === 'small' || workload === 'medium') return { cell, workload, durationMs: WINDOW_MS, count: 0 };
  return { cell, workload, durationMs: 0, count: LARGE_COUNT };
}

/**
 * The cells of a workload. For large-file the raw clients send the same bytes from memory (they cannot stream), in the
 * same rounds as the cells that read the file: compared with the raw client of the large workload instead, measured
 * minutes earlier, the file ratio moved with this machine's speed from one minute to the next (0.27x and 0.45x in two
 * runs of the same code, session 6).
 */
function cellsFor(_workload: WorkloadName): CellName[] {
  return [...CELL_NAMES];
}

function progress(spec: RunSpec, run: number, result: RunResult): void {
  const rate =
    result.seconds > 0
      ? `${(result.messages / result.seconds).toFixed(1)} msgs/s, ` +
        `${(result.bytes / result.seconds / 1e6).toFixed(1)} MB/s`
      : '-';
  const rss = `${(result.peakRssBytes / 1e6).toFixed(1)} MB RSS, sink ${result.sinkCpuPercent.toFixed(0)} % CPU`;
  process.stderr.write(
    `  ${spec.workload} ${spec.cell} #${run}: ${rate}, ` +
      `${rss}${result.failure === undefined ? '' : `, FAIL: ${result.failure}`}\n`,
  );
}

/** `--rtt N` (ms), or undefined. */
function parseArgs(argv: readonly string[]): { rttMs: number | undefined } {
  if (argv.length === 0) return { rttMs: undefined };
  const [flag, value] = argv;
  const rttMs = Number(value);
  if (flag !== '--rtt' || argv.length !== 2 || !(rttMs > 0 && rttMs <= 1000)) {
    throw new Error('usage: npm run bench [-- --rtt MS]   (MS: the round-trip time to simulate, 1-1000)');
  }
  return { rttMs };
}

async function startSink(): Promise<BenchSink> {
  const built = buildCSink();
  if ('binary' in built) return new CSink(built.binary);
  process.stderr.write(
    `bench: WARNING: the C sink cannot be used (${built.why}); falling back to the Node sink, which can be the ` +
      `bottleneck: ratios where it is above ${SINK_BUSY_PERCENT} % CPU are marked n/m\n`,
  );
  return SinkControl.start();
}

/** A delaying proxy in front of `upstreamPort`; its port, and how to stop it. */
async function startProxy(upstreamPort: number, oneWayMs: number): Promise<{ port: number; stop: () => void }> {
  const child = fork(
    fileURLToPath(new URL('./delay-proxy.js', import.meta.url)),
    [String(upstreamPort), String(oneWayMs)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the delay proxy did not start')), PROXY_START_TIMEOUT_MS);
    child.once('message', (message: { type?: string; port?: number }) => {
      clearTimeout(timer);
      if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
      else reject(new Error(`unexpected message from the delay proxy: ${JSON.stringify(message)}`));
    });
    child.once('exit', (code) => reject(new Error(`the delay proxy exited (${code})`)));
  });
  return { port, stop: () => child.kill() };
}

/**
 * Every cell of each workload, RUNS times, interleaved; `via` maps the sink's port to the one the cells use, and
 * `warmDirect` has each cell warm up straight to the sink first (the distance mode).
 */
async function measure(
  sink: BenchSink,
  workloads: readonly WorkloadName[],
  via: (sinkPort: number) => Promise<number>,
  warmDirect = false,
): Promise<Row[]> {
  const poolAvailable = findCreatePool() !== undefined;
  const rows: Row[] = [];
  for (const workload of workloads) {
    const sinkPort = await sink.prepare(workload);
    const port = await via(sinkPort);
    const cells = cellsFor(workload);
    const runs = new Map<CellName, RunResult[]>(cells.map((cell) => [cell, []]));
    for (let run = 1; run <= RUNS; run++) {
      for (const cell of cells) {
        if (cell === 'pool-4' && !poolAvailable) continue;
        const spec = { ...plan(workload, cell), ...(warmDirect ? { directPort: sinkPort } : {}) };
        const result = await runCell(sink, port, spec);
        progress(spec, run, result);
        runs.get(cell)?.push(result);
      }
    }
    for (const cell of cells) {
      rows.push(
        cell === 'pool-4' && !poolAvailable
          ? { workload, cell, runs: [], unavailable: 'n/a (no createPool)' }
          : { workload, cell, runs: runs.get(cell) ?? [] },
      );
    }
  }
  return rows;
}

async function memoryCase(sink: BenchSink): Promise<MemoryCase> {
  const memory: { huge: RunResult[]; small: RunResult[] } = { huge: [], small: [] };
  for (let run = 1; run <= RUNS; run++) {
    const huge: RunSpec = { cell: 'client-seq', workload: 'huge-stream', durationMs: 0, count: 1 };
    const hugeResult = await runCell(sink, await sink.prepare('huge-stream'), huge);
    progress(huge, run, hugeResult);
    memory.huge.push(hugeResult);
    const small: RunSpec = { cell: 'client-seq', workload: 'small', durationMs: 0, count: 1 };
    const smallResult = await runCell(sink, await sink.prepare('small'), small);
    progress(small, run, smallResult);
    memory.small.push(smallResult);
  }
  return memory;
}

async function main(): Promise<number> {
  const { rttMs } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const sink = await startSink();
  const proxies: Array<() => void> = [];
  process.on('exit', () => {
    killCells();
    for (const stop of proxies) stop();
    sink.stop();
  });
  let output: string;
  let failed: boolean;
  if (rttMs === undefined) {
    const rows = await measure(sink, TABLE_WORKLOADS, async (port) => port);
    const memory = await memoryCase(sink);
    output = render(sink, rows, memory, (Date.now() - started) / 1000);
    failed = [...rows.map((row) => row.runs), memory.huge, memory.small].some(
      (runs) => runs.length > 0 && !summarize(runs).ok,
    );
  } else {
    const rows = await measure(
      sink,
      ['small'],
      async (port) => {
        const proxy = await startProxy(port, rttMs / 2);
        proxies.push(proxy.stop);
        return proxy.port;
      },
      true,
    );
    output = renderRtt(sink, rows, rttMs, (Date.now() - started) / 1000);
    failed = rows.some((row) => row.runs.length > 0 && !summarize(row.runs).ok);
  }
  process.stdout.write(`${output}\n`);
  fs.writeFileSync(fileURLToPath(new URL('./results.md', import.meta.url)), `${output}\n`);
  return failed ? 1 : 0;
}

function render(sink: BenchSink, rows: readonly Row[], memory: MemoryCase, seconds: number): string {
  return [
    '## smtpmail benchmark',
    '',
    `Node ${process.version}, ${process.platform}/${process.arch}; ${sink.kind} on loopback, in its own process; ` +
      `every cell in a fresh process, default options unless the cell says otherwise; each value the median of ` +
      `${RUNS} runs. small/medium: messages completed in a ${WINDOW_MS / 1000} s window after a 2 s warm-up; ` +
      `large, large-file: ${LARGE_COUNT} messages of 20 MB. MB = 10^6 bytes. × columns compare medians of the same ` +
      'workload; the raw ceiling of a cell sends as many messages at a time (one, or 64); in large-file the raw ' +
      'clients send the same bytes from memory, in the same rounds as the cells that read the file; n/m: the sink ' +
      `was above ${SINK_BUSY_PERCENT} % of a core in one of the two cells, so the ratio measures it, not the client. ` +
      "sink CPU % is the sink process's CPU time over the window, in % of one core.",
    '',
    formatTable(rows),
    '',
    '### Targets',
    '',
    ...formatTargets(rows, memory),
    '',
    `(benchmark wall time ${seconds.toFixed(0)} s)`,
  ].join('\n');
}

function renderRtt(sink: BenchSink, rows: readonly Row[], rttMs: number, seconds: number): string {
  return [
    `## smtpmail benchmark at RTT ${rttMs} ms`,
    '',
    `Node ${process.version}; ${sink.kind}; 2 KB messages through a proxy that holds each chunk ${rttMs / 2} ms in ` +
      `each direction (order kept, no bandwidth limit; the TCP handshake itself is not delayed). Each value the ` +
      `median of ${RUNS} runs of a ${WINDOW_MS / 1000} s window after a 0.3 s warm-up, each cell having first sent ` +
      'for 1 s straight to the sink (so that its code is compiled as in a sender that has run a while). ' +
      'RTT per message = the time ' +
      'per message over the nominal RTT; round trips = the time per message over the measured round trip (the raw ' +
      'client one message at a time: the RTT plus what the proxy, the sink and loopback add), which the targets ' +
      'use. For sendMail, from starting the connection to its result.',
    '',
    formatRttTable(rows, rttMs),
    '',
    '### Targets',
    '',
    ...formatRttTargets(rows),
    '',
    `(benchmark wall time ${seconds.toFixed(0)} s)`,
  ].join('\n');
}

const watchdog = setTimeout(() => {
  process.stderr.write('bench: global time limit reached, stopping\n');
  process.exit(3);
}, GLOBAL_LIMIT_MS);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

main().then(
  (code) => {
    clearTimeout(watchdog);
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);

/**
 * `npm run bench`: starts the sink, runs every cell three times (each run in
 * a fresh process, runs interleaved across cells), then the 200 MB memory
 * case, prints the Markdown table and the target lines, and writes them to
 * build/bench/results.md. Exits non-zero only when a cell fails its
 * correctness check (or the benchmark itself breaks).
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killCells, runCell, type RunResult, type RunSpec } from './cell-process.js';
import { CELL_NAMES, findCreatePool, type CellName } from './cells.js';
import { formatTable, formatTargets, summarize, type MemoryCase, type Row } from './report.js';
import { SinkControl } from './sink-control.js';
import { expectedHash, type WorkloadName } from './workloads.js';

const RUNS = 3;
const WINDOW_MS = 2000;
const LARGE_COUNT = 5;
/** The whole benchmark gives up after this (the brief's budget is 10 minutes). */
const GLOBAL_LIMIT_MS = 9.5 * 60_000;

const TABLE_WORKLOADS: readonly WorkloadName[] = ['small', 'medium', 'large', 'large-file'];

function plan(workload: WorkloadName, cell: CellName): RunSpec {
  if (workload === 'small' || workload === 'medium') return { cell, workload, durationMs: WINDOW_MS, count: 0 };
  return { cell, workload, durationMs: 0, count: LARGE_COUNT };
}

/** The cells of a workload: the raw ceiling needs the message in memory (large-file is compared with large's). */
function cellsFor(workload: WorkloadName): CellName[] {
  return CELL_NAMES.filter((cell) => !(cell === 'raw' && workload === 'large-file'));
}

function progress(spec: RunSpec, run: number, result: RunResult): void {
  const rate =
    result.seconds > 0
      ? `${(result.messages / result.seconds).toFixed(1)} msgs/s, ` +
        `${(result.bytes / result.seconds / 1e6).toFixed(1)} MB/s`
      : '-';
  const rss = `${(result.peakRssBytes / 1e6).toFixed(1)} MB RSS`;
  process.stderr.write(
    `  ${spec.workload} ${spec.cell} #${run}: ${rate}, ` +
      `${rss}${result.failure === undefined ? '' : `, FAIL: ${result.failure}`}\n`,
  );
}

async function main(): Promise<number> {
  const started = Date.now();
  const sink = await SinkControl.start();
  process.on('exit', () => {
    killCells();
    sink.stop();
  });
  const poolAvailable = findCreatePool() !== undefined;
  const rows: Row[] = [];
  try {
    for (const workload of TABLE_WORKLOADS) {
      const hash = expectedHash(workload);
      const cells = cellsFor(workload);
      const runs = new Map<CellName, RunResult[]>(cells.map((cell) => [cell, []]));
      for (let run = 1; run <= RUNS; run++) {
        for (const cell of cells) {
          if (cell === 'pool-4' && !poolAvailable) continue;
          const spec = plan(workload, cell);
          const result = await runCell(sink, spec, hash);
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

    const memory: { huge: RunResult[]; small: RunResult[] } = { huge: [], small: [] };
    const hugeHash = expectedHash('huge-stream');
    const smallHash = expectedHash('small');
    for (let run = 1; run <= RUNS; run++) {
      const huge: RunSpec = { cell: 'client-seq', workload: 'huge-stream', durationMs: 0, count: 1 };
      const hugeResult = await runCell(sink, huge, hugeHash);
      progress(huge, run, hugeResult);
      memory.huge.push(hugeResult);
      const small: RunSpec = { cell: 'client-seq', workload: 'small', durationMs: 0, count: 1 };
      const smallResult = await runCell(sink, small, smallHash);
      progress(small, run, smallResult);
      memory.small.push(smallResult);
    }

    const output = render(rows, memory, (Date.now() - started) / 1000);
    process.stdout.write(`${output}\n`);
    fs.writeFileSync(fileURLToPath(new URL('./results.md', import.meta.url)), `${output}\n`);
    const failed = [...rows.map((row) => row.runs), memory.huge, memory.small].some(
      (runs) => runs.length > 0 && !summarize(runs).ok,
    );
    return failed ? 1 : 0;
  } finally {
    sink.stop();
  }
}

function render(rows: readonly Row[], memory: MemoryCase, seconds: number): string {
  return [
    '## smtpmail benchmark',
    '',
    `Node ${process.version}, ${process.platform}/${process.arch}; loopback sink in its own process; every cell in ` +
      `a fresh process; ` +
      `each value the median of ${RUNS} runs. small/medium: messages completed in a ${WINDOW_MS / 1000} s window ` +
      `after a 0.3 s warm-up; ` +
      `large, large-file: ${LARGE_COUNT} messages of 20 MB. MB = 10^6 bytes. × columns compare medians of the same ` +
      'workload (large-file against the in-memory raw ceiling). ' +
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

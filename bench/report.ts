/**
 * Turns the runs into the Markdown tables and the target lines. Every value is the median of the runs of that cell;
 * a cell is compared with the raw client sending as many messages at a time (one, or 64).
 * ratios are taken between medians of the same workload in the same run of the benchmark. A ratio whose cells kept
 * the sink above SINK_BUSY_PERCENT of a core is not a measure of the client: it is shown as "n/m". MB means 10^6
 * bytes throughout.
 */
import { CELL_LABELS, type CellName } from './cells.js';
import type { RunResult } from './cell-process.js';
import type { WorkloadName } from './workloads.js';

export interface Row {
  readonly workload: WorkloadName;
  readonly cell: CellName;
  readonly runs: readonly RunResult[];
  /** Shown instead of numbers when the cell could not run (e.g. "n/a (no createPool)"). */
  readonly unavailable?: string;
}

export interface MemoryCase {
  /** Peak RSS of each run: one 200 MB streamed message through SmtpClient. */
  readonly huge: readonly RunResult[];
  /** Peak RSS of each run: one 2 KB message through SmtpClient. */
  readonly small: readonly RunResult[];
}

export interface Summary {
  readonly msgsPerSecond: number;
  readonly mbPerSecond: number;
  readonly peakRssMb: number;
  readonly sinkCpuPercent: number;
  readonly ok: boolean;
  readonly failures: readonly string[];
}

const MB = 1e6;
const MEMORY_MARGIN_MB = 32;
/** Above this share of one core the sink may be what limits a cell: ratios with such a cell are not measured. */
export const SINK_BUSY_PERCENT = 80;

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(runs: readonly RunResult[]): Summary {
  const failures = [...new Set(runs.flatMap((run) => (run.failure === undefined ? [] : [run.failure])))];
  return {
    msgsPerSecond: median(runs.map((run) => (run.seconds > 0 ? run.messages / run.seconds : NaN))),
    mbPerSecond: median(runs.map((run) => (run.seconds > 0 ? run.bytes / run.seconds / MB : NaN))),
    peakRssMb: median(runs.map((run) => run.peakRssBytes / MB)),
    sinkCpuPercent: median(runs.map((run) => run.sinkCpuPercent)),
    ok: runs.length > 0 && failures.length === 0,
    failures,
  };
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

function rate(value: number): string {
  if (!Number.isFinite(value)) return '–';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function find(rows: readonly Row[], workload: WorkloadName, cell: CellName): Summary | undefined {
  const row = rows.find((r) => r.workload === workload && r.cell === cell && r.unavailable === undefined);
  return row === undefined ? undefined : summarize(row.runs);
}

/** Cells that send one message at a time: their ceiling is the raw client one message at a time. */
const ONE_AT_A_TIME: ReadonlySet<CellName> = new Set([
  'sendMail',
  'client-seq',
  'client-seq-data',
  'nm-connection',
  'raw-seq',
]);

/**
 * The raw ceiling for a cell: the raw client of the same workload with as many messages in flight (one, or 64); for a
 * streamed file, the raw client sends the same bytes from memory.
 */
function ceilingOf(rows: readonly Row[], workload: WorkloadName, cell: CellName): Summary | undefined {
  return find(rows, workload, ONE_AT_A_TIME.has(cell) ? 'raw-seq' : 'raw');
}

const busy = (...summaries: Array<Summary | undefined>): boolean =>
  summaries.some((s) => s !== undefined && s.sinkCpuPercent > SINK_BUSY_PERCENT);

/** `a / b` on `pick`, or "n/m" when the sink was busy in either cell. */
function ratio(a: Summary, b: Summary | undefined, pick: (s: Summary) => number): string {
  if (b === undefined) return '–';
  return busy(a, b) ? 'n/m' : fixed(pick(a) / pick(b), 2);
}

export function formatTable(rows: readonly Row[]): string {
  const lines = [
    '| workload | cell | msgs/s | MB/s | peak RSS MB | × nodemailer SMTPConnection | × nodemailer pooled (1) | ' +
      '× raw ceiling | sink CPU % | check |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const label = CELL_LABELS[row.cell];
    if (row.unavailable !== undefined) {
      lines.push(`| ${row.workload} | ${label} | ${row.unavailable} | | | | | | | |`);
      continue;
    }
    const s = summarize(row.runs);
    const check = s.ok ? 'ok' : `FAIL: ${s.failures.join('; ')}`;
    const perMessage = (x: Summary): number => x.msgsPerSecond;
    lines.push(
      `| ${row.workload} | ${label} | ${rate(s.msgsPerSecond)} | ${rate(s.mbPerSecond)} | ${fixed(s.peakRssMb, 1)} | ` +
        `${ratio(s, find(rows, row.workload, 'nm-connection'), perMessage)} | ` +
        `${ratio(s, find(rows, row.workload, 'nm-pool-1'), perMessage)} | ` +
        `${ratio(s, ceilingOf(rows, row.workload, row.cell), (x) => x.mbPerSecond)} | ` +
        `${fixed(s.sinkCpuPercent, 0)} | ${check} |`,
    );
  }
  return lines.join('\n');
}

/**
 * One round trip as the cells meet it: the raw client's time per message one at a time (a single write, answered in
 * one read), which is the RTT plus what the proxy, the sink and the loopback add.
 */
export function effectiveRttMs(rows: readonly Row[]): number {
  const raw = find(rows, 'small', 'raw-seq');
  return raw === undefined || !raw.ok ? NaN : 1000 / raw.msgsPerSecond;
}

/**
 * The distance table: messages per second, round trips per message against the nominal RTT and against the measured
 * one (sendMail: from starting the connection to its result).
 */
export function formatRttTable(rows: readonly Row[], rttMs: number): string {
  const effective = effectiveRttMs(rows);
  const lines = [
    `| cell | msgs/s | ms per message | RTT per message (${rttMs} ms) | ` +
      `round trips (${fixed(effective, 2)} ms) | check |`,
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const label = CELL_LABELS[row.cell];
    if (row.unavailable !== undefined) {
      lines.push(`| ${label} | ${row.unavailable} | | | | |`);
      continue;
    }
    const s = summarize(row.runs);
    const check = s.ok ? 'ok' : `FAIL: ${s.failures.join('; ')}`;
    const ms = 1000 / s.msgsPerSecond;
    lines.push(
      `| ${label} | ${rate(s.msgsPerSecond)} | ${fixed(ms, 2)} | ${fixed(ms / rttMs, 2)} | ` +
        `${fixed(ms / effective, 2)} | ${check} |`,
    );
  }
  return lines.join('\n');
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'NOT MEASURED' : met ? 'met' : 'MISSED';
}

/** A "≥ min×" target between two cells, with the numbers it was decided on. */
function ratioTarget(
  title: string,
  a: Summary | undefined,
  b: Summary | undefined,
  min: number,
  pick: (s: Summary) => number,
  unit: string,
): string {
  const value = a === undefined || b === undefined ? NaN : pick(a) / pick(b);
  const sinkBusy = busy(a, b);
  const met = Number.isFinite(value) && !sinkBusy ? value >= min : undefined;
  const why = sinkBusy ? ` (sink above ${SINK_BUSY_PERCENT} % CPU)` : '';
  return (
    `- ${title} ≥ ${min}×: ${fixed(value, 2)}× (${rate(a === undefined ? NaN : pick(a))} vs ` +
    `${rate(b === undefined ? NaN : pick(b))} ${unit})${why}: **${verdict(met)}**`
  );
}

/** The loopback target lines. */
export function formatTargets(rows: readonly Row[], memory: MemoryCase): string[] {
  const msgs = (s: Summary): number => s.msgsPerSecond;
  const mbs = (s: Summary): number => s.mbPerSecond;
  const sequential = find(rows, 'small', 'client-seq');
  const out = [
    ratioTarget(
      'small, SmtpClient sequential vs nodemailer SMTPConnection reused',
      sequential,
      find(rows, 'small', 'nm-connection'),
      1.5,
      msgs,
      'msgs/s',
    ),
    ratioTarget(
      'small, SmtpClient sequential vs nodemailer pooled 1 connection',
      sequential,
      find(rows, 'small', 'nm-pool-1'),
      3,
      msgs,
      'msgs/s',
    ),
    ratioTarget(
      'small, SmtpClient 64 in flight vs raw ceiling',
      find(rows, 'small', 'client-64'),
      find(rows, 'small', 'raw'),
      0.25,
      msgs,
      'msgs/s',
    ),
    ratioTarget(
      'large 20 MB in memory, SmtpClient sequential vs raw, one message at a time',
      find(rows, 'large', 'client-seq'),
      find(rows, 'large', 'raw-seq'),
      0.5,
      mbs,
      'MB/s',
    ),
    ratioTarget(
      'large 20 MB streamed from a file, SmtpClient sequential vs raw, one message at a time (in memory)',
      find(rows, 'large-file', 'client-seq'),
      find(rows, 'large-file', 'raw-seq'),
      0.35,
      mbs,
      'MB/s',
    ),
  ];

  const hugeRss = summarize(memory.huge);
  const smallRss = summarize(memory.small);
  const perRun = (runs: readonly RunResult[]): string => runs.map((run) => fixed(run.peakRssBytes / MB, 1)).join(', ');
  const difference = hugeRss.peakRssMb - smallRss.peakRssMb;
  const memoryOk = hugeRss.ok && smallRss.ok ? difference <= MEMORY_MARGIN_MB : undefined;
  out.push(
    `- 200 MB stream peak RSS ≤ 2 KB-message peak RSS + ${MEMORY_MARGIN_MB} MB: ${fixed(hugeRss.peakRssMb, 1)} MB vs ` +
      `${fixed(smallRss.peakRssMb, 1)} MB, difference ${fixed(difference, 1)} MB (runs: 200 MB ` +
      `${perRun(memory.huge)}; 2 KB ${perRun(memory.small)}; 200 MB at ${rate(hugeRss.mbPerSecond)} ` +
      `MB/s${hugeRss.ok ? '' : `; FAIL: ${hugeRss.failures.join('; ')}`}): **${verdict(memoryOk)}**`,
  );

  const ours = find(rows, 'large', 'client-seq')?.peakRssMb;
  const theirs = find(rows, 'large', 'nm-pool-1')?.peakRssMb;
  const rssMet = ours === undefined || theirs === undefined ? undefined : ours < theirs;
  out.push(
    `- 20 MB in memory, peak RSS SmtpClient sequential < nodemailer pooled 1 connection: ${fixed(ours ?? NaN, 1)} ` +
      `MB vs ${fixed(theirs ?? NaN, 1)} MB: **${verdict(rssMet)}**`,
  );
  return out;
}

/** The distance target lines: round trips per message at most, counted in measured round trips. */
export function formatRttTargets(rows: readonly Row[]): string[] {
  const effective = effectiveRttMs(rows);
  const trips = (cell: CellName): number => {
    const s = find(rows, 'small', cell);
    return s === undefined || !s.ok ? NaN : 1000 / s.msgsPerSecond / effective;
  };
  const target = (title: string, cell: CellName, max: number): string => {
    const value = trips(cell);
    const met = Number.isFinite(value) ? value <= max : undefined;
    return `- ${title} ≤ ${max} round trips per message: ${fixed(value, 2)}: **${verdict(met)}**`;
  };
  return [
    target('SmtpClient sequential, default options (CHUNKING offered)', 'client-seq', 1.1),
    target('SmtpClient sequential with DATA (as where CHUNKING is not offered)', 'client-seq-data', 2.1),
    target('SmtpClient 64 in flight, default options', 'client-64', 0.05),
    target('one-shot sendMail, no TLS or AUTH, from connecting to its result', 'sendMail', 4),
  ];
}

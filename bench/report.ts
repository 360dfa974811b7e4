/**
 * Turns the runs into the Markdown table and the target lines. Every value
 * is the median of the runs of that cell; ratios are taken between medians
 * of the same workload. MB means 10^6 bytes throughout.
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

/** The raw ceiling for a workload: a streamed file is compared with the same bytes pre-rendered in memory. */
function ceilingOf(rows: readonly Row[], workload: WorkloadName): Summary | undefined {
  return find(rows, workload === 'large-file' ? 'large' : workload, 'raw');
}

export function formatTable(rows: readonly Row[]): string {
  const lines = [
    '| workload | cell | msgs/s | MB/s | peak RSS MB | × nodemailer (pooled, 1 conn) | × raw ceiling | sink CPU % | ' +
      'check |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const label = CELL_LABELS[row.cell];
    if (row.unavailable !== undefined) {
      lines.push(`| ${row.workload} | ${label} | ${row.unavailable} | | | | | | |`);
      continue;
    }
    const s = summarize(row.runs);
    const nodemailer = find(rows, row.workload, 'nm-pool-1');
    const ceiling = ceilingOf(rows, row.workload);
    const vsNodemailer = nodemailer === undefined ? NaN : s.msgsPerSecond / nodemailer.msgsPerSecond;
    const vsCeiling = ceiling === undefined ? NaN : s.mbPerSecond / ceiling.mbPerSecond;
    const check = s.ok ? 'ok' : `FAIL: ${s.failures.join('; ')}`;
    lines.push(
      `| ${row.workload} | ${label} | ${rate(s.msgsPerSecond)} | ${rate(s.mbPerSecond)} | ${fixed(s.peakRssMb, 1)} | ` +
        `${fixed(vsNodemailer, 2)} | ${fixed(vsCeiling, 2)} | ${fixed(s.sinkCpuPercent, 0)} | ${check} |`,
    );
  }
  return lines.join('\n');
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? 'NOT MEASURED' : met ? 'met' : 'MISSED';
}

/** The target lines, each with the numbers it was decided on. */
export function formatTargets(rows: readonly Row[], memory: MemoryCase): string[] {
  const out: string[] = [];
  const ratioTarget = (
    title: string,
    a: number | undefined,
    b: number | undefined,
    min: number,
    unit: string,
  ): void => {
    const ratio = a === undefined || b === undefined ? NaN : a / b;
    const met = Number.isFinite(ratio) ? ratio >= min : undefined;
    out.push(
      `- ${title} ≥ ${min}×: ${fixed(ratio, 2)}× (${rate(a ?? NaN)} vs ${rate(b ?? NaN)} ${unit}): **${verdict(met)}**`,
    );
  };
  ratioTarget(
    'small, SmtpClient sequential vs nodemailer pooled 1 connection',
    find(rows, 'small', 'client-seq')?.msgsPerSecond,
    find(rows, 'small', 'nm-pool-1')?.msgsPerSecond,
    2.0,
    'msgs/s',
  );
  ratioTarget(
    'small, SmtpClient 64 in flight (BDAT) vs raw ceiling',
    find(rows, 'small', 'client-64')?.msgsPerSecond,
    find(rows, 'small', 'raw')?.msgsPerSecond,
    0.25,
    'msgs/s',
  );
  ratioTarget(
    'large 20 MB in memory, SmtpClient sequential vs raw ceiling',
    find(rows, 'large', 'client-seq')?.mbPerSecond,
    find(rows, 'large', 'raw')?.mbPerSecond,
    0.5,
    'MB/s',
  );

  const hugeRss = summarize(memory.huge);
  const smallRss = summarize(memory.small);
  const perRun = (runs: readonly RunResult[]): string => runs.map((run) => fixed(run.peakRssBytes / MB, 1)).join(', ');
  const difference = hugeRss.peakRssMb - smallRss.peakRssMb;
  const memoryOk = hugeRss.ok && smallRss.ok ? difference <= MEMORY_MARGIN_MB : undefined;
  out.push(
    `- 200 MB stream peak RSS ≤ 2 KB-message peak RSS + ${MEMORY_MARGIN_MB} MB: ${fixed(hugeRss.peakRssMb, 1)} MB vs ` +
      `${fixed(smallRss.peakRssMb, 1)} MB, difference ${fixed(difference, 1)} MB (runs: 200 MB ` +
      `${perRun(memory.huge)}; ` +
      `2 KB ${perRun(memory.small)}; 200 MB at ${rate(hugeRss.mbPerSecond)} ` +
      `MB/s${hugeRss.ok ? '' : `; FAIL: ${hugeRss.failures.join('; ')}`}): **${verdict(memoryOk)}**`,
  );

  const ours = find(rows, 'large', 'client-seq')?.peakRssMb;
  const theirs = find(rows, 'large', 'nm-pool-1')?.peakRssMb;
  const rssMet = ours === undefined || theirs === undefined ? undefined : ours < theirs;
  out.push(
    `- 20 MB in memory, peak RSS SmtpClient sequential < nodemailer pooled 1 connection: ${fixed(ours ?? NaN, 1)} ` +
      `MB vs ` +
      `${fixed(theirs ?? NaN, 1)} MB: **${verdict(rssMet)}**`,
  );
  return out;
}

/**
 * One run of one cell: forks a fresh cell-runner, reads the sink's CPU time when the runner marks the start and end
 * of its measured window, then checks what the sink received during the run (its hash counts) against what the cell
 * claims it sent.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CellName } from './cells.js';
import type { CellResult } from './cell-runner.js';
import type { BenchSink, SinkCounts } from './sink-control.js';
import type { WorkloadName } from './workloads.js';

export interface RunSpec {
  readonly cell: CellName;
  readonly workload: WorkloadName;
  /** > 0: time-boxed window; 0: `count` messages. */
  readonly durationMs: number;
  readonly count: number;
  /** The distance mode: the sink's own port, for the cell's warm-up straight to it (cell-runner.ts). */
  readonly directPort?: number | undefined;
}

export interface RunResult extends CellResult {
  /** Sink CPU time during the window, as a percentage of one core. */
  readonly sinkCpuPercent: number;
  /** Why the correctness check failed, when it did. */
  readonly failure: string | undefined;
}

const RUN_TIMEOUT_MS = 150_000;
const children = new Set<ChildProcess>();

/** Kills every cell process still running (on exit or on the global time limit). */
export function killCells(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Compares what the sink received during the run with the messages the cell claims it sent. */
export function checkDelivery(before: SinkCounts, after: SinkCounts, claimed: number): string | undefined {
  const delivered = after.expected - before.expected;
  const wrong = after.other - before.other;
  if (wrong > 0) return `${wrong} message(s) delivered with a wrong hash`;
  if (delivered !== claimed) return `the cell claims ${claimed} message(s), the sink received ${delivered}`;
  return undefined;
}

/** One run of `spec` against `sink`, the cell sending to `port` (the sink's, or a delaying proxy's in front of it). */
export async function runCell(sink: BenchSink, port: number, spec: RunSpec): Promise<RunResult> {
  const before = await sink.counts();
  const script = fileURLToPath(new URL('./cell-runner.js', import.meta.url));
  const args = [spec.cell, spec.workload, String(port), String(spec.durationMs), String(spec.count)];
  if (spec.directPort !== undefined) args.push(String(spec.directPort));
  const child = fork(script, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  children.add(child);
  const cpu: Array<Promise<number>> = [];
  child.on('message', (message: { type?: string }) => {
    if (message.type === 'mark') cpu.push(sink.counts().then((counts) => counts.cpuMs));
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  children.delete(child);

  const line = stdout.trim().split('\n').pop() ?? '';
  let result: CellResult;
  try {
    result = JSON.parse(line) as CellResult;
  } catch {
    const why = `no result (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    result = { messages: 0, totalMessages: 0, bytes: 0, seconds: 0, peakRssBytes: 0, ok: false, error: why };
  }
  const marks = await Promise.all(cpu);
  const sinkCpuMs = marks.length === 2 ? (marks[1] as number) - (marks[0] as number) : NaN;
  const after = await sink.counts();
  const failure = result.ok ? checkDelivery(before, after, result.totalMessages) : (result.error ?? 'failed');
  return { ...result, sinkCpuPercent: result.seconds > 0 ? (sinkCpuMs / (result.seconds * 1000)) * 100 : NaN, failure };
}

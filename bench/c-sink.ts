/**
 * The C sink (../shared/bench-sink: epoll, one thread), built with gcc into build/bench-sink when its source is
 * found, and driven as a BenchSink: one process per workload, its counters read through the stats file it writes on
 * SIGUSR1. It compares every body byte for byte with the workload's message (its SHA-256 check costs a core at about
 * 200 MB/s on this machine, which made it the bottleneck of every 20 MB cell); the 200 MB stream, whose bytes are
 * never written to disk, is checked by SHA-256. Its source is looked for at $SMTPMAIL_BENCH_SINK_SOURCE, else at
 * ../shared/bench-sink/sink.c beside the project.
 *
 * The sink stops by itself: a detached shell beside it kills it after LIFETIME_S, so a bench killed without stopping it
 * (SIGKILL, a CI timeout) leaves no server behind for long. A sink stopped as usual takes its shell with it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchSink, SinkCounts } from './sink-control.js';
import { expectedHash, loadWorkload, type WorkloadName } from './workloads.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BINARY = path.join(ROOT, 'build', 'bench-sink');
const START_TIMEOUT_MS = 10_000;
const STATS_TIMEOUT_MS = 5_000;
const POLL_MS = 2;
/** Far longer than any workload's cells take (the whole bench takes about 7 minutes). */
const LIFETIME_S = 30 * 60;

interface Stats {
  readonly msgs: number;
  readonly sha_ok: number;
  readonly sha_bad: number;
  readonly cmp_ok: number;
  readonly cmp_bad: number;
  readonly cpu_s: number;
}

function sourcePath(): string | undefined {
  const candidates = [
    process.env['SMTPMAIL_BENCH_SINK_SOURCE'],
    path.join(ROOT, '..', 'shared', 'bench-sink', 'sink.c'),
  ];
  return candidates.find((candidate) => candidate !== undefined && candidate !== '' && fs.existsSync(candidate));
}

/** The sink's binary, built when missing or older than its source; undefined (and why) when it cannot be. */
export function buildCSink(): { binary: string } | { why: string } {
  const source = sourcePath();
  if (source === undefined) return { why: 'no sink.c (set SMTPMAIL_BENCH_SINK_SOURCE)' };
  try {
    const fresh = fs.existsSync(BINARY) && fs.statSync(BINARY).mtimeMs >= fs.statSync(source).mtimeMs;
    if (!fresh) {
      fs.mkdirSync(path.dirname(BINARY), { recursive: true });
      execFileSync('gcc', ['-O2', '-Wall', '-o', BINARY, source, '-lm'], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    return { binary: BINARY };
  } catch (error) {
    return { why: `gcc failed: ${(error as Error).message.split('\n')[0]}` };
  }
}

async function until<T>(read: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`the C sink: ${what} timed out`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export class CSink implements BenchSink {
  readonly kind = 'C sink (epoll, every body compared with the message sent)';
  readonly #binary: string;
  readonly #dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtpmail-csink-'));
  #child: ChildProcess | undefined;
  /** The shell that kills the sink after LIFETIME_S, in a process group of its own. */
  #reaper: ChildProcess | undefined;
  #workload: WorkloadName | undefined;
  #port = 0;

  constructor(binary: string) {
    this.#binary = binary;
  }

  async prepare(workload: WorkloadName): Promise<number> {
    if (this.#child !== undefined && this.#workload === workload) return this.#port;
    this.#kill();
    const ready = path.join(this.#dir, 'ready');
    fs.rmSync(ready, { force: true });
    const args = [...this.#check(workload), '--ready', ready, '--stats', this.#statsFile, '0'];
    this.#child = spawn(this.#binary, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    this.#reaper = reaperOf(this.#child);
    this.#workload = workload;
    this.#port = await until(
      () => {
        const text = fs.existsSync(ready) ? fs.readFileSync(ready, 'utf8') : '';
        return text.endsWith('\n') ? Number(text) : undefined;
      },
      START_TIMEOUT_MS,
      'start',
    );
    return this.#port;
  }

  async counts(): Promise<SinkCounts> {
    const child = this.#child;
    if (child === undefined) throw new Error('the C sink is not running');
    fs.rmSync(this.#statsFile, { force: true });
    child.kill('SIGUSR1');
    // The sink writes a temporary file and renames it: the file exists only once it is whole.
    const stats = await until(
      () =>
        fs.existsSync(this.#statsFile) ? (JSON.parse(fs.readFileSync(this.#statsFile, 'utf8')) as Stats) : undefined,
      STATS_TIMEOUT_MS,
      'stats',
    );
    const expected = stats.sha_ok + stats.cmp_ok;
    return { messages: stats.msgs, expected, other: stats.sha_bad + stats.cmp_bad, cpuMs: stats.cpu_s * 1000 };
  }

  stop(): void {
    this.#kill();
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }

  get #statsFile(): string {
    return path.join(this.#dir, 'stats.json');
  }

  /** The sink's check for `workload`: a byte comparison with the message written to a file, or its SHA-256. */
  #check(workload: WorkloadName): string[] {
    if (workload === 'huge-stream') return ['--expect-sha256', expectedHash(workload)];
    const file = path.join(this.#dir, `${workload === 'large-file' ? 'large' : workload}.eml`);
    if (!fs.existsSync(file)) {
      const source = loadWorkload(workload === 'large-file' ? 'large' : workload);
      try {
        fs.writeFileSync(file, source.buffer ?? Buffer.alloc(0));
      } finally {
        source.dispose();
      }
    }
    return ['--expect-file', file];
  }

  /** SIGKILL: on SIGTERM the sink writes its stats file once more, which a new sink's reader could take as its own. */
  #kill(): void {
    this.#child?.kill('SIGKILL');
    this.#child = undefined;
    const reaper = this.#reaper?.pid;
    this.#reaper = undefined;
    try {
      if (reaper !== undefined) process.kill(-reaper, 'SIGKILL'); // the shell and its sleep
    } catch {
      // the reaper is gone already (it has killed the sink)
    }
  }
}

/** A detached shell that kills `child` after LIFETIME_S unless it is killed first; it does not keep the bench alive. */
function reaperOf(child: ChildProcess): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  const reaper = spawn('sh', ['-c', `sleep ${LIFETIME_S}; kill -9 ${child.pid}`], { stdio: 'ignore', detached: true });
  reaper.unref();
  return reaper;
}

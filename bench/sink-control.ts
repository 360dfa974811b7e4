/**
 * What the benchmark needs of a sink (BenchSink), and the Node sink's side of it: forks bench/sink.js, learns its
 * port, and asks it to reset or report over IPC. Requests are answered in order, so a FIFO of pending promises
 * matches each answer to its request. The C sink (c-sink.ts) is preferred; this one is the fallback.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SinkReport } from './sink.js';
import { expectedHash, type WorkloadName } from './workloads.js';

const START_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** Counters since the sink started checking the current hash; a run takes differences. */
export interface SinkCounts {
  readonly messages: number;
  /** Messages whose body had the expected SHA-256, and those that did not. */
  readonly expected: number;
  readonly other: number;
  /** The sink's CPU time (user and system), ms. */
  readonly cpuMs: number;
}

export interface BenchSink {
  /** What the sink is, for the report. */
  readonly kind: string;
  /** Makes the sink check every body against `workload`'s message; returns the port to send to. */
  prepare(workload: WorkloadName): Promise<number>;
  counts(): Promise<SinkCounts>;
  stop(): void;
}

interface SinkMessage {
  readonly type: string;
  readonly port?: number;
  readonly report?: SinkReport;
}

export class SinkControl implements BenchSink {
  readonly kind = 'Node sink (one process, SHA-256 of every body)';
  readonly #child: ChildProcess;
  readonly port: number;
  #hash = '';
  readonly #pending: Array<(message: SinkMessage) => void> = [];

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
    child.on('message', (message: SinkMessage) => this.#pending.shift()?.(message));
  }

  static async start(): Promise<SinkControl> {
    const child = fork(fileURLToPath(new URL('./sink.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the sink did not start')), START_TIMEOUT_MS);
      child.once('message', (message: SinkMessage) => {
        clearTimeout(timer);
        if (message.type === 'ready' && typeof message.port === 'number') resolve(message.port);
        else reject(new Error(`unexpected message from the sink: ${JSON.stringify(message)}`));
      });
      child.once('exit', (code) => reject(new Error(`the sink exited (${code})`)));
    });
    return new SinkControl(child, port);
  }

  async prepare(workload: WorkloadName): Promise<number> {
    const hash = expectedHash(workload);
    if (this.#hash !== hash) await this.#request({ type: 'reset' });
    this.#hash = hash;
    return this.port;
  }

  async counts(): Promise<SinkCounts> {
    const answer = await this.#request({ type: 'report' });
    const report: SinkReport | undefined = answer.report;
    if (report === undefined) throw new Error(`unexpected answer from the sink: ${JSON.stringify(answer)}`);
    const expected = report.hashes[this.#hash] ?? 0;
    const all = Object.values(report.hashes).reduce((sum, count) => sum + count, 0);
    return { messages: report.messages, expected, other: all - expected, cpuMs: report.cpuMs };
  }

  stop(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill();
  }

  #request(message: object): Promise<SinkMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the sink did not answer')), REQUEST_TIMEOUT_MS);
      this.#pending.push((answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.#child.send(message);
    });
  }
}

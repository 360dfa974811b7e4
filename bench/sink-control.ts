/**
 * The parent's side of the sink: forks bench/sink.js, learns its port, and
 * asks it to reset or report over IPC. Requests are answered in order, so a
 * FIFO of pending promises matches each answer to its request.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SinkReport } from './sink.js';

const START_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

interface SinkMessage {
  readonly type: string;
  readonly port?: number;
  readonly report?: SinkReport;
}

export class SinkControl {
  readonly #child: ChildProcess;
  readonly port: number;
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

  async reset(): Promise<void> {
    await this.#request({ type: 'reset' });
  }

  async report(): Promise<SinkReport> {
    const answer = await this.#request({ type: 'report' });
    if (answer.report === undefined) throw new Error(`unexpected answer from the sink: ${JSON.stringify(answer)}`);
    return answer.report;
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

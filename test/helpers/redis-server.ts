/**
 * A throwaway Redis for tests: Debian's `redis-server` on a free loopback port, nothing saved (no RDB, no AOF, a
 * temporary directory), under a shell that kills it when its standard input (a pipe from the test) closes: at
 * `stop()`, or when the test process dies, however it dies. The packaged service, if any, is never used.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { accepts, freePort } from './ports.js';

export interface TestRedis {
  readonly url: string;
  /** Everything Redis printed (for a failure's message). */
  output(): string;
  stop(): Promise<void>;
}

/** Why Redis cannot be run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0
    ? undefined
    : 'redis-server is not installed: skipped (apt-get install redis-server)';
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** `read` returns at end of input; then Redis is killed, whatever state it is in. */
const GUARD = 'redis-server "$@" & read -r _; kill -9 $! 2>/dev/null; wait';

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const shell = spawn('sh', ['-c', GUARD, 'sh', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  shell.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  shell.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    shell.stdin.end();
    const timer = setTimeout(() => shell.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    await fs.rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (shell.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not start on port ${port}: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, output: () => output, stop };
}

/**
 * Runs the built `smtpmail` command as a child process, with a private HOME
 * and XDG_CONFIG_HOME (so no real ~/.authinfo or configuration is read), the
 * message on standard input, and a time limit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const CA_FILE = fileURLToPath(new URL('../../../test/fixtures/ca.pem', import.meta.url));
const LIMIT_MS = 20_000;

/** The command-line options for a plain-TCP server on loopback (a test's smtp-server). */
export const plain = (server: { readonly port: number }): string[] => [
  '--server',
  '127.0.0.1',
  '--port',
  String(server.port),
  '--stream-type',
  'plain',
];

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(args: readonly string[], stdin: string | Buffer, env: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => {}); // the command may exit before reading everything
  child.stdin.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A private home for one test: HOME, XDG_CONFIG_HOME and a place for files; removed afterwards. */
export async function withHome(run: (home: string, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-cli-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    TZ: 'UTC',
  };
  try {
    await run(home, env);
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

export async function writeConfig(home: string, config: unknown): Promise<void> {
  const dir = path.join(home, 'config', 'smtpmail');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
}

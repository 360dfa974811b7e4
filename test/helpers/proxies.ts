/**
 * Real proxies for the proxy tests, started on free loopback ports with configurations in a temporary directory and
 * stopped at the end (and by a timer of their own, whatever happens): Dante (`danted`, SOCKS5, with or without
 * user/password; its username method checks the system's passwords, so the user `smtpmail-proxy` with password
 * `proxy pass` must exist: .ci/run creates it) and tinyproxy (HTTP CONNECT, Basic credentials `bob` / `proxypass`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const SOCKS_USER = 'smtpmail-proxy';
export const SOCKS_PASSWORD = 'proxy pass';
export const HTTP_USER = 'bob';
export const HTTP_PASSWORD = 'proxypass';
const LIFETIME_MS = 60_000;
const START_LIMIT_MS = 10_000;

export interface RunningProxy {
  readonly port: number;
  stop(): Promise<void>;
}

/** Why a proxy test cannot run here, or undefined when it can. */
export function missing(program: 'danted' | 'tinyproxy', needsSocksUser = false): string | undefined {
  if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
    const debian = program === 'danted' ? 'dante-server' : 'tinyproxy';
    return `${program} is not installed: skipped (apt-get install ${debian})`;
  }
  if (needsSocksUser && spawnSync('id', [SOCKS_USER]).status !== 0) {
    return `the system user ${SOCKS_USER} does not exist: skipped (.ci/run creates it)`;
  }
  if (program === 'danted' && process.getuid?.() !== 0) return 'danted needs root here: skipped';
  return undefined;
}

async function listening(port: number, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const until = Date.now() + START_LIMIT_MS;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the proxy exited (${child.exitCode}): ${await log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the proxy did not listen within ${START_LIMIT_MS} ms: ${await log()}`);
}

async function start(program: string, args: (dir: string) => string[], config: (port: number, dir: string) => string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `smtpmail-${program}-`));
  const port = await freePort();
  await fs.writeFile(path.join(dir, 'proxy.conf'), config(port, dir));
  const child = spawn(program, args(dir), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const lifetime = setTimeout(() => child.kill('SIGKILL'), LIFETIME_MS);
  lifetime.unref();
  const log = async (): Promise<string> =>
    output + (await fs.readFile(path.join(dir, 'proxy.log'), 'utf8').catch(() => ''));
  const stop = async (): Promise<void> => {
    clearTimeout(lifetime);
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await listening(port, child, log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}

/** Dante on a free loopback port; `withUser`: SOCKS5 user/password required (RFC 1929). */
export function startDante(withUser: boolean): Promise<RunningProxy> {
  return start(
    'danted',
    (dir) => ['-f', path.join(dir, 'proxy.conf'), '-N', '1', '-p', path.join(dir, 'danted.pid')],
    (port, dir) =>
      [
        `logoutput: ${path.join(dir, 'proxy.log')}`,
        `internal: 127.0.0.1 port = ${port}`,
        'external: 127.0.0.1',
        'clientmethod: none',
        `socksmethod: ${withUser ? 'username' : 'none'}`,
        'user.privileged: root',
        'user.unprivileged: nobody',
        'client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }',
        // Only loopback destinations, and one port refused, so that a refusal can be tested.
        'socks block { from: 127.0.0.0/8 to: 127.0.0.0/8 port = 9 }',
        'socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 }',
        '',
      ].join('\n'),
  );
}

/** tinyproxy on a free loopback port, CONNECT with Basic credentials required. */
export function startTinyproxy(): Promise<RunningProxy> {
  return start(
    'tinyproxy',
    (dir) => ['-d', '-c', path.join(dir, 'proxy.conf')],
    (port, dir) =>
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Allow 127.0.0.1',
        `BasicAuth ${HTTP_USER} ${HTTP_PASSWORD}`,
        `LogFile "${path.join(dir, 'proxy.log')}"`,
        'LogLevel Info',
        'MaxClients 20',
        '',
      ].join('\n'),
  );
}

/**
 * A throwaway Dovecot submission server for tests (Debian's `dovecot-submissiond`): its configuration, password file
 * and runtime directory in a temporary directory, a submission listener on a free loopback port with STARTTLS (the
 * fixture certificate), SCRAM-SHA-1, SCRAM-SHA-256 and PLAIN, and a relay to a server the test runs. It runs in the
 * foreground under a shell that kills its whole process group when its standard input (a pipe from the test) closes:
 * at `stop()`, or when the test process dies, however it dies; and after WATCHDOG_S seconds whatever happens. The
 * packaged service, if any, is never used.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepts, freePort } from './ports.js';

export interface TestDovecot {
  readonly port: number;
  /** Everything Dovecot logged (for a failure's message). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface DovecotOptions {
  /** passwd-file lines, `user:{SCHEME}secret`. */
  readonly users: readonly string[];
  /** Where submission relays to (a server on 127.0.0.1). */
  readonly relayPort: number;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const WATCHDOG_S = 300;

/** The dovecot program: on PATH, or where Debian puts it (/usr/sbin is not on every user's PATH). */
function dovecotProgram(): string | undefined {
  for (const program of ['dovecot', '/usr/sbin/dovecot']) {
    const probe = spawnSync(program, ['--version'], { stdio: 'ignore' });
    if (probe.error === undefined && probe.status === 0) return program;
  }
  return undefined;
}

/** Why Dovecot cannot be run here, or undefined when it can. */
export function dovecotMissing(): string | undefined {
  if (dovecotProgram() === undefined) return 'dovecot is not installed: skipped (apt-get install dovecot-submissiond)';
  if (!hasSubmission()) return 'Dovecot has no submission service: skipped (dovecot-submissiond)';
  if (process.getuid?.() === 0 && (!userExists('dovecot') || !userExists('dovenull')))
    return 'running as root without the dovecot and dovenull users: skipped';
  return undefined;
}

function hasSubmission(): boolean {
  return spawnSync('test', ['-x', '/usr/lib/dovecot/submission']).status === 0;
}

function userExists(name: string): boolean {
  return spawnSync('id', [name], { stdio: 'ignore' }).status === 0;
}

/**
 * The shell's job: Dovecot in the foreground, a watchdog, then (at end of input) TERM for a clean shutdown, the
 * temporary directory removed, and KILL for the whole process group (Dovecot's children included, and the watchdog).
 */
const GUARD =
  '"$1" -F -c "$2" & pid=$!; (sleep "$3"; kill -TERM $pid) 2>/dev/null & ' +
  'read -r _; kill -TERM $pid 2>/dev/null; sleep 1; rm -rf "$4"; kill -KILL 0';

export async function startDovecot(options: DovecotOptions): Promise<TestDovecot> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-dovecot-sasl-'));
  // Dovecot's unprivileged processes (dovenull, dovecot when run as root) must reach their sockets in here.
  await fs.chmod(dir, 0o755);
  const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
  const root = process.getuid?.() === 0;
  const me = os.userInfo();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  await fs.writeFile(path.join(dir, 'passwd'), options.users.map((line) => `${line}\n`).join(''), { mode: 0o644 });
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = smtpmail-sasl-test
log_path = ${dir}/dovecot.log
protocols = submission
listen = 127.0.0.1
ssl = yes
ssl_cert = <${fixtures}server.pem
ssl_key = <${fixtures}server-key.pem
auth_mechanisms = plain scram-sha-1 scram-sha-256
auth_failure_delay = 0
default_login_user = ${root ? 'dovenull' : me.username}
default_internal_user = ${root ? 'dovecot' : me.username}
default_internal_group = ${root ? 'dovecot' : group}
first_valid_uid = 1
hostname = dovecot.test
mail_location = maildir:${dir}/mail/%u
submission_relay_host = 127.0.0.1
submission_relay_port = ${options.relayPort}
submission_relay_trusted = yes
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${root ? 'dovecot' : me.uid} gid=${root ? 'dovecot' : me.gid} home=${dir}/home/%u
}
# No auth penalty (growing delays after failed logins from one address): the tests fail logins on purpose.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service submission-login {
  inet_listener submission {
    port = ${port}
  }
}
`;
  const file = path.join(dir, 'dovecot.conf');
  await fs.writeFile(file, config);
  const program = dovecotProgram() ?? 'dovecot';
  const shell = spawn('sh', ['-c', GUARD, 'sh', program, file, String(WATCHDOG_S), dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group, which the guard kills whole
  });
  let output = '';
  shell.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  shell.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  const log = async (): Promise<string> =>
    output + (await fs.readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => ''));
  const stop = async (): Promise<void> => {
    shell.stdin.end();
    const timer = setTimeout(() => {
      try {
        process.kill(-(shell.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    await fs.rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await accepts(port))) {
    if (shell.exitCode !== null || Date.now() > deadline) {
      const text = await log();
      await stop();
      throw new Error(`dovecot did not start on port ${port}: ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, log, stop };
}

/**
 * A throwaway Dovecot LMTP server for tests (Debian's `dovecot-core` and `dovecot-lmtpd`): its own configuration,
 * sockets, state, log and Maildirs in a temporary directory, LMTP on a free loopback port and on a unix socket there,
 * users from a passwd-file (alice and bob; carol and dave with a quota of 10 bytes, dave's full mailbox a temporary
 * failure). The packaged service is never used. `dovecot -F` runs in its own process group under a shell that stops
 * it, and kills what is left of that group, when its standard input (a pipe from the test) closes: at `stop()`, or
 * when the test process dies, however it dies.
 *
 * As root, mail is stored as nobody (65534), whose uid Dovecot accepts (it refuses root's); otherwise as the current
 * user, who then also runs Dovecot's internal and login processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export interface TestDovecot {
  readonly port: number;
  /** The LMTP unix socket. */
  readonly socket: string;
  /** Each file in `user`'s Maildir/new, oldest first, as bytes. */
  delivered(user: string): Buffer[];
  /** Dovecot's log (for a failure's message). */
  log(): string;
  stop(): Promise<void>;
}

/** Where Debian, Fedora and source builds put Dovecot's lmtp executable. */
const LMTP_EXECUTABLES = ['/usr/lib/dovecot/lmtp', '/usr/libexec/dovecot/lmtp', '/usr/local/libexec/dovecot/lmtp'];

/** Why Dovecot's LMTP cannot be run here, or undefined when it can. */
export function dovecotMissing(): string | undefined {
  const probe = spawnSync('dovecot', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0)
    return 'dovecot is not installed: skipped (apt-get install dovecot-core dovecot-lmtpd)';
  if (!LMTP_EXECUTABLES.some((file) => fs.existsSync(file)))
    return "dovecot's LMTP server is not installed: skipped (apt-get install dovecot-lmtpd)";
  if (spawnSync('setsid', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'setsid (util-linux) is not installed: skipped';
  return undefined;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * `read` returns at end of input; then Dovecot's master gets SIGTERM (it stops its children), whatever is left of
 * its process group SIGKILL after 3 s, and the temporary directory is removed. `setsid` gives Dovecot a process group
 * of its own (job control, `set -m`, needs a terminal).
 */
const GUARD =
  'setsid dovecot -F -c "$1" & pid=$!; read -r _; kill -TERM $pid 2>/dev/null; i=0; ' +
  'while kill -0 -$pid 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -$pid 2>/dev/null; ' +
  'wait; rm -rf "$2"';

export async function startDovecot(): Promise<TestDovecot> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtpmail-dovecot-'));
  const root = process.getuid?.() === 0;
  const uid = root ? 65534 : (process.getuid?.() ?? 0);
  const gid = root ? 65534 : (process.getgid?.() ?? 0);
  const mail = path.join(dir, 'mail');
  fs.mkdirSync(mail);
  for (const sub of ['run', 'state']) fs.mkdirSync(path.join(dir, sub));
  if (root) {
    fs.chmodSync(dir, 0o755); // the mail user must reach its Maildir
    fs.chownSync(mail, uid, gid);
  }
  const home = (user: string): string => path.join(mail, user);
  const users = [
    `alice:{PLAIN}secret:${uid}:${gid}::${home('alice')}::`,
    `bob:{PLAIN}secret:${uid}:${gid}::${home('bob')}::`,
    `carol:{PLAIN}secret:${uid}:${gid}::${home('carol')}::userdb_quota_rule=*:bytes=10`,
    `dave:{PLAIN}secret:${uid}:${gid}::${home('dave')}::userdb_quota_rule=*:bytes=10 userdb_quota_full_tempfail=yes`,
  ];
  fs.writeFileSync(path.join(dir, 'users'), `${users.join('\n')}\n`);
  const socket = path.join(dir, 'lmtp');
  const me = root ? undefined : os.userInfo().username;
  const group = root ? undefined : spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim() || String(gid);
  const config = [
    `instance_name = smtpmail-test-${path.basename(dir)}`,
    `base_dir = ${path.join(dir, 'run')}`,
    `state_dir = ${path.join(dir, 'state')}`,
    `log_path = ${path.join(dir, 'dovecot.log')}`,
    'protocols = lmtp',
    'listen = 127.0.0.1',
    'ssl = no',
    ...(me === undefined
      ? []
      : [`default_internal_user = ${me}`, `default_internal_group = ${group}`, `default_login_user = ${me}`]),
    `first_valid_uid = ${uid}`,
    `last_valid_uid = ${uid}`,
    'auth_username_format = %Ln', // alice@lmtp.test is alice
    'mail_location = maildir:~/Maildir',
    'mail_plugins = quota',
    'plugin {',
    '  quota = maildir:User quota',
    '}',
    `passdb {\n  driver = passwd-file\n  args = ${path.join(dir, 'users')}\n}`,
    `userdb {\n  driver = passwd-file\n  args = ${path.join(dir, 'users')}\n}`,
    'service lmtp {',
    `  inet_listener lmtp {\n    address = 127.0.0.1\n    port = ${port}\n  }`,
    `  unix_listener ${socket} {\n    mode = 0666\n  }`,
    '}',
  ];
  const file = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(file, `${config.join('\n')}\n`);
  const shell = spawn('sh', ['-c', GUARD, 'sh', file, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  shell.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  shell.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  const log = (): string => {
    let text = output;
    try {
      text += fs.readFileSync(path.join(dir, 'dovecot.log'), 'utf8');
    } catch {
      // no log yet
    }
    return text;
  };
  const stop = async (): Promise<void> => {
    shell.stdin.end();
    const timer = setTimeout(() => shell.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!((await accepts({ port, host: '127.0.0.1' })) && (await accepts({ path: socket })))) {
    if (shell.exitCode !== null || Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`dovecot did not start (port ${port}, socket ${socket}): ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const delivered = (user: string): Buffer[] => {
    const folder = path.join(home(user), 'Maildir', 'new');
    if (!fs.existsSync(folder)) return [];
    // Maildir names start with the delivery time: seconds, then `.M` and microseconds.
    const time = (name: string): number => {
      const match = /^(\d+)\.M(\d+)/.exec(name);
      return match === null ? 0 : Number(match[1]) * 1e6 + Number(match[2]);
    };
    return fs
      .readdirSync(folder)
      .sort((a, b) => time(a) - time(b))
      .map((name) => fs.readFileSync(path.join(folder, name)));
  };
  return { port, socket, delivered, log, stop };
}

/** Whether something accepts a connection there (and greets: Dovecot's lmtp process starts on demand). */
function accepts(where: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(where);
    socket.once('data', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

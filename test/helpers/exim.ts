/**
 * A real MTA for the tests: Exim (Debian's exim4-daemon-light or -heavy) started in the foreground on a free loopback
 * port, with a configuration, spool and logs in a temporary directory of its own (the system's Exim configuration and
 * queue are never touched). It offers STARTTLS with the fixture certificate, does no DKIM verification of its own (no
 * DNS), and delivers each message for the local parts it is given to the file `<mail>/<local part>` as it stores it:
 * CRLF line ends (`use_crlf`), no mbox "From " line and no ">From" quoting, no Return-Path, Envelope-to or
 * Delivery-date fields; only its Received field is added on top. Exim keeps root only with a configuration given by
 * root (`-C`), and delivers as nobody, so the tests need root; `eximSkipReason()` says why they cannot run otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

/** A file of test/fixtures/, by path (Exim reads it). */
const fixturePath = (name: string): string => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));

const CANDIDATES = ['/usr/sbin/exim4', '/usr/sbin/exim', 'exim4', 'exim'];
const START_LIMIT_MS = 10_000;
const DELIVERY_LIMIT_MS = 20_000;

/** The Exim binary, if any. */
function eximBinary(): string | undefined {
  return CANDIDATES.find((exim) => spawnSync(exim, ['-bV'], { stdio: 'ignore' }).status === 0);
}

/** Why Exim cannot be used here, or undefined when it can. */
export function eximSkipReason(): string | undefined {
  if (eximBinary() === undefined) return 'Exim is not installed (apt-get install exim4-daemon-light)';
  if (process.getuid?.() !== 0) return 'Exim keeps the privileges it needs with a test configuration (-C) only as root';
  return undefined;
}

export interface Exim {
  readonly port: number;
  /** The message delivered to `localPart` (waits for it), exactly as Exim wrote it. */
  delivered(localPart: string): Promise<Buffer>;
  /** Exim's main log, for failure messages. */
  log(): Promise<string>;
  close(): Promise<void>;
}

function configuration(dir: string, exim: string, localParts: readonly string[]): string {
  return `exim_path = ${exim}
exim_user = root
exim_group = root
keep_environment =
primary_hostname = mta.test
qualify_domain = mta.test
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
local_interfaces = 127.0.0.1
acl_smtp_rcpt = rcpt
acl_smtp_data = data
message_size_limit = 50M
host_lookup =
rfc1413_hosts =
dkim_verify_signers =
tls_advertise_hosts = *
tls_certificate = ${fixturePath('server.pem')}
tls_privatekey = ${fixturePath('server-key.pem')}

begin acl
# No DKIM verification by Exim: it would look the keys up in the DNS.
rcpt:
  accept control = dkim_disable_verify
data:
  accept

begin routers
to_file:
  driver = accept
  local_parts = ${localParts.join(' : ')}
  transport = to_file

begin transports
to_file:
  driver = appendfile
  file = ${dir}/mail/$local_part_data
  user = nobody
  mode = 0644
  use_crlf = true
  message_prefix =
  message_suffix =
  check_string =
  escape_string =
  return_path_add = false
  envelope_to_add = false
  delivery_date_add = false

begin retry
*  *  F,1m,1m
`;
}

/** Exim, delivering messages for `localParts` (any domain) to files of those names; others are refused. */
export async function startExim(localParts: readonly string[]): Promise<Exim> {
  const exim = eximBinary();
  if (exim === undefined) throw new Error('no Exim');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-exim-'));
  // The delivery runs as nobody: it must reach the mail folder.
  await fs.chmod(dir, 0o755);
  for (const sub of ['spool', 'log']) await fs.mkdir(path.join(dir, sub));
  await fs.mkdir(path.join(dir, 'mail'));
  await fs.chmod(path.join(dir, 'mail'), 0o777);
  const config = path.join(dir, 'exim.conf');
  await fs.writeFile(config, configuration(dir, exim, localParts));
  const port = await freePort();
  const child: ChildProcess = spawn(exim, ['-C', config, '-bdf', '-oX', String(port), '-odi'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log = (): Promise<string> => fs.readFile(path.join(dir, 'log', 'mainlog'), 'utf8').catch(() => '');
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await listening(
      port,
      () => child.exitCode !== null,
      () => stderr,
    );
  } catch (error) {
    await close();
    throw error;
  }
  return {
    port,
    log,
    close,
    async delivered(localPart: string): Promise<Buffer> {
      // Exim logs "=> local-part ..." once the file is written.
      const done = new RegExp(`^\\S+ \\S+ \\S+ => ${localPart}[ @<]`, 'm');
      for (const start = Date.now(); Date.now() - start < DELIVERY_LIMIT_MS;) {
        if (done.test(await log())) return fs.readFile(path.join(dir, 'mail', localPart));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`nothing delivered to ${localPart} within ${DELIVERY_LIMIT_MS} ms:\n${await log()}`);
    },
  };
}

/** Waits until the port accepts connections (Exim is listening). */
async function listening(port: number, exited: () => boolean, stderr: () => string): Promise<void> {
  for (const start = Date.now(); Date.now() - start < START_LIMIT_MS;) {
    if (exited()) throw new Error(`Exim exited at start:\n${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Exim did not listen on ${port} within ${START_LIMIT_MS} ms:\n${stderr()}`);
}

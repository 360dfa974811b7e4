/**
 * The `smtpmail` command: a sendmail-compatible program (Emacs's
 * `sendmail-program`, git send-email, mutt, cron) that sends through an SMTP
 * server with the library, reads authinfo, queues offline, and picks one of
 * several accounts by the message's From:. `main` returns the exit code
 * (sysexits); errors are one line on stderr, starting with `smtpmail: `.
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { parseCliArgs, type CliArgs } from './args.js';
import { defaultConfigPath, loadConfig, selectAccount, type AccountSettings, type CliConfig } from './config.js';
import { CliInputError, CliUsageError, errorLine, exitCodeFor, EXIT } from './exit-codes.js';
import { HELP } from './help.js';
import { untilLoneDot } from './stdin.js';
import { PASSWORD_VARIABLE, passwordFromCommand, splitCommand } from './password-command.js';
import { ignoredBecause } from './sendmail-flags.js';
import { spool, type Spooled } from './spool.js';
import { checkServer } from '../client/check.js';
import { formatCheckReport } from './check-report.js';
import { SmtpProtocolError, type SmtpErrorCode } from '../errors.js';
import { useCommandLineNames } from '../option-names.js';
import { portNumber } from '../options.js';
import { peekMessage, prepareMessage, type MessageInput } from '../message/prepare.js';
import { sendQueuedMail, type QueuedMessageReport, type QueueReport, type StoredRouting } from '../queue/flush.js';
import { LARGE_MESSAGE_BYTES, megabytes, ProgressLine } from './progress.js';
import { listQueuedMail } from '../queue/list.js';
import { unixLines } from '../queue/write.js';
import { sendMail, type SendOptions } from '../send.js';
import type { SendProgressReport } from '../client/client.js';
import { formatTrace } from '../wire/trace.js';
import { expandServerUrl } from '../server-url.js';

export interface CliIo {
  readonly stdin: AsyncIterable<Buffer | string>;
  /** The file descriptor behind `stdin`, when there is one: checked to be readable before anything is sent. */
  readonly stdinFd?: number | undefined;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  useCommandLineNames(); // errors and hints name --flags and config keys, not API options
  let args: CliArgs | undefined;
  try {
    args = parseCliArgs(argv);
    return await run(args, io);
  } catch (error) {
    io.stderr.write(`${errorLine(error)}\n`);
    if (args?.debug === true && error instanceof Error && error.stack !== undefined)
      io.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
}

async function run(args: CliArgs, io: CliIo): Promise<number> {
  if (args.action === 'help') {
    io.stdout.write(HELP);
    return EXIT.ok;
  }
  if (args.action === 'version') {
    io.stdout.write(`smtpmail ${version()}\n`);
    return EXIT.ok;
  }
  if (args.debug)
    for (const flag of args.ignored) io.stderr.write(`smtpmail: ignoring ${flag}: ${ignoredBecause(flag)}\n`);
  const config = loadConfig(args.config ?? defaultConfigPath(io.env), args.config !== undefined);
  if (args.action === 'check') {
    const account = selectAccount(config, args.account, undefined);
    return check(args, options(args, config.defaults, account?.settings, io), io);
  }
  if (args.action === 'flush') return flush(args, config, io);
  if (args.action === 'list') return list(options(args, config.defaults, undefined, io), io);
  if (!args.fromHeaders && args.recipients.length === 0)
    throw new CliUsageError('no recipients: give addresses as arguments, or -t to read them from the headers');
  // Held whole (in memory, or a temporary file beyond 32 MB) so that SIZE and BODY are known before MAIL.
  const spooled = await readInput(args, io);
  try {
    const peeked = await peekMessage(spooled.start);
    const account = selectAccount(config, args.account, peeked.from);
    const base = options(args, config.defaults, account?.settings, io);
    const sendOptions: SendOptions = {
      ...base,
      recipients: args.fromHeaders ? [...peeked.recipients, ...args.recipients] : args.recipients,
      // What a later `smtpmail -q` needs to send it where this account would have (the account's server, port, user).
      storeQueueVariables: account !== undefined || base.storeQueueVariables === true,
    };
    if (args.dryRun) return await dryRun(spooled.message, sendOptions, account?.name, io);
    if (args.action === 'queue') await sendMail(spooled.message, { ...sendOptions, queueMail: true });
    else {
      const line = new ProgressLine(io.stderr);
      const onProgress = ({ bytes, total }: SendProgressReport): void => {
        if (Math.max(bytes, total ?? 0) < LARGE_MESSAGE_BYTES) return;
        line.show(`smtpmail: sending: ${megabytes(bytes)}${total === undefined ? '' : ` of ${megabytes(total)}`}`);
      };
      let result: Awaited<ReturnType<typeof sendMail>>;
      try {
        result = await sendMail(spooled.message, { ...sendOptions, onProgress } as SendOptions & {
          queueOnTransientFailure: true;
        });
      } finally {
        line.clear();
      }
      if ('queued' in result && args.debug)
        io.stderr.write(`smtpmail: queued ${result.path}: ${result.error?.message ?? ''}\n`);
    }
    return EXIT.ok;
  } finally {
    await spooled.dispose();
  }
}

/** Standard input, spooled; one that cannot be read is an error (exit 66), never an empty message. */
async function readInput(args: CliArgs, io: CliIo): Promise<Spooled> {
  if (io.stdinFd !== undefined) {
    let stat: fs.Stats;
    try {
      stat = fs.fstatSync(io.stdinFd);
    } catch (error) {
      throw new CliInputError(`cannot read standard input: ${(error as Error).message}`);
    }
    if (stat.isDirectory()) throw new CliInputError('standard input is a directory, not a message: nothing was sent');
  }
  try {
    return await spool(args.ignoreDots ? io.stdin : untilLoneDot(io.stdin));
  } catch (error) {
    if (error instanceof SmtpProtocolError) throw error;
    throw new CliInputError(`cannot read standard input: ${(error as Error).message}; nothing was sent`);
  }
}

/** defaults, then the account, then the command line; an option not given anywhere is left to the library. */
function options(
  args: CliArgs,
  defaults: AccountSettings,
  account: AccountSettings | undefined,
  io: CliIo,
): SendOptions {
  const merged: AccountSettings = { ...defaults, ...account };
  const { ca, from: _from, maildomain, passwordeval, authMechanisms, ...rest } = merged;
  const caFile = args.ca ?? ca;
  const fromArgs: Record<string, unknown> = {
    server: args.server,
    port: args.port,
    streamType: args.streamType,
    user: args.user,
    authSources: args.authinfo.length > 0 ? args.authinfo : undefined,
    // Names as written: the library checks them (ECONFIG lists the supported ones).
    authMechanisms: args.authMechanisms ?? authMechanisms,
    localDomain: args.localDomain,
    sendtoDomain: args.sendtoDomain,
    queueDir: args.queueDir,
    envelopeFrom: args.envelopeFrom,
    userFullName: args.fullName,
    mailDomain: args.maildomain ?? maildomain,
    queueOnTransientFailure: args.queueOnFailure ? true : undefined,
    honorFcc: args.fcc ? true : undefined,
    chunking: args.noChunking ? false : undefined,
    dsn: args.dsn,
    requireTls: args.requireTls ? true : undefined,
  };
  const given = Object.fromEntries(Object.entries(fromArgs).filter(([, value]) => value !== undefined));
  const result: SendOptions = {
    ...rest,
    ...given,
    // -f also serves as the address of a From: the message lacks, as sendmail does.
    userMailAddress: args.envelopeFrom ?? rest.userMailAddress,
    password: password(args.passwordeval ?? passwordeval, io.env),
    tls: caFile === undefined ? undefined : { ca: readCa(caFile) },
    onTrace: args.debug ? (event) => io.stderr.write(`${formatTrace(event)}\n`) : undefined,
  };
  const server = result.server ?? (io.env['SMTPSERVER'] === '' ? undefined : io.env['SMTPSERVER']);
  // A server URL spelled out now: --dry-run, --check and the queue see its host, never its password.
  return expandServerUrl({ ...result, server });
}

/** --passwordeval (or the configuration's), else SMTPMAIL_PASSWORD, else none (authinfo is searched). */
function password(command: string | readonly string[] | undefined, env: NodeJS.ProcessEnv): SendOptions['password'] {
  if (command !== undefined) return passwordFromCommand(typeof command === 'string' ? splitCommand(command) : command);
  const fromEnv = env[PASSWORD_VARIABLE];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function readCa(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SmtpProtocolError('ECONFIG', `cannot read the CA file ${file}: ${(error as Error).message}`);
  }
}

async function dryRun(
  message: MessageInput,
  options: SendOptions,
  account: string | undefined,
  io: CliIo,
): Promise<number> {
  const prepared = await prepareMessage(message, options);
  const port = options.port === undefined ? '' : ` port ${options.port}`;
  const streamType = options.streamType === undefined ? '' : ` (${options.streamType})`;
  const where = `${options.server ?? '(no server configured)'}${port}${streamType}`;
  io.stdout.write(
    [
      `Envelope-From: ${prepared.envelope.from}`,
      `Envelope-To: ${prepared.envelope.to.join(', ')}`,
      `Server: ${where}`,
      ...(account === undefined ? [] : [`Account: ${account}`]),
      '',
      '',
    ].join('\n'),
  );
  // With LF line ends, as a text file (and the queue) holds it; CRLF is for the wire.
  for await (const chunk of unixLines(prepared.head, prepared.body)) io.stdout.write(chunk);
  return EXIT.ok;
}

/**
 * The queue, sent: each message with the settings stored with it, and the
 * account that names that server (its CA, authinfo, password command).
 */
async function flush(args: CliArgs, config: CliConfig, io: CliIo): Promise<number> {
  const chosen = selectAccount(config, args.account, undefined);
  const flushOptions = options(args, config.defaults, chosen?.settings, io);
  const queuedOptions = (stored: StoredRouting): SendOptions | undefined => {
    if (chosen !== undefined || stored.server === undefined) return undefined;
    const match = [...config.accounts.values()].find((account) => sameRouting(account, stored));
    return match === undefined ? undefined : options(args, config.defaults, match, io);
  };
  const line = new ProgressLine(io.stderr);
  const counts = { sent: 0, failed: 0 };
  const onMessage = (message: QueuedMessageReport): void => {
    if (message.status === 'sent' || message.status === 'failed') counts[message.status]++;
    line.show(
      `smtpmail: queue: ${message.index} of ${message.total} done (${counts.sent} sent, ${counts.failed} failed)`,
      message.index === message.total,
    );
  };
  let report: QueueReport;
  try {
    report = await sendQueuedMail({ ...flushOptions, queuedOptions, onMessage });
  } finally {
    line.clear();
  }
  for (const { path, result, stillListed } of report.sent) {
    io.stdout.write(
      `sent ${path}: ${result.reply.code} ` +
        `${result.reply.lines.join(' ')}${stillListed === undefined ? '' : ` (${stillListed})`}\n`,
    );
  }
  for (const { path, reason } of report.dropped) io.stdout.write(`dropped ${path}: ${reason}\n`);
  for (const { path, error } of report.failed) io.stdout.write(`failed ${path}: ${error.message}\n`);
  const kept = report.queued.length;
  io.stdout.write(`${report.sent.length} sent, ${report.failed.length} failed, ${kept} still queued\n`);
  const first = report.failed[0];
  if (first === undefined) return EXIT.ok;
  io.stderr.write(`${errorLine(first.error)}\n`);
  return exitCodeFor(first.error);
}

/** An account for the server, port and user a queued message was stored with. */
function sameRouting(account: AccountSettings, stored: StoredRouting): boolean {
  if (account.server !== stored.server) return false;
  if (stored.port !== undefined && account.port !== undefined && portNumber(account.port) !== portNumber(stored.port))
    return false;
  return stored.user === undefined || account.user === undefined || account.user === stored.user;
}

/** -bp: each queued message's file and recipients, as mailq lists them. */
async function list(options: SendOptions, io: CliIo): Promise<number> {
  const entries = await listQueuedMail(options);
  for (const entry of entries) {
    const where = entry.server === undefined ? '' : ` (via ${entry.server})`;
    io.stdout.write(`${entry.path}${where}\n    ${entry.problem ?? entry.recipients.join(', ')}\n`);
  }
  io.stdout.write(
    entries.length === 0
      ? 'The queue is empty.\n'
      : `${entries.length} message${entries.length === 1 ? '' : 's'} queued.\n`,
  );
  return EXIT.ok;
}

async function check(args: CliArgs, sendOptions: SendOptions, io: CliIo): Promise<number> {
  const report = await checkServer({
    ...sendOptions,
    tryAlternatives: args.checkAll,
    checkRecipient: args.checkRecipient,
  });
  io.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
  if (report.ok) return EXIT.ok;
  const first = report.attempts[0];
  if (first?.auth?.ok === false) return EXIT.noPerm;
  if (first?.recipient?.ok === false) return EXIT.noUser;
  const error = first?.error;
  return error === undefined
    ? EXIT.unavailable
    : exitCodeFor(new SmtpProtocolError(error.code as SmtpErrorCode, error.message));
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

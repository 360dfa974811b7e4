/**
 * The `smtpmail` command: a sendmail-compatible program (Emacs's
 * `sendmail-program`, git send-email, mutt, cron) that sends through an SMTP
 * server with the library, reads authinfo, queues offline, and picks one of
 * several accounts by the message's From:. `main` returns the exit code
 * (sysexits); errors are one line on stderr, starting with `smtpmail: `.
 */
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { parseCliArgs, CliUsageError, type CliArgs } from './cli-args.js';
import { defaultConfigPath, loadConfig, selectAccount, type AccountSettings } from './cli-config.js';
import { errorLine, exitCodeFor, EXIT } from './cli-exit.js';
import { HELP } from './cli-help.js';
import { untilLoneDot } from './cli-input.js';
import { checkServer } from './check.js';
import { formatCheckReport } from './check-format.js';
import { SmtpProtocolError, type SmtpErrorCode } from './errors.js';
import { peekMessage, prepareMessage, type MessageInput } from './prepare.js';
import { sendQueuedMail } from './queue-flush.js';
import { unixLines } from './queue-write.js';
import { sendMail, type SendOptions } from './send.js';
import { formatTrace } from './trace.js';

export interface CliIo {
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: CliArgs | undefined;
  try {
    args = parseCliArgs(argv);
    return await run(args, io);
  } catch (error) {
    io.stderr.write(`${errorLine(error)}\n`);
    if (args?.debug === true && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
    return error instanceof CliUsageError ? EXIT.usage : exitCodeFor(error);
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
  const config = loadConfig(args.config ?? defaultConfigPath(io.env), args.config !== undefined);
  if (args.action === 'check') {
    const account = selectAccount(config, args.account, undefined);
    return check(args, options(args, config.defaults, account?.settings, io), io);
  }
  if (args.action === 'flush') {
    const account = selectAccount(config, args.account, undefined);
    return flush(options(args, config.defaults, account?.settings, io), io);
  }
  if (!args.fromHeaders && args.recipients.length === 0) throw new CliUsageError('no recipients: give addresses as arguments, or -t to read them from the headers');
  const input: MessageInput = args.ignoreDots ? io.stdin : untilLoneDot(io.stdin);
  const peeked = await peekMessage(input);
  const account = selectAccount(config, args.account, peeked.from);
  const sendOptions: SendOptions = {
    ...options(args, config.defaults, account?.settings, io),
    recipients: args.fromHeaders ? [...peeked.recipients, ...args.recipients] : args.recipients,
  };
  if (args.dryRun) return dryRun(peeked.message, sendOptions, account?.name, io);
  if (args.action === 'queue') await sendMail(peeked.message, { ...sendOptions, queueMail: true });
  else await sendMail(peeked.message, sendOptions);
  return EXIT.ok;
}

/** defaults, then the account, then the command line; an option not given anywhere is left to the library. */
function options(args: CliArgs, defaults: AccountSettings, account: AccountSettings | undefined, io: CliIo): SendOptions {
  const merged: AccountSettings = { ...defaults, ...account };
  const { ca, from: _from, ...rest } = merged;
  const caFile = args.ca ?? ca;
  const fromArgs: Record<string, unknown> = {
    server: args.server,
    port: args.port,
    streamType: args.streamType,
    user: args.user,
    authSources: args.authinfo.length > 0 ? args.authinfo : undefined,
    authMechanisms: args.authMechanisms,
    localDomain: args.localDomain,
    sendtoDomain: args.sendtoDomain,
    queueDir: args.queueDir,
    envelopeFrom: args.envelopeFrom,
    userFullName: args.fullName,
  };
  const given = Object.fromEntries(Object.entries(fromArgs).filter(([, value]) => value !== undefined));
  const result: SendOptions = {
    ...rest,
    ...given,
    // -f also serves as the address of a From: the message lacks, as sendmail does.
    userMailAddress: args.envelopeFrom ?? rest.userMailAddress,
    tls: caFile === undefined ? undefined : { ca: readCa(caFile) },
    onTrace: args.debug ? (event) => io.stderr.write(`${formatTrace(event)}\n`) : undefined,
  };
  if (result.server === undefined && (io.env['SMTPSERVER'] ?? '') !== '') return { ...result, server: io.env['SMTPSERVER'] };
  return result;
}

function readCa(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SmtpProtocolError('ECONFIG', `cannot read the CA file ${file}: ${(error as Error).message}`);
  }
}

async function dryRun(message: MessageInput, options: SendOptions, account: string | undefined, io: CliIo): Promise<number> {
  const prepared = await prepareMessage(message, options);
  const where = options.server ?? '(no server configured)';
  io.stdout.write([
    `Envelope-From: ${prepared.envelope.from}`,
    `Envelope-To: ${prepared.envelope.to.join(', ')}`,
    `Server: ${where}${options.port === undefined ? '' : ` port ${options.port}`}${options.streamType === undefined ? '' : ` (${options.streamType})`}`,
    ...(account === undefined ? [] : [`Account: ${account}`]),
    '',
    '',
  ].join('\n'));
  // With LF line ends, as a text file (and the queue) holds it; CRLF is for the wire.
  for await (const chunk of unixLines(prepared.head, prepared.body)) io.stdout.write(chunk);
  return EXIT.ok;
}

async function flush(options: SendOptions, io: CliIo): Promise<number> {
  const report = await sendQueuedMail(options);
  for (const { path, result } of report.sent) io.stdout.write(`sent ${path}: ${result.reply.code} ${result.reply.lines.join(' ')}\n`);
  for (const { path, reason } of report.dropped) io.stdout.write(`dropped ${path}: ${reason}\n`);
  for (const { path, error } of report.failed) io.stdout.write(`failed ${path}: ${error.message}\n`);
  const kept = report.queued.length;
  io.stdout.write(`${report.sent.length} sent, ${report.failed.length} failed, ${kept} still queued\n`);
  const first = report.failed[0];
  if (first === undefined) return EXIT.ok;
  io.stderr.write(`${errorLine(first.error)}\n`);
  return exitCodeFor(first.error);
}

async function check(args: CliArgs, sendOptions: SendOptions, io: CliIo): Promise<number> {
  const report = await checkServer({ ...sendOptions, tryAlternatives: args.checkAll, checkRecipient: args.checkRecipient });
  io.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheckReport(report));
  if (report.ok) return EXIT.ok;
  const first = report.attempts[0];
  if (first?.auth?.ok === false) return EXIT.noPerm;
  if (first?.recipient?.ok === false) return EXIT.noUser;
  const error = first?.error;
  return error === undefined ? EXIT.unavailable : exitCodeFor(new SmtpProtocolError(error.code as SmtpErrorCode, error.message));
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

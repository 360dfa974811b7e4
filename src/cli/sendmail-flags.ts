/**
 * The single-dash options of the sendmail interface (Postfix's sendmail(1),
 * Exim's and msmtp's), as real callers pass them: Debian's cron runs
 * `sendmail -i -FCronDaemon -B8BITMIME -oem root`, cronie `-f root`, mailx,
 * mutt, git send-email, logcheck and Jenkins `-N never`, `-R hdrs`,
 * `-V envid`, `-bm`, `-v`. Each one is implemented, accepted and ignored (it
 * asks for something this program decides itself), or refused with a
 * message that says why; none is silently taken for something else. Where
 * the programs disagree, Postfix's meaning wins (`-N` DSN, `-V` envid): `-N`,
 * `-R` and `-V` become the library's `dsn` (RFC 3461's NOTIFY, RET, ENVID).
 *
 * {@link SENDMAIL_FLAGS} documents the table (README prints it); the parser
 * below implements it. Pure: no I/O.
 */
import { CliUsageError } from './exit-codes.js';
import { showArgument } from '../option-names.js';
import { encodeEnvid, type DsnNotifyEvent } from '../wire/dsn.js';

export interface FlagDoc {
  readonly flags: string;
  readonly treatment: 'implemented' | 'ignored' | 'refused';
  readonly note: string;
}

export const SENDMAIL_FLAGS: readonly FlagDoc[] = [
  { flags: '-t', treatment: 'implemented', note: 'recipients from To, Cc and Bcc (or Resent-*); arguments are added' },
  { flags: '-i, -oi, -oitrue', treatment: 'implemented', note: 'a line with a lone "." does not end the message' },
  { flags: '-f ADDR, -r ADDR', treatment: 'implemented', note: 'envelope sender (a bare name gets --maildomain)' },
  { flags: '-F NAME', treatment: 'implemented', note: 'full name for a From: the message lacks' },
  { flags: '-bm', treatment: 'implemented', note: 'send the message (the default)' },
  { flags: '-bp', treatment: 'implemented', note: 'list the queue (honours --queue-dir)' },
  { flags: '-q', treatment: 'implemented', note: 'send the queue now (same as --flush-queue)' },
  { flags: '-bV', treatment: 'implemented', note: 'print the version (Exim)' },
  { flags: '-a ACCOUNT', treatment: 'implemented', note: 'use this account of the configuration (msmtp)' },
  {
    flags: '-N DSN, -R RET, -V ENVID',
    treatment: 'implemented',
    note:
      'delivery status notifications (RFC 3461): -N never or success,failure,delay (NOTIFY), -R full or hdrs (RET), ' +
      '-V an envelope id (ENVID); sent when the server offers DSN',
  },
  { flags: '-B TYPE', treatment: 'ignored', note: 'body type (7BIT, 8BITMIME): declared from the message itself' },
  {
    flags: '-oXXX (-oem, -odb, -odi, -om, -oQ...)',
    treatment: 'ignored',
    note: 'delivery, error and queue modes: this program sends at once and reports by its exit status',
  },
  { flags: '-v', treatment: 'ignored', note: 'verbose: --debug shows the SMTP transcript' },
  {
    flags: '-h N, -L LABEL, -p PROTO, -O OPT=VALUE, -X FILE, -A c or m',
    treatment: 'ignored',
    note: 'hop count, log label, protocol, MTA options, log file, configuration choice',
  },
  {
    flags: '-n, -m, -G, -U',
    treatment: 'ignored',
    note: 'aliasing, me-too, gateway and initial-submission marks: the server decides',
  },
  { flags: '-bs', treatment: 'refused', note: 'SMTP on standard input: this program is an SMTP client, not a server' },
  {
    flags: '-bd, -bD, -bh, -bH, -bi, -bl, -bP, -bt, -bv, -I',
    treatment: 'refused',
    note: 'daemon, alias, address-test and configuration modes of an MTA',
  },
  {
    flags: '-qINTERVAL, -qR..., -qS..., -qI..., -qf',
    treatment: 'refused',
    note: 'queue daemons and selective queue runs: run smtpmail -q from cron or a timer',
  },
  { flags: '-C FILE', treatment: 'refused', note: "another MTA's configuration file: use --config FILE (JSON)" },
  { flags: '-d..., -M...', treatment: 'refused', note: 'MTA debugging and message administration' },
];

/** What one sendmail flag asks for. */
export type SendmailFlag =
  | { readonly kind: 'switches'; readonly fromHeaders: boolean; readonly ignoreDots: boolean }
  | { readonly kind: 'value'; readonly field: 'envelopeFrom' | 'fullName' | 'account'; readonly value: string }
  | { readonly kind: 'action'; readonly action: 'send' | 'list' | 'flush' | 'version' }
  | { readonly kind: 'dsn'; readonly dsn: DsnFlag }
  | { readonly kind: 'ignored'; readonly flag: string };

/** One DSN setting, from -N, -R or -V (Postfix's sendmail(1)). */
export type DsnFlag =
  | { readonly notify: 'NEVER' | readonly DsnNotifyEvent[] }
  | { readonly ret: 'FULL' | 'HDRS' }
  | { readonly envid: string };

/** Ignored flags that take a value, attached (`-h17`) or as the next argument. */
const IGNORED_WITH_VALUE = new Set(['-h', '-L', '-p', '-O', '-X', '-A']);
const IGNORED_ALONE = new Set(['-v', '-n', '-m', '-G', '-U']);

const REFUSED_MODES: Readonly<Record<string, string>> = {
  '-bs': 'SMTP on standard input is not supported: smtpmail is an SMTP client, not a server; pipe the message itself',
  '-bd': 'daemon mode is not supported: smtpmail sends and exits',
  '-bD': 'daemon mode is not supported: smtpmail sends and exits',
  '-bh': 'SMTP session testing is not supported',
  '-bH': 'SMTP session testing is not supported',
  '-bi': "alias databases are the server's business (newaliases)",
  '-bl': 'listening is not supported: smtpmail sends and exits',
  '-bP': 'there is no MTA configuration to print: see --check',
  '-bt': 'address testing is not supported',
  '-bv': 'address verification is not supported: see --check --check-recipient ADDR',
};

/**
 * Reads the flag `arg` (it starts with one `-`); `takeNext` yields the next
 * argument as its value. Throws CliUsageError for a refused or unknown flag.
 */
export function readSendmailFlag(
  arg: string,
  takeNext: (option: string) => string,
  checkValue: (option: string, value: string) => string,
): SendmailFlag {
  if (/^-[ti]+$/.test(arg)) return { kind: 'switches', fromHeaders: arg.includes('t'), ignoreDots: arg.includes('i') };
  const letter = arg.slice(0, 2);
  const attached = arg.length > 2 ? checkValue(letter, arg.slice(2)) : undefined;
  const value = (): string => attached ?? takeNext(letter);
  switch (letter) {
    case '-f':
    case '-r':
      return { kind: 'value', field: 'envelopeFrom', value: value() };
    case '-F':
      return { kind: 'value', field: 'fullName', value: value() };
    case '-a':
      return { kind: 'value', field: 'account', value: value() };
    case '-o':
      if (arg === '-oi' || arg === '-oitrue') return { kind: 'switches', fromHeaders: false, ignoreDots: true };
      if (attached === undefined) throw new CliUsageError('option -o needs an option letter (as in -oi or -oem)');
      return { kind: 'ignored', flag: arg };
    case '-b':
      return mode(arg);
    case '-q':
      if (arg === '-q') return { kind: 'action', action: 'flush' };
      throw new CliUsageError(
        `option ${arg} is not supported: smtpmail runs no queue daemon and sends the whole queue; run "smtpmail -q" ` +
          `from cron or a timer`,
      );
    case '-B':
      return { kind: 'ignored', flag: `-B${checkChoice('-B', value(), ['7BIT', '8BITMIME'])}` };
    case '-N':
      return { kind: 'dsn', dsn: { notify: checkNotify(value()) } };
    case '-R':
      return { kind: 'dsn', dsn: { ret: checkChoice('-R', value(), ['HDRS', 'FULL']) as 'HDRS' | 'FULL' } };
    case '-V':
      return { kind: 'dsn', dsn: { envid: checkEnvid(value()) } };
    case '-C':
      throw new CliUsageError(
        `option -C (another MTA's configuration) is not supported: use --config FILE, a JSON configuration`,
      );
    case '-d':
    case '-M':
    case '-I':
      throw new CliUsageError(
        `option ${letter} (MTA debugging, message administration or newaliases) is not supported by smtpmail`,
      );
    default:
      if (IGNORED_WITH_VALUE.has(letter)) return { kind: 'ignored', flag: `${letter} ${value()}` };
      if (IGNORED_ALONE.has(arg)) return { kind: 'ignored', flag: arg };
      throw new CliUsageError(`unknown option ${showArgument(arg)}`);
  }
}

/** `-bX`: the mode of operation. */
function mode(arg: string): SendmailFlag {
  if (arg === '-bm') return { kind: 'action', action: 'send' };
  if (arg === '-bp') return { kind: 'action', action: 'list' };
  if (arg === '-bV') return { kind: 'action', action: 'version' };
  const refused = REFUSED_MODES[arg];
  if (refused !== undefined) throw new CliUsageError(`option ${arg}: ${refused}`);
  throw new CliUsageError(`unknown option ${showArgument(arg)}`);
}

/** Why an ignored flag has no effect, for --debug. */
export function ignoredBecause(flag: string): string {
  const letter = flag.slice(0, 2);
  if (letter === '-B') return 'the body type is declared from the message itself';
  if (letter === '-o') return "delivery and error modes are this program's own";
  if (flag === '-v') return 'use --debug for the SMTP transcript';
  return 'it has no meaning for an SMTP client';
}

function checkChoice(option: string, value: string, choices: readonly string[]): string {
  const upper = value.toUpperCase();
  if (!choices.includes(upper))
    throw new CliUsageError(`option ${option} needs one of ${choices.join(', ')}, not ${showArgument(value)}`);
  return upper;
}

/** `-N`: `never`, or a comma list of `success`, `failure`, `delay`, in any case (RFC 3461 NOTIFY); each once. */
function checkNotify(value: string): 'NEVER' | DsnNotifyEvent[] {
  const items = value
    .toUpperCase()
    .split(',')
    .map((item) => item.trim());
  if (items.length === 1 && items[0] === 'NEVER') return 'NEVER';
  const events = items.filter((item): item is DsnNotifyEvent => ['SUCCESS', 'FAILURE', 'DELAY'].includes(item));
  if (events.length !== items.length)
    throw new CliUsageError(`option -N needs "never" or a list of success, failure, delay, not ${showArgument(value)}`);
  return [...new Set(events)];
}

/** `-V`: an envelope id that RFC 3461 §4.4 lets go out (printable ASCII, at most 100 characters as xtext). */
function checkEnvid(value: string): string {
  try {
    encodeEnvid(value);
  } catch (error) {
    const reason = (error as Error).message.replace(/^(invalid option dsn: its|the dsn) envid/, 'the envelope id');
    throw new CliUsageError(`option -V: ${reason}`);
  }
  return value;
}

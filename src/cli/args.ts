/**
 * The argv of the `smtpmail` command, a sendmail-compatible program (Emacs's
 * `sendmail-program`, git send-email, mutt, cron), turned into a plain value.
 * Pure: no environment, no files, no output; every refusal is a
 * {@link CliUsageError} that the CLI prints as `smtpmail: ${message}`.
 *
 * The single-dash sendmail options are read by cli-sendmail-flags.ts (each
 * implemented, ignored or refused, never guessed at); the long options are
 * smtpmail's own. Recipients are RFC 5322 address lists, as in a To: field.
 */
import { parseAddressList } from '../message/addresses.js';
import { CliUsageError } from './exit-codes.js';
import { SmtpProtocolError } from '../errors.js';
import { readSendmailFlag } from './sendmail-flags.js';
import { describeValue, showArgument } from '../option-names.js';
import { portNumber, SERVICES, STREAM_TYPES, type StreamType } from '../options.js';
import type { DsnOptions } from '../wire/dsn.js';

export { CliUsageError };

export type CliAction = 'send' | 'queue' | 'flush' | 'list' | 'check' | 'help' | 'version';

export interface CliArgs {
  readonly action: CliAction;
  /** The addresses of the positional arguments, each read as an address list (`"Doe, J" <j@x>, k@y`). */
  readonly recipients: readonly string[];
  /** `-t`: the recipients come from the To, Cc and Bcc headers. */
  readonly fromHeaders: boolean;
  /** `-f` / `-r`: the envelope sender (MAIL FROM); `-F`: the sender's full name. */
  readonly envelopeFrom?: string;
  readonly fullName?: string;
  /** `-i` / `-oi`: a line with a lone "." does not end the input. */
  readonly ignoreDots: boolean;
  readonly server?: string;
  /** A number when all digits, else a service name such as `submission`. */
  readonly port?: number | string;
  readonly streamType?: StreamType;
  readonly user?: string;
  /** `--authinfo FILE`, repeatable, in order. */
  readonly authinfo: readonly string[];
  /** `--auth-mechanisms cram-md5,plain`: upper-cased, in the order given. */
  readonly authMechanisms?: readonly string[];
  readonly localDomain?: string;
  readonly sendtoDomain?: string;
  readonly ca?: string;
  readonly queueDir?: string;
  readonly config?: string;
  readonly account?: string;
  readonly checkRecipient?: string;
  /** `--maildomain D`: completes an envelope sender without a domain (`-f root`). */
  readonly maildomain?: string;
  /** `--passwordeval CMD`: a command whose output is the password (run without a shell). */
  readonly passwordeval?: string;
  /** `--queue-on-failure`: a message that fails for now is queued instead (exit 0). */
  readonly queueOnFailure: boolean;
  /** `--fcc`: append a copy to the files the message's Fcc: fields name (they are never transmitted). */
  readonly fcc: boolean;
  /** `--no-chunking`: DATA even when the server offers CHUNKING (for a server whose BDAT does not work). */
  readonly noChunking: boolean;
  /** `-N`, `-R`, `-V` (Postfix's sendmail): delivery status notifications (RFC 3461 NOTIFY, RET, ENVID). */
  readonly dsn?: DsnOptions;
  /** `--require-tls`: send with REQUIRETLS (RFC 8689), or not at all. */
  readonly requireTls: boolean;
  readonly debug: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
  /** `--check-all`: also try 587 with STARTTLS, 465 with TLS and 25. */
  readonly checkAll: boolean;
  /** sendmail options accepted and ignored, as given (`-oem`, `-B8BITMIME`, `-N never`): --debug says so. */
  readonly ignored: readonly string[];
}

/** More arguments than any mail program passes: refused so a runaway caller fails fast. */
export const MAX_ARGUMENTS = 10_000;

type StringField =
  | 'server'
  | 'user'
  | 'localDomain'
  | 'sendtoDomain'
  | 'ca'
  | 'queueDir'
  | 'config'
  | 'account'
  | 'checkRecipient'
  | 'maildomain'
  | 'passwordeval';

const STRING_OPTIONS: ReadonlyMap<string, StringField> = new Map([
  ['--server', 'server'],
  ['--user', 'user'],
  ['--local-domain', 'localDomain'],
  ['--sendto-domain', 'sendtoDomain'],
  ['--ca', 'ca'],
  ['--queue-dir', 'queueDir'],
  ['--config', 'config'],
  ['--account', 'account'],
  ['--check-recipient', 'checkRecipient'],
  ['--maildomain', 'maildomain'],
  ['--passwordeval', 'passwordeval'],
]);

const OTHER_VALUE_OPTIONS = new Set(['--port', '--stream-type', '--auth-mechanisms', '--authinfo']);

type Flag = 'debug' | 'dryRun' | 'json' | 'checkAll' | 'queueOnFailure' | 'fcc' | 'noChunking' | 'requireTls';

const FLAG_OPTIONS: ReadonlyMap<string, Flag> = new Map([
  ['--debug', 'debug'],
  ['--dry-run', 'dryRun'],
  ['--json', 'json'],
  ['--check-all', 'checkAll'],
  ['--queue-on-failure', 'queueOnFailure'],
  ['--fcc', 'fcc'],
  ['--no-chunking', 'noChunking'],
  ['--require-tls', 'requireTls'],
]);

const ACTION_OPTIONS: ReadonlyMap<string, CliAction> = new Map([
  ['--queue', 'queue'],
  ['--flush-queue', 'flush'],
  ['--check', 'check'],
  ['--list-queue', 'list'],
  ['--help', 'help'],
  ['--version', 'version'],
]);

type Optional = Omit<CliArgs, 'action' | 'recipients' | 'fromHeaders' | 'ignoreDots' | 'authinfo' | Flag | 'ignored'>;

/** The parse in progress; optional fields are only ever assigned a value, so absent ones stay absent. */
interface Draft {
  action: CliAction;
  /** The option that chose the action, for the conflict message. */
  actionOption: string | undefined;
  recipients: string[];
  fromHeaders: boolean;
  ignoreDots: boolean;
  authinfo: string[];
  flags: Record<Flag, boolean>;
  ignored: string[];
  optional: { -readonly [K in keyof Optional]?: Optional[K] };
}

/**
 * Parses `process.argv.slice(2)`. Options and recipients may be mixed until
 * `--`; a value option repeated keeps its last value (`--authinfo` keeps
 * all). Recipients never start with `-` (even after `--`, even inside a
 * comma list) and no argument used may contain CR, LF or NUL: both would be
 * argument or command injection by whoever built the argv.
 *
 * @throws CliUsageError for any argument it cannot take as written.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  if (argv.length > MAX_ARGUMENTS)
    throw new CliUsageError(`too many arguments (${argv.length}; at most ${MAX_ARGUMENTS})`);
  const draft: Draft = {
    action: 'send',
    actionOption: undefined,
    recipients: [],
    fromHeaders: false,
    ignoreDots: false,
    authinfo: [],
    flags: {
      debug: false,
      dryRun: false,
      json: false,
      checkAll: false,
      queueOnFailure: false,
      fcc: false,
      noChunking: false,
      requireTls: false,
    },
    ignored: [],
    optional: {},
  };
  let index = 0;
  /** The next argument as the value of `option`; one that looks like an option means the value is missing. */
  const takeNext = (option: string): string => {
    const value = argv[index];
    if (value === undefined || value.startsWith('-')) throw new CliUsageError(`option ${option} needs a value`);
    index++;
    return checkValue(option, value);
  };

  while (index < argv.length) {
    const arg = argv[index++] ?? '';
    if (arg === '--') {
      for (const rest of argv.slice(index)) addRecipients(draft, rest);
      break;
    }
    if (arg.startsWith('--')) parseLong(draft, arg, takeNext);
    else if (arg.startsWith('-')) parseShort(draft, arg, takeNext);
    else addRecipients(draft, arg);
  }
  return finish(draft);
}

function parseLong(draft: Draft, arg: string, takeNext: (option: string) => string): void {
  const equals = arg.indexOf('=');
  const option = equals === -1 ? arg : arg.slice(0, equals);
  const inline = equals === -1 ? undefined : arg.slice(equals + 1);
  const flag = FLAG_OPTIONS.get(option);
  const action = ACTION_OPTIONS.get(option);
  if (flag !== undefined || action !== undefined) {
    if (inline !== undefined) throw new CliUsageError(`option ${option} takes no value`);
    if (flag !== undefined) draft.flags[flag] = true;
    else if (action !== undefined) setAction(draft, action, option);
    return;
  }
  const field = STRING_OPTIONS.get(option);
  if (field === undefined && !OTHER_VALUE_OPTIONS.has(option))
    throw new CliUsageError(`unknown option ${showOption(option)}`);
  const value = inline === undefined ? takeNext(option) : checkValue(option, inline);
  if (field !== undefined) draft.optional[field] = value;
  else if (option === '--port') draft.optional.port = parsePort(value);
  else if (option === '--stream-type') draft.optional.streamType = parseStreamType(value);
  else if (option === '--auth-mechanisms') draft.optional.authMechanisms = parseMechanisms(value);
  else draft.authinfo.push(value);
}

/** A sendmail single-dash option (cli-sendmail-flags.ts). */
function parseShort(draft: Draft, arg: string, takeNext: (option: string) => string): void {
  const flag = readSendmailFlag(arg, takeNext, checkValue);
  switch (flag.kind) {
    case 'switches':
      draft.fromHeaders ||= flag.fromHeaders;
      draft.ignoreDots ||= flag.ignoreDots;
      return;
    case 'value':
      draft.optional[flag.field] = flag.value;
      return;
    case 'action':
      // -bm asks for what happens anyway: it conflicts with no other action.
      if (flag.action !== 'send') setAction(draft, flag.action, arg);
      return;
    case 'dsn':
      // Each of -N, -R, -V sets its own part; repeated, the last one counts.
      draft.optional.dsn = { ...draft.optional.dsn, ...flag.dsn };
      return;
    case 'ignored':
      draft.ignored.push(checkValue(arg.slice(0, 2), flag.flag));
  }
}

function setAction(draft: Draft, action: CliAction, option: string): void {
  if (draft.actionOption !== undefined && draft.action !== action) {
    throw new CliUsageError(`options ${draft.actionOption} and ${option} cannot be combined`);
  }
  draft.action = action;
  draft.actionOption = option;
}

/**
 * One recipient argument: an RFC 5322 address list, as in a To: field, so
 * `"Doe, J" <j@example.org>, k@example.org` is two addresses and the quoted
 * comma splits nothing. An argument with no address in it is refused.
 */
function addRecipients(draft: Draft, arg: string): void {
  if (/[\r\n\0]/.test(arg)) throw new CliUsageError(`recipient ${quote(arg)} contains CR, LF or NUL`);
  if (arg.trim() === '' || /^[\s,]*$/.test(arg)) return;
  const addresses = parseAddressList(arg).map((mailbox) => mailbox.address);
  if (addresses.length === 0 && !/:\s*;\s*$/.test(arg))
    throw new CliUsageError(`recipient ${quote(arg)} is not an address`);
  for (const recipient of addresses) {
    if (recipient.startsWith('-')) throw new CliUsageError(`recipient ${quote(recipient)} starts with '-'`);
    // Node decodes argv as UTF-8, bytes that are not become U+FFFD: that address is not the one given.
    if (recipient.includes('\uFFFD'))
      throw new SmtpProtocolError('EINPUT', `recipient ${quote(recipient)} is not valid UTF-8`);
    draft.recipients.push(recipient);
  }
}

/** The rules that span several arguments, then the value with absent optional fields left out. */
function finish(draft: Draft): CliArgs {
  if (draft.action === 'flush' || draft.action === 'check' || draft.action === 'list') {
    const option = draft.actionOption ?? '';
    if (draft.recipients.length > 0) throw new CliUsageError(`option ${option} takes no recipients`);
    if (draft.fromHeaders) throw new CliUsageError(`option ${option} cannot be combined with -t`);
  }
  // Without --check the address would be silently dropped and a message sent instead.
  const informational = draft.action === 'check' || draft.action === 'help' || draft.action === 'version';
  if (draft.optional.checkRecipient !== undefined && !informational)
    throw new CliUsageError('option --check-recipient needs --check');
  return {
    action: draft.action,
    recipients: draft.recipients,
    fromHeaders: draft.fromHeaders,
    ignoreDots: draft.ignoreDots,
    authinfo: draft.authinfo,
    ...draft.flags,
    ignored: draft.ignored,
    ...draft.optional,
  };
}

/** An empty value is a missing one; CR, LF or NUL would end up in an SMTP command or a path. */
function checkValue(option: string, value: string): string {
  if (value === '') throw new CliUsageError(`option ${option} needs a value`);
  if (/[\r\n\0]/.test(value)) throw new CliUsageError(`the value of ${option} contains CR, LF or NUL`);
  return value;
}

/** A port number 1..65535, or a service name for getservbyname (`submission`). */
function parsePort(value: string): number | string {
  const port = portNumber(value);
  if (port === undefined) {
    throw new CliUsageError(
      `option --port needs a number from 1 to 65535 or a service name (${Object.keys(SERVICES).join(', ')}), not ` +
        `${quote(value)}`,
    );
  }
  return /^[0-9]+$/.test(value) ? port : value; // a service name is kept: authinfo entries may name it
}

function parseStreamType(value: string): StreamType {
  const found = STREAM_TYPES.find((type) => type === value);
  if (found === undefined)
    throw new CliUsageError(`option --stream-type needs one of ${STREAM_TYPES.join(', ')}, not ${quote(value)}`);
  return found;
}

/** SASL mechanism names are upper case (RFC 4422 §3.1); an empty item is a typo, not a wish. */
function parseMechanisms(value: string): string[] {
  return value.split(',').map((item) => {
    const mechanism = item.trim().toUpperCase();
    if (!/^[A-Z0-9_-]+$/.test(mechanism))
      throw new CliUsageError(`option --auth-mechanisms: bad mechanism name ${quote(item)}`);
    return mechanism;
  });
}

/** An option name as typed when it is plain ASCII, else quoted: messages go to a terminal. */
function showOption(option: string): string {
  return showArgument(option);
}

/** Double-quoted, control characters escaped, cut: for values quoted back in messages. */
function quote(text: string): string {
  return describeValue(text);
}

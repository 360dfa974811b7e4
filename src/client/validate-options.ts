/**
 * Every option checked at run time, before any connection (SPEC §2). Plain
 * JavaScript callers get no type checker, so this is the contract: a value
 * the library does not know (a misspelt `streamType`, a port out of range, a
 * negative timeout, a callback that is not a function, an unknown SASL
 * mechanism, an option name no entry point has) is `ECONFIG` naming the
 * option and what it accepts, never a fallback to a default. A wrong
 * `streamType` falling back to opportunistic STARTTLS would send in clear
 * text what the caller meant to protect.
 *
 * An option that belongs to another entry point (`maxConnections` given to
 * `sendMail`) is accepted and has no effect, so that one settings object can
 * serve `sendMail`, `createPool` and `checkServer`; the per-message options
 * of `send()` are strict, since a `server` there would be silently ignored.
 */
import { SmtpProtocolError } from '../errors.js';
import { describeValue } from '../option-names.js';
import { portNumber, SERVICES, STREAM_TYPES } from '../options.js';
import { MECHANISMS } from '../auth/sasl.js';
import { parseProxy } from '../net/proxy.js';
import { isIpAddress } from '../net/transport.js';
import { dsnProblem } from '../wire/dsn.js';
import { resolveDkim } from '../message/dkim-options.js';

/** A check: undefined when the value is acceptable, else what the option accepts. */
type Check = (value: unknown) => string | undefined;

const string: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
const nonEmpty: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'a non-empty string');
/** Text that goes into a command or a SASL exchange: a line break or NUL there is an injection. */
const line: Check = (v) =>
  typeof v === 'string' && !/[\r\n\0]/.test(v) ? undefined : 'a string without CR, LF or NUL';
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const func: Check = (v) => (typeof v === 'function' ? undefined : 'a function');
const strings: Check = (v) =>
  Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : 'an array of strings';
const count: Check = (v) =>
  Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : 'a whole number of at least 1';
const milliseconds: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? undefined : 'a positive number of milliseconds';
const delay: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : 'a number of milliseconds, 0 or more';
const oneOf =
  (values: readonly string[], note = ''): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `one of ${values.map((x) => `'${x}'`).join(', ')}${note}`;
const mechanism: Check = (v) =>
  typeof v === 'string' && (MECHANISMS as readonly string[]).includes(v.toUpperCase())
    ? undefined
    : `one of ${MECHANISMS.join(', ')}`;
const mechanisms: Check = (v) =>
  Array.isArray(v) && v.length > 0 && v.every((m) => mechanism(m) === undefined)
    ? undefined
    : `a non-empty array of ${MECHANISMS.join(', ')}`;

const port: Check = (v) =>
  portNumber(v) !== undefined
    ? undefined
    : `a number from 1 to 65535 or one of ${Object.keys(SERVICES)
        .map((s) => `'${s}'`)
        .join(', ')}`;

const rateLimit: Check = (v) => {
  const shape = 'an object { messages, perMs }: a whole number of messages (1 or more) per positive number of ms';
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return shape;
  const keys = Object.keys(v);
  if (keys.length !== 2 || !keys.includes('messages') || !keys.includes('perMs')) return shape;
  const { messages, perMs } = v as { messages: unknown; perMs: unknown };
  return count(messages) === undefined && milliseconds(perMs) === undefined ? undefined : shape;
};

const TIMEOUT_KEYS = ['connect', 'greeting', 'command', 'dataBlock', 'dataEnd', 'total'];
const timeouts: Check = (v) => {
  const problem = object(v, TIMEOUT_KEYS);
  if (problem !== undefined) return problem;
  for (const [key, value] of Object.entries(v as object)) {
    if (value === undefined) continue;
    const wrong = key === 'total' ? delay(value) : milliseconds(value);
    if (wrong !== undefined)
      return `an object whose ${key} is ${key === 'total' ? 'a number of milliseconds, 0 (none) or more' : wrong}`;
  }
  return undefined;
};

const pem: Check = (v) => (typeof v === 'string' || Buffer.isBuffer(v) ? undefined : 'a PEM string or Buffer');
const TLS: Readonly<Record<string, Check>> = {
  ca: (v) =>
    Array.isArray(v) ? (v.every((x) => pem(x) === undefined) ? undefined : 'PEM strings or Buffers') : pem(v),
  cert: pem,
  key: pem,
  servername: nonEmpty,
  minVersion: oneOf(['TLSv1.2', 'TLSv1.3']),
  rejectUnauthorized: boolean,
};
const tls: Check = (v) => {
  const problem = object(v, Object.keys(TLS));
  if (problem !== undefined) return problem;
  for (const [key, value] of Object.entries(v as object)) {
    const wrong = value === undefined ? undefined : TLS[key]?.(value);
    if (wrong !== undefined) return `an object whose ${key} is ${wrong}`;
  }
  return undefined;
};

function object(v: unknown, keys: readonly string[]): string | undefined {
  const shape = `an object with ${keys.join(', ')}`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return shape;
  const unknown = Object.keys(v).find((key) => !keys.includes(key));
  return unknown === undefined ? undefined : `${shape} (not ${describeValue(unknown)})`;
}

/** The per-message options: what `send(message, options)` takes besides the connection's own. */
const MESSAGE_OPTIONS: Readonly<Record<string, Check>> = {
  envelopeFrom: string,
  recipients: strings,
  userMailAddress: string,
  userFullName: string,
  sendtoDomain: nonEmpty,
  mailDomain: nonEmpty,
  addMissingHeaders: boolean,
  partial: boolean,
  signal: (v) => (v instanceof AbortSignal ? undefined : 'an AbortSignal'),
  onProgress: func,
  // ECONFIG for a wrong shape or keyword; an envid or orcpt that cannot be sent as written throws EINPUT itself.
  dsn: dsnProblem,
  requireTls: boolean,
  dkim: (v) => {
    const resolved = resolveDkim(v);
    return 'problem' in resolved ? resolved.problem : undefined;
  },
};

/** Every option of every entry point (sendMail, SmtpClient, createPool, checkServer, sendQueuedMail). */
const ALL_OPTIONS: Readonly<Record<string, Check>> = {
  ...MESSAGE_OPTIONS,
  // Connection
  server: (v) => nonEmpty(v) ?? line(v),
  port,
  streamType: oneOf(STREAM_TYPES, ' (or leave it unset for STARTTLS when offered)'),
  lmtp: boolean,
  path: (v) => nonEmpty(v) ?? (/\0/.test(v as string) ? 'a path without NUL' : undefined),
  tls,
  timeouts,
  clientName: nonEmpty,
  localDomain: string,
  verb: boolean,
  onTrace: func,
  traceData: boolean,
  // Authentication
  user: line,
  password: (v) =>
    typeof v === 'function' || line(v) === undefined
      ? undefined
      : 'a string without CR, LF or NUL, or a function returning one',
  authSources: strings,
  authMechanisms: mechanisms,
  authMechanism: mechanism,
  allowInsecureAuth: boolean,
  serversRequiringAuthorization: (v) => (v instanceof RegExp ? undefined : 'a RegExp'),
  promptCredentials: func,
  serviceAliases: boolean,
  caseInsensitiveHosts: boolean,
  // Retries
  retries: count,
  retryDelay: delay,
  retryBackoff: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 1 ? undefined : 'a number of at least 1'),
  // Client
  chunking: boolean,
  noopAfterIdle: delay,
  // sendMail
  sendmailProgram: nonEmpty,
  queueMail: boolean,
  queueOnTransientFailure: boolean,
  honorFcc: boolean,
  // Queue
  queueDir: nonEmpty,
  queueIndexFile: nonEmpty,
  storeQueueVariables: boolean,
  portableNames: boolean,
  continueOnError: boolean,
  queuedOptions: func,
  onMessage: func,
  // Pool
  maxConnections: count,
  maxMessagesPerConnection: count,
  idleTimeout: milliseconds,
  proxy: (v) => {
    if (typeof v !== 'string') return 'a proxy URL: socks5://, socks5h:// or http://';
    parseProxy(v); // throws ECONFIG saying what is wrong (the password hidden)
    return undefined;
  },
  connect: func,
  localAddress: (v) => (typeof v === 'string' && isIpAddress(v) ? undefined : 'an IPv4 or IPv6 address'),
  family: (v) => (v === 4 || v === 6 ? undefined : '4 or 6'),
  rateLimit,
  // checkServer
  tryAlternatives: boolean,
  checkRecipient: nonEmpty,
};

/** Names other SMTP libraries use, and what this one calls them. */
const OTHER_NAMES: Readonly<Record<string, string>> = {
  host: 'server',
  secure: "streamType: 'ssl'",
  requireTLS: "streamType: 'starttls'; requireTls, spelt so, asks for RFC 8689's REQUIRETLS",
  ignoreTLS: "streamType: 'plain'",
  auth: 'user and password',
  pass: 'password',
  name: 'clientName',
  connectionTimeout: 'timeouts.connect',
  greetingTimeout: 'timeouts.greeting',
  socketTimeout: 'timeouts.command',
  pool: 'createPool()',
  debug: 'onTrace',
  logger: 'onTrace',
  from: 'envelopeFrom',
  to: 'recipients',
};

/** Every option name the library knows, for tests that must cover them all. */
export const OPTION_NAMES: readonly string[] = Object.keys(ALL_OPTIONS);

export type OptionsKind = 'options' | 'message options';

/**
 * Throws ECONFIG for the first option that is not acceptable. `kind`
 * 'message options' allows only what may change per message.
 */
export function validateOptions(options: unknown, kind: OptionsKind = 'options'): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SmtpProtocolError('ECONFIG', `the ${kind} must be an object, not ${describeValue(options)}`);
  }
  const table = kind === 'options' ? ALL_OPTIONS : MESSAGE_OPTIONS;
  for (const [name, value] of Object.entries(options)) {
    const check = table[name];
    if (check === undefined) throw unknownOption(name, kind);
    if (value === undefined) continue;
    const accepts = check(value);
    if (accepts !== undefined) {
      throw new SmtpProtocolError(
        'ECONFIG',
        `invalid option ${name}: ${describeValue(value)}; ${name} must be ${accepts}`,
      );
    }
  }
}

function unknownOption(name: string, kind: OptionsKind): SmtpProtocolError {
  if (kind === 'message options' && name in ALL_OPTIONS) {
    return new SmtpProtocolError(
      'ECONFIG',
      `option ${name} cannot change per message: give it when creating the client or pool (per message: ` +
        `${Object.keys(MESSAGE_OPTIONS).join(', ')})`,
    );
  }
  const other = OTHER_NAMES[name];
  const advice = other === undefined ? '' : ` (this library calls it ${other})`;
  return new SmtpProtocolError('ECONFIG', `unknown option ${describeValue(name)}${advice}`);
}

/**
 * The offline queue does not do LMTP: Emacs's queue format cannot record it, and a flush sends a message again whole
 * when it failed, while LMTP may have delivered it to some of its recipients already. `what` names the feature.
 */
export function refuseLmtp(options: { readonly lmtp?: unknown }, what: string): void {
  if (options.lmtp !== true) return;
  throw new SmtpProtocolError(
    'ECONFIG',
    `${what} does not work with lmtp: the offline queue (Emacs's format) cannot record LMTP, and a message LMTP ` +
      `delivered to some recipients must not be sent again whole`,
  );
}

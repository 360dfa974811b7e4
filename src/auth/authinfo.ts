/**
 * The authinfo / netrc format with Emacs auth-source netrc semantics (SPEC §5).
 * Pure: text in, entries out; no file is read here (see credentials.ts).
 *
 * Error messages name the file, the line and at most a key from a fixed list
 * of keywords: never a value, since any token may be a misplaced password.
 */
import { SmtpProtocolError } from '../errors.js';
import { SERVICES } from '../options.js';

/** One `machine` (or `default`) entry, keys resolved through their aliases. */
export interface AuthinfoEntry {
  /** The `machine` / `host` value; undefined for a `default` entry. */
  readonly host: string | undefined;
  readonly isDefault: boolean;
  /** `login`, `account` or `user`. */
  readonly user: string | undefined;
  /** `password` or `secret`. */
  readonly password: string | undefined;
  /** `port` or `protocol`, kept as written (`587`, `submission`). */
  readonly port: string | undefined;
  /** Every other key, e.g. `{ 'smtp-auth': 'plain' }`. */
  readonly extra: Readonly<Record<string, string>>;
  /** 1-based line where the entry starts. */
  readonly line: number;
}

/** What to look up: the configured server, its service and (optionally) user. */
export interface CredentialQuery {
  readonly host: string;
  /** The configured service as a string, e.g. `'587'` or `'submission'`. */
  readonly port: string;
  /** smtpmail-smtp-user: restricts the match. */
  readonly user?: string | undefined;
  /** Opt-in: smtp=25, submission=587, smtps=465, submissions=465 compare equal. */
  readonly serviceAliases?: boolean | undefined;
  /** Opt-in: host names compared without regard to case. */
  readonly caseInsensitiveHosts?: boolean | undefined;
}

type Field = 'user' | 'password' | 'port';

const FIELD_ALIASES: ReadonlyMap<string, Field> = new Map([
  ['login', 'user'],
  ['account', 'user'],
  ['user', 'user'],
  ['password', 'password'],
  ['secret', 'password'],
  ['port', 'port'],
  ['protocol', 'port'],
]);

/** Keys that may be quoted in an error: fixed words, so they cannot be a secret. */
const NAMEABLE_KEYS = new Set(['machine', 'host', ...FIELD_ALIASES.keys(), 'smtp-auth', 'key', 'cert']);

type Item =
  | { readonly kind: 'word'; readonly text: string; readonly quoted: boolean; readonly line: number }
  | { readonly kind: 'comment'; readonly line: number };

interface Draft {
  host: string | undefined;
  isDefault: boolean;
  fields: Map<Field, string>;
  extra: Map<string, string>;
  line: number;
}

/**
 * Parses authinfo text into entries, in file order.
 *
 * Kept from Emacs: tokens split on blanks and newlines, an entry spans lines,
 * `'...'` / `"..."` without escapes, `#` at a token start comments out the
 * rest of the line, the last of a repeated key wins, `machine` as a value is
 * an error. Stricter than Emacs, each with an error naming the line: text
 * before the first entry (Emacs makes it an entry matching every host), a
 * quote not closed on its line or followed by more text, a key with no value
 * at the end, and a key followed on its own line by a comment (`password
 * #secret`: Emacs would silently take the next line's first token as the
 * password). `host` starts an entry like `machine` (in Emacs it only sets
 * the host of the current entry).
 *
 * @throws SmtpProtocolError `ECONFIG`, message `${file}:${line}: ...`.
 */
export function parseAuthinfo(text: string, file: string): AuthinfoEntry[] {
  const items = tokenize(text, file);
  const entries: AuthinfoEntry[] = [];
  let current: Draft | undefined;
  let index = 0;

  const takeValue = (key: Item & { kind: 'word' }): string => {
    let next = items[index];
    if (next?.kind === 'comment' && next.line === key.line) {
      throw configError(
        file,
        key.line,
        `the value of ${describeKey(key.text)} starts with '#', which begins a comment; quote the value`,
      );
    }
    while (next?.kind === 'comment') next = items[++index];
    if (next === undefined)
      throw configError(file, key.line, `${describeKey(key.text)} has no value at the end of the file`);
    if (!next.quoted && next.text === 'machine') {
      throw configError(
        file,
        key.line,
        `"machine" where the value of ${describeKey(key.text)} was expected (a missing value?)`,
      );
    }
    index++;
    return next.text;
  };

  while (index < items.length) {
    const item = items[index++];
    if (item === undefined || item.kind === 'comment') continue;
    if (item.text === 'machine' || item.text === 'host' || item.text === 'default') {
      if (current !== undefined) entries.push(freeze(current));
      const isDefault = item.text === 'default';
      const host = isDefault ? undefined : takeValue(item);
      current = { host, isDefault, fields: new Map(), extra: new Map(), line: item.line };
      continue;
    }
    if (current === undefined) {
      throw configError(
        file,
        item.line,
        'text before the first "machine" or "default" belongs to no entry (probably a typo)',
      );
    }
    const value = takeValue(item);
    const field = FIELD_ALIASES.get(item.text);
    if (field !== undefined) current.fields.set(field, value);
    else current.extra.set(item.text, value);
  }
  if (current !== undefined) entries.push(freeze(current));
  return entries;
}

/**
 * Why `entry` does not match `query` (`'host'`, `'port'` or `'user'`, checked
 * in that order), or undefined when it matches. A field missing from the
 * entry (or the user missing from the query) matches anything. Host and port
 * are exact, case-sensitive strings unless the query opts in to more.
 */
export function mismatch(entry: AuthinfoEntry, query: CredentialQuery): 'host' | 'port' | 'user' | undefined {
  if (
    !entry.isDefault &&
    entry.host !== undefined &&
    !sameHost(entry.host, query.host, query.caseInsensitiveHosts === true)
  ) {
    return 'host';
  }
  if (entry.port !== undefined && !samePort(entry.port, query.port, query.serviceAliases === true)) return 'port';
  if (entry.user !== undefined && query.user !== undefined && entry.user !== query.user) return 'user';
  return undefined;
}

/**
 * The first matching entry in order (a `default` earlier in the list wins over
 * a later `machine`, as in Emacs), and for each entry before it why it did not
 * match (`line 3: port`): never a value, only the field.
 */
export function findEntry(
  entries: readonly AuthinfoEntry[],
  query: CredentialQuery,
): { readonly entry: AuthinfoEntry | undefined; readonly reasons: readonly string[] } {
  const reasons: string[] = [];
  for (const entry of entries) {
    const why = mismatch(entry, query);
    if (why === undefined) return { entry, reasons };
    reasons.push(`line ${entry.line}: ${why}`);
  }
  return { entry: undefined, reasons };
}

/**
 * One line `machine H login U port P password S` (no line end) that
 * {@link parseAuthinfo} reads back exactly. A value is written bare when it can
 * be; otherwise in double quotes, or in single quotes when it contains `"`.
 *
 * @throws SmtpProtocolError `ECONFIG`, naming the field but never its value,
 * for a value that is empty, contains CR or LF, needs quotes but contains
 * both kinds, or is the word `machine` (Emacs cannot read that back).
 */
export function formatEntry(entry: { host: string; port: string; user: string; password: string }): string {
  return [
    `machine ${formatValue(entry.host, 'host')}`,
    `login ${formatValue(entry.user, 'user')}`,
    `port ${formatValue(entry.port, 'port')}`,
    `password ${formatValue(entry.password, 'password')}`,
  ].join(' ');
}

function formatValue(value: string, field: string): string {
  const refuse = (why: string): SmtpProtocolError =>
    new SmtpProtocolError('ECONFIG', `Cannot write the ${field} to an authinfo file: ${why}`);
  if (value === '') throw refuse('it is empty');
  if (/[\r\n]/.test(value)) throw refuse('it contains a line break');
  // Emacs refuses `machine` as a value even when quoted.
  if (value === 'machine') throw refuse('it is the keyword that starts an entry');
  const needsQuotes = /[ \t]/.test(value) || /^['"#]/.test(value);
  if (!needsQuotes) return value;
  const hasDouble = value.includes('"');
  if (hasDouble && value.includes("'")) throw refuse('it needs quotes but contains both kinds of quote');
  return hasDouble ? `'${value}'` : `"${value}"`;
}

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t' || char === '\n' || char === '\r';
}

/** Splits text into words and comment markers, each with its 1-based line. */
function tokenize(text: string, file: string): Item[] {
  const items: Item[] = [];
  let line = 1;
  let at = text.startsWith('\uFEFF') ? 1 : 0;
  while (at < text.length) {
    const char = text[at];
    if (char === '\n') {
      line++;
      at++;
    } else if (isBlank(char)) {
      at++;
    } else if (char === '#') {
      items.push({ kind: 'comment', line });
      const end = text.indexOf('\n', at);
      at = end === -1 ? text.length : end;
    } else if (char === '"' || char === "'") {
      const close = text.indexOf(char, at + 1);
      const lineEnd = text.indexOf('\n', at + 1);
      if (close === -1 || (lineEnd !== -1 && lineEnd < close)) {
        throw configError(
          file,
          line,
          `unterminated ${char === '"' ? 'double' : 'single'} quote (a quoted value ends on its line)`,
        );
      }
      items.push({ kind: 'word', text: text.slice(at + 1, close), quoted: true, line });
      at = close + 1;
      if (at < text.length && !isBlank(text[at])) {
        throw configError(file, line, 'text right after a closing quote; separate it with a space');
      }
    } else {
      let end = at;
      while (end < text.length && !isBlank(text[end])) end++;
      items.push({ kind: 'word', text: text.slice(at, end), quoted: false, line });
      at = end;
    }
  }
  return items;
}

function freeze(draft: Draft): AuthinfoEntry {
  return {
    host: draft.host,
    isDefault: draft.isDefault,
    user: draft.fields.get('user'),
    password: draft.fields.get('password'),
    port: draft.fields.get('port'),
    // fromEntries defines own properties: a key such as `__proto__` stays data.
    extra: Object.fromEntries(draft.extra),
    line: draft.line,
  };
}

function sameHost(entryHost: string, queryHost: string, caseInsensitive: boolean): boolean {
  return caseInsensitive ? entryHost.toLowerCase() === queryHost.toLowerCase() : entryHost === queryHost;
}

function samePort(entryPort: string, queryPort: string, aliases: boolean): boolean {
  if (!aliases) return entryPort === queryPort;
  const number = (port: string): string => String(SERVICES[port.toLowerCase()] ?? port);
  return number(entryPort) === number(queryPort);
}

function describeKey(key: string): string {
  return NAMEABLE_KEYS.has(key) ? `the key "${key}"` : 'a key (not shown: it may be a misplaced value)';
}

function configError(file: string, line: number, problem: string): SmtpProtocolError {
  return new SmtpProtocolError('ECONFIG', `${file}:${line}: ${problem}`);
}

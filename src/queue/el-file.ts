/**
 * The `BASE.el` file Emacs smtpmail keeps beside each queued message: one
 * `(setq ...)` form that Emacs `load`s when it flushes the queue. Pure: text
 * in, text out; write.ts and flush.ts do the file I/O.
 *
 * We write it byte for byte as smtpmail-queue-mail does, so Emacs and this
 * library can share a queue. We read it without evaluating anything: a
 * strict reader that accepts only data (strings, integers, symbols, lists of
 * strings), because a queue directory is an easy place to plant a file that
 * `load` would run as code.
 */
import { SmtpProtocolError } from '../errors.js';
import { portNumber, STREAM_TYPES as OPTION_STREAM_TYPES } from '../options.js';

export type StreamTypeSymbol = 'nil' | 'network' | 'plain' | 'starttls' | 'ssl' | 'tls';

export interface QueuedSettings {
  readonly recipients: readonly string[];
  /** Present only when the file stores them (undefined = not stored or stored as nil). */
  readonly server?: string | undefined;
  readonly streamType?: Exclude<StreamTypeSymbol, 'nil'> | undefined;
  /** Emacs allows a port number or a service name string. */
  readonly service?: number | string | undefined;
  readonly user?: string | undefined;
}

/** The library's stream types, and Emacs's `nil` (default) and `network` (plain, its old name). */
const STREAM_TYPES: readonly string[] = ['nil', 'network', ...OPTION_STREAM_TYPES] satisfies StreamTypeSymbol[];
const RECIPIENTS = 'smtpmail-recipient-address-list';
/** Bounds, so that a hostile file can neither exhaust memory nor the stack. */
const MAX_BYTES = 1024 * 1024;
const MAX_DEPTH = 2; // (setq ... '("a" "b")): the recipient list is the deepest thing Emacs writes
const MAX_LIST_ITEMS = 100_000; // recipients; the setq list itself is far shorter
/** At most this much of an offending token goes into a message. */
const SHOWN_CHARS = 40;

/** prin1 of a string: only `"` and `\` are escaped; newlines and non-ASCII are written raw. */
export function lispString(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The `.el` text, as Emacs 28 and later write it (smtpmail-send-it:
 * `(format "     %s %S\n" var value)`): each value printed bare, since
 * Emacs 28+ `read`s the form and `set`s each pair without evaluating it
 * (smtpmail-send-queued-mail); a quoted `'value` would reach it literally.
 * With `stored` (Emacs's smtpmail-store-queue-variables) the four server
 * variables follow in smtpmail--stored-queue-variables order, `nil` for an
 * undefined one. (Emacs 27 and older `load`ed the file and wrote quoted
 * values; parseQueueEl reads both.)
 *
 * @throws SmtpProtocolError `EQUEUE` for a stream type or a numeric service
 * that Emacs could not read back (the stream type is printed as a bare
 * symbol, so an unchecked one could inject code into a file Emacs loads).
 */
export function formatQueueEl(settings: QueuedSettings, stored: boolean): string {
  const lines: [string, string][] = [
    [RECIPIENTS, settings.recipients.length === 0 ? 'nil' : `(${settings.recipients.map(lispString).join(' ')})`],
  ];
  if (stored) {
    lines.push(
      ['smtpmail-smtp-server', printOptionalString(settings.server)],
      ['smtpmail-stream-type', printStreamType(settings.streamType)],
      ['smtpmail-smtp-service', printService(settings.service)],
      ['smtpmail-smtp-user', printOptionalString(settings.user)],
    );
  }
  return `(setq ${lines.map(([name, value]) => `     ${name} ${value}\n`).join('')})\n`;
}

function printOptionalString(value: string | undefined): string {
  return value === undefined ? 'nil' : lispString(value);
}

function printStreamType(value: string | undefined): string {
  if (value !== undefined && !STREAM_TYPES.includes(value))
    throw new SmtpProtocolError('EQUEUE', `Cannot queue: ${show(value)} is not a stream type`);
  return value ?? 'nil';
}

function printService(value: number | string | undefined): string {
  if (typeof value === 'number' && !isPort(value))
    throw new SmtpProtocolError('EQUEUE', `Cannot queue: ${value} is not a port number (1..65535)`);
  return typeof value === 'string' ? lispString(value) : String(value ?? 'nil');
}

function isPort(value: number): boolean {
  return portNumber(value) !== undefined;
}

type Refuse = (line: number, problem: string) => SmtpProtocolError;

type Atom =
  | { readonly kind: 'string' | 'symbol'; readonly text: string; readonly line: number }
  | { readonly kind: 'integer'; readonly value: number; readonly text: string; readonly line: number };
type Token = Atom | { readonly kind: '(' | ')' | "'" | 'end'; readonly line: number };
type Datum =
  | Atom
  | { readonly kind: 'list'; readonly items: readonly Datum[]; readonly line: number }
  | { readonly kind: 'quote'; readonly datum: Datum; readonly line: number };

const SYMBOL = /[A-Za-z0-9_+*/<>=!?$%&~^:.-]+/y;
const BLANKS = /(?:[ \t\r\n]|;[^\n]*)*/y;
/** The escapes accepted in a string; backslash-newline is dropped, as in Emacs. */
const ESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '"'],
  ['\\', '\\'],
  ['n', '\n'],
  ['t', '\t'],
  ['r', '\r'],
  ['e', '\x1b'],
  ['s', ' '],
  ['\n', ''],
]);

/** Splits Lisp text into tokens, each with its 1-based line; refuses every syntax but data. */
class Lexer {
  readonly #text: string;
  readonly #refuse: Refuse;
  #at = 0;
  #line = 1;

  constructor(text: string, refuse: Refuse) {
    this.#text = text;
    this.#refuse = refuse;
    if (text.startsWith('\uFEFF')) this.#at = 1;
  }

  next(): Token {
    this.#skipBlanks();
    const line = this.#line;
    const char = this.#text[this.#at];
    if (char === undefined) return { kind: 'end', line };
    if (char === '(' || char === ')' || char === "'") {
      this.#at++;
      return { kind: char, line };
    }
    if (char === '"') return this.#string(line);
    SYMBOL.lastIndex = this.#at;
    const text = char === '?' ? undefined : SYMBOL.exec(this.#text)?.[0];
    // `#`, backquote, comma, `[`, `?` (a character literal), `\` and the rest are code or non-data syntax.
    if (text === undefined)
      throw this.#refuse(line, `${showChar(char)} is not accepted: only strings, integers, symbols and lists are read`);
    if (text === '.') throw this.#refuse(line, 'dotted pair syntax is not accepted');
    this.#at += text.length;
    return /^-?\d+$/.test(text) ? { kind: 'integer', value: Number(text), text, line } : { kind: 'symbol', text, line };
  }

  #skipBlanks(): void {
    BLANKS.lastIndex = this.#at;
    this.#advance(BLANKS.exec(this.#text)?.[0] ?? '');
  }

  #advance(text: string): void {
    this.#at += text.length;
    if (text.includes('\n')) this.#line += text.split('\n').length - 1;
  }

  /** A string with a few escapes (ESCAPES); any other, such as `\x41` or `\^@`, is refused rather than guessed. */
  #string(line: number): Token {
    let text = '';
    this.#at++;
    for (;;) {
      let end = this.#at;
      while (end < this.#text.length && this.#text[end] !== '"' && this.#text[end] !== '\\') end++;
      const run = this.#text.slice(this.#at, end);
      text += run;
      this.#advance(run);
      const char = this.#text[this.#at++];
      if (char === '"') return { kind: 'string', text, line };
      const escaped = this.#text[this.#at];
      if (char === undefined || escaped === undefined) throw this.#refuse(line, 'unterminated string');
      const replacement = ESCAPES.get(escaped);
      if (replacement === undefined)
        throw this.#refuse(this.#line, `unknown escape in a string: backslash before ${showChar(escaped)}`);
      this.#advance(escaped);
      text += replacement;
    }
  }
}

/** One datum starting at `token`; `depth` counts the lists around it. */
function readDatum(lexer: Lexer, token: Token, depth: number, refuse: Refuse): Datum {
  switch (token.kind) {
    case '(': {
      if (depth >= MAX_DEPTH) throw refuse(token.line, `lists nested deeper than ${MAX_DEPTH} are not accepted`);
      const items: Datum[] = [];
      for (let next = lexer.next(); next.kind !== ')'; next = lexer.next()) {
        if (next.kind === 'end') throw refuse(next.line, `the list opened on line ${token.line} is not closed`);
        if (items.length === MAX_LIST_ITEMS)
          throw refuse(next.line, `more than ${MAX_LIST_ITEMS} items in one list (recipients)`);
        items.push(readDatum(lexer, next, depth + 1, refuse));
      }
      return { kind: 'list', items, line: token.line };
    }
    case "'": {
      const next = lexer.next();
      // `''x` is refused too: it is never data Emacs writes, and unbounded quotes would be unbounded recursion.
      if (next.kind === ')' || next.kind === 'end' || next.kind === "'")
        throw refuse(next.line, 'a quote must be followed by a value');
      return { kind: 'quote', datum: readDatum(lexer, next, depth, refuse), line: token.line };
    }
    case ')':
      throw refuse(token.line, 'unbalanced ")"');
    case 'end':
      throw refuse(token.line, 'unexpected end of file');
    default:
      return token;
  }
}

/**
 * The settings in a `.el` text, read without evaluating anything. Accepted:
 * exactly one `(setq VAR VALUE ...)` form over the five queue variables,
 * each value quoted (as Emacs writes it) or not; comments; CRLF line ends.
 * An unquoted list whose head is a symbol is a function call and is refused.
 *
 * @param file used only in error messages.
 * @throws SmtpProtocolError `EQUEUE`, message `${file}:${line}: ...`.
 */
export function parseQueueEl(text: string, file: string): QueuedSettings {
  const refuse: Refuse = (line, problem) => new SmtpProtocolError('EQUEUE', `${file}:${line}: ${problem}`);
  // Checked before any reading; text.length first so that a huge text is not measured in full.
  if (text.length > MAX_BYTES || Buffer.byteLength(text, 'utf8') > MAX_BYTES)
    throw refuse(1, 'longer than 1 MiB; not read');
  // Emacs decodes a file whose every line ends in CRLF as DOS text, which drops the CRs, even inside strings.
  const decoded = text.includes('\r\n') && !/(^|[^\r])\n/.test(text) ? text.replaceAll('\r\n', '\n') : text;
  const lexer = new Lexer(decoded, refuse);
  const first = lexer.next();
  if (first.kind === 'end') throw refuse(first.line, 'no (setq ...) form');
  const form = readDatum(lexer, first, 0, refuse);
  const head = form.kind === 'list' ? form.items[0] : undefined;
  if (form.kind !== 'list' || head?.kind !== 'symbol' || head.text !== 'setq') {
    const found = head?.kind === 'symbol' ? `a call to ${show(head.text)}` : describe(form);
    throw refuse(form.line, `the file must hold one (setq ...) form, not ${found}`);
  }
  const extra = lexer.next();
  if (extra.kind !== 'end') throw refuse(extra.line, 'extra forms after the (setq ...) form');
  return settingsOf(form.items, form.line, refuse);
}

type Reader = (value: Datum, refuse: Refuse) => Partial<QueuedSettings>;

/** The queue variables and how each value becomes a setting; any other name is refused. */
const READERS: ReadonlyMap<string, Reader> = new Map<string, Reader>([
  [RECIPIENTS, (value, refuse) => ({ recipients: recipientsOf(value, refuse) })],
  ['smtpmail-smtp-server', (value, refuse) => setting('server', optionalString('smtpmail-smtp-server', value, refuse))],
  ['smtpmail-stream-type', (value, refuse) => setting('streamType', streamTypeOf(value, refuse))],
  ['smtpmail-smtp-service', (value, refuse) => setting('service', serviceOf(value, refuse))],
  ['smtpmail-smtp-user', (value, refuse) => setting('user', optionalString('smtpmail-smtp-user', value, refuse))],
]);

/** Nil leaves the key out, so that a parsed file has only the settings it stores. */
function setting<K extends keyof QueuedSettings>(key: K, value: QueuedSettings[K]): Partial<QueuedSettings> {
  return value === undefined ? {} : ({ [key]: value } as Partial<QueuedSettings>);
}

function settingsOf(items: readonly Datum[], line: number, refuse: Refuse): QueuedSettings {
  let settings: Partial<QueuedSettings> = {};
  const seen = new Set<string>();
  for (let index = 1; index < items.length; index += 2) {
    const variable = items[index];
    const value = items[index + 1];
    if (variable === undefined) break;
    if (variable.kind !== 'symbol') throw refuse(variable.line, `expected a variable name, not ${describe(variable)}`);
    const name = show(variable.text);
    const read = READERS.get(variable.text);
    if (read === undefined) throw refuse(variable.line, `${name} is not a queue variable`);
    if (seen.has(variable.text)) throw refuse(variable.line, `${name} is set twice`);
    if (value === undefined) throw refuse(variable.line, `odd number of arguments to setq: ${name} has no value`);
    seen.add(variable.text);
    settings = { ...settings, ...read(unquote(name, value, refuse), refuse) };
  }
  if (settings.recipients === undefined) throw refuse(line, `${RECIPIENTS} is missing`);
  return { ...settings, recipients: settings.recipients };
}

/** `'x` is x. Unquoted values are accepted as data too, except a list that would be a function call. */
function unquote(name: string, value: Datum, refuse: Refuse): Datum {
  if (value.kind === 'quote') return value.datum;
  const head = value.kind === 'list' ? value.items[0] : undefined;
  if (head?.kind === 'symbol')
    throw refuse(value.line, `the value of ${name} is a call to ${show(head.text)}; nothing is evaluated`);
  return value;
}

function recipientsOf(value: Datum, refuse: Refuse): string[] {
  if (isNil(value)) return [];
  if (value.kind !== 'list')
    throw refuse(value.line, `${RECIPIENTS} must be a list of strings or nil, not ${describe(value)}`);
  const recipients: string[] = [];
  for (const item of value.items) {
    if (item.kind !== 'string') throw refuse(item.line, `${RECIPIENTS} must hold only strings, not ${describe(item)}`);
    recipients.push(item.text);
  }
  return recipients;
}

function optionalString(name: string, value: Datum, refuse: Refuse): string | undefined {
  if (value.kind === 'string') return value.text;
  if (isNil(value)) return undefined;
  throw refuse(value.line, `${name} must be a string or nil, not ${describe(value)}`);
}

function streamTypeOf(value: Datum, refuse: Refuse): QueuedSettings['streamType'] {
  if (value.kind !== 'symbol' || !STREAM_TYPES.includes(value.text)) {
    throw refuse(value.line, `smtpmail-stream-type must be one of ${STREAM_TYPES.join(' ')}, not ${describe(value)}`);
  }
  return value.text === 'nil' ? undefined : (value.text as Exclude<StreamTypeSymbol, 'nil'>);
}

function serviceOf(value: Datum, refuse: Refuse): QueuedSettings['service'] {
  if (value.kind === 'integer' && isPort(value.value)) return value.value;
  if (value.kind === 'string') return value.text;
  if (isNil(value)) return undefined;
  throw refuse(
    value.line,
    `smtpmail-smtp-service must be a port (1..65535), a service name string or nil, not ${describe(value)}`,
  );
}

/** `nil` and `()` are the same object in Lisp. */
function isNil(value: Datum): boolean {
  return (value.kind === 'symbol' && value.text === 'nil') || (value.kind === 'list' && value.items.length === 0);
}

/** What was found, in a few words: never a whole string, at most SHOWN_CHARS of a token. */
function describe(value: Datum): string {
  if (value.kind === 'symbol') return `the symbol ${show(value.text)}`;
  if (value.kind === 'integer') return show(value.text);
  if (value.kind === 'list' && value.items.length === 0) return 'nil';
  return value.kind === 'quote' ? 'a quoted value' : `a ${value.kind}`;
}

function show(text: string): string {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text;
}

/** A character for a message: printable ASCII in quotes, anything else as its code point. */
function showChar(char: string): string {
  return /^[!-~]$/.test(char)
    ? `'${char}'`
    : `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The header block of an RFC 5322 message (RFC 5322 §2.2, §3.6), on bytes and
 * without I/O: where it ends, lookups, new fields, serialising (the fields
 * themselves are found by header-fields.ts). Only the header block is ever
 * parsed; the body is streamed through untouched by the caller (SPEC §6).
 */
import { SmtpProtocolError } from '../errors.js';

/**
 * Emacs's mail-header-separator: a line equal to this ends the headers like an empty line, and is transmitted as an
 * empty line.
 */
export const MAIL_HEADER_SEPARATOR = '--text follows this line--';

/** Most header bytes accepted before the end of the header block (16 MiB). */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export interface HeaderEnd {
  /** Bytes [0, headerEnd) are the header fields, each with its line end. */
  readonly headerEnd: number;
  /**
   * Where the body starts (after the empty line or the separator line with its line end; equal to headerEnd when the
   * headers ended at a line that is not a header field, or at the end of input).
   */
  readonly bodyStart: number;
  /**
   * How the block ended: an empty line, the Emacs separator, a line that is not a field (sendmail -t behaviour: the
   * body starts there and nothing is removed), or the end of the message.
   */
  readonly kind: 'blank' | 'separator' | 'not-a-field' | 'end';
}

export interface HeaderField {
  /** The name as written (case kept). */
  readonly name: string;
  /** Lower-cased name, for case-insensitive lookups. */
  readonly key: string;
  /**
   * The value, unfolded: line ends removed (the whitespace after them kept), the one optional space after the colon
   * removed, decoded as UTF-8 (RFC 6532).
   */
  readonly value: string;
  /** The field's exact bytes as given, every line of it with its line end (a view of the input: no copy). */
  readonly raw: Buffer;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const CRLF = Buffer.from('\r\n', 'latin1');
const SEPARATOR = Buffer.from(MAIL_HEADER_SEPARATOR, 'latin1');
/** The separator line with the CR of its CRLF: the longest line that can still end the block. */
const SEPARATOR_CR = Buffer.from(`${MAIL_HEADER_SEPARATOR}\r`, 'latin1');

/**
 * makeField folds before this column where a space allows: RFC 5322 §2.1.1 asks for 78, RFC 2047 §2 for 76 on lines
 * with encoded words.
 */
const FOLD_COLUMN = 76;
/** RFC 5322 §2.1.1: a line MUST NOT be longer than 998 octets, line end excluded. */
const MAX_LINE_OCTETS = 998;

// RFC 5322 §2.2: a field name is one or more printable US-ASCII characters except ':'.
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const CR_LF_NUL = /[\r\n\0]/;

type LineKind = 'field' | 'continuation' | 'blank' | 'separator' | 'other';

/**
 * Finds the end of the header block in `buf`, the start of a message. Lines
 * end with LF or CRLF. A field line is `name:` (RFC 5322 §2.2); a line
 * starting with space or tab continues the previous field (§2.2.3), but as the
 * first line it is not a field. An empty line → 'blank'; a line equal to
 * {@link MAIL_HEADER_SEPARATOR} → 'separator'; any other line → 'not-a-field'
 * (as the first line: no headers at all, headerEnd 0).
 *
 * With `complete` false, returns undefined until the end is in `buf` (the
 * caller reads more). A line that can no longer become a field, an empty line
 * or the separator is recognised before its line end arrives. With `complete`
 * true the end of `buf` ends the block ('end'; a last line without line end
 * is classified as if it had one).
 *
 * Only the first {@link MAX_HEADER_BYTES} bytes are scanned: when they do not
 * decide the end, throws SmtpProtocolError('EINPUT'). Linear time. `from`, a
 * line start already known to follow only fields, resumes an earlier scan.
 */
export function findHeaderEnd(buf: Buffer, complete: boolean, from = 0): HeaderEnd | undefined {
  const limit = Math.min(buf.length, MAX_HEADER_BYTES);
  let pos = from;
  for (;;) {
    const lf = buf.indexOf(LF, pos);
    if (lf === -1 || lf >= limit) break;
    // The usual lines, a field or its continuation, by indices alone (no subarray per line).
    const first = buf[pos];
    if (((first === SPACE || first === TAB) && pos > 0) || fieldNameEnd(buf, pos, lf) > 0) {
      pos = lf + 1;
      continue;
    }
    if (lf === pos || (lf === pos + 1 && first === CR)) return ending('blank', pos, lf + 1); // the usual end
    const kind = classify(withoutCR(buf.subarray(pos, lf)), pos > 0);
    if (kind !== 'field' && kind !== 'continuation') return ending(kind, pos, lf + 1);
    pos = lf + 1;
  }
  // The line at pos has no line end within the scanned bytes.
  const tail = buf.subarray(pos, limit);
  if (complete && buf.length <= MAX_HEADER_BYTES) {
    if (tail.length === 0) return { headerEnd: pos, bodyStart: pos, kind: 'end' };
    const kind = classify(withoutCR(tail), pos > 0);
    if (kind === 'field' || kind === 'continuation')
      return { headerEnd: buf.length, bodyStart: buf.length, kind: 'end' };
    return ending(kind, pos, buf.length);
  }
  if (cannotEndBlock(tail, pos > 0)) return ending('other', pos, pos);
  if (buf.length < MAX_HEADER_BYTES) return undefined;
  throw new SmtpProtocolError('EINPUT', `the message headers do not end within ${MAX_HEADER_BYTES} bytes`);
}

function ending(kind: Exclude<LineKind, 'field' | 'continuation'>, lineStart: number, next: number): HeaderEnd {
  if (kind === 'other') return { headerEnd: lineStart, bodyStart: lineStart, kind: 'not-a-field' };
  return { headerEnd: lineStart, bodyStart: next, kind };
}

/** Classifies one line given without its line end. */
function classify(line: Buffer, afterField: boolean): LineKind {
  const first = line[0];
  if (first === undefined) return 'blank';
  if (first === SPACE || first === TAB) return afterField ? 'continuation' : 'other';
  if (line.equals(SEPARATOR)) return 'separator';
  return fieldNameEnd(line, 0, line.length) > 0 ? 'field' : 'other';
}

/** True when the unfinished line `tail` is 'other' whatever bytes follow it. */
function cannotEndBlock(tail: Buffer, afterField: boolean): boolean {
  const first = tail[0];
  if (first === undefined) return false;
  if (first === SPACE || first === TAB) return !afterField;
  if (SEPARATOR_CR.subarray(0, tail.length).equals(tail) || (tail.length === 1 && first === CR)) return false;
  return fieldNameEnd(tail, 0, tail.length) === NOT_A_FIELD;
}

/** fieldNameEnd: the bytes cannot start a field. */
export const NOT_A_FIELD = -2;
/** fieldNameEnd: a field name so far, but no colon yet. */
export const NO_COLON_YET = -1;

/**
 * Where the colon is when bytes [from, to) begin with a field name and its
 * colon (RFC 5322 §2.2: one or more printable US-ASCII characters but `:`);
 * NOT_A_FIELD when they cannot; NO_COLON_YET when they end first. The one
 * definition of "this line starts a header field".
 */
export function fieldNameEnd(buf: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const byte = buf[i] as number;
    if (byte === COLON) return i > from ? i : NOT_A_FIELD;
    if (byte < 0x21 || byte > 0x7e) return NOT_A_FIELD;
  }
  return NO_COLON_YET;
}

/** The line without one trailing CR (the CR of a CRLF line end). */
function withoutCR(line: Buffer): Buffer {
  return line[line.length - 1] === CR ? line.subarray(0, -1) : line;
}

/** Whether a field of that name is there; the name is case-insensitive (RFC 5322 §1.2.2). */
export function hasField(fields: readonly HeaderField[], name: string): boolean {
  const key = name.toLowerCase();
  return fields.some((field) => field.key === key);
}

/**
 * One new field, `Name: value` + CRLF. Folded before spaces so that lines
 * stay within 76 characters where the value allows (RFC 5322 §2.2.3);
 * unfolding gives `value` back. Refuses with EINPUT a name that is not an RFC
 * 5322 §2.2 field name, CR, LF or NUL in the value, and a line longer than 998
 * octets (§2.1.1).
 */
export function makeField(name: string, value: string): HeaderField {
  if (!FIELD_NAME.test(name))
    throw new SmtpProtocolError('EINPUT', `invalid header field name: ${JSON.stringify(name)}`);
  if (CR_LF_NUL.test(value)) {
    throw new SmtpProtocolError('EINPUT', `the value of header field ${name} contains CR, LF or NUL`);
  }
  // Fold points: before a space that is followed by something other than a space.
  const [first = '', ...rest] = value.split(/(?= [^ ])/);
  const lines: string[] = [];
  let line = `${name}: ${first}`;
  for (const piece of rest) {
    if (line.length + piece.length > FOLD_COLUMN) {
      lines.push(line);
      line = piece;
    } else {
      line += piece;
    }
  }
  lines.push(line);
  if (lines.some((text) => Buffer.byteLength(text, 'utf8') > MAX_LINE_OCTETS)) {
    throw new SmtpProtocolError('EINPUT', `header field ${name} has a line longer than ${MAX_LINE_OCTETS} octets`);
  }
  const raw = Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
  return { name, key: name.toLowerCase(), value, raw };
}

/**
 * The transmitted header block: every field's raw bytes in order, then CRLF
 * (the empty line that ends the headers). A field whose raw bytes lack a final
 * line end (the last line of a message without body or final newline) gets
 * CRLF, so the empty line stays an empty line.
 */
export function serializeHeaders(fields: readonly HeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    parts.push(field.raw);
    if (field.raw[field.raw.length - 1] !== LF) parts.push(CRLF);
  }
  parts.push(CRLF);
  return Buffer.concat(parts);
}

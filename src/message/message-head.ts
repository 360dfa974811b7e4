/**
 * The start of a message, read as far as its header block goes, and the
 * line-end rule that keeps header injection out (SPEC §6):
 *
 * - A message's line ends are those of its first line: CRLF, LF, or CR alone.
 *   A message whose lines end in CR alone (old Mac files, some generators) is
 *   read with CR as its line end, as Emacs reads it.
 * - Inside the header block every line end must be of that kind. A lone CR
 *   or LF in a CRLF block, a CR in an LF block, an LF in a CR block: that is
 *   how user input with a line break smuggles `RCPT TO:<evil>` or a `Bcc:`
 *   into a header (the wire turns every bare CR or LF into CRLF), so it is
 *   refused with EINPUT naming the field and line, before anything is sent.
 *   The body may mix line ends; they all go out as CRLF.
 *
 * Reading a stream is linear: chunks are appended once to a growing buffer
 * and only the new lines are scanned, up to MAX_HEADER_BYTES.
 */
import { SmtpProtocolError } from '../errors.js';
import { crlfClean } from '../wire/line-ends.js';
import { findHeaderEnd, MAX_HEADER_BYTES } from './header-block.js';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
/** RFC 5322 §2.1.1: a header line has at most 998 octets; past that only a line end decides anything. */
const LONG_LINE = 1000;

export type LineEndKind = 'crlf' | 'lf' | 'cr';

/** The start of a message, with its header block in LF or CRLF form. */
export interface Head {
  /** The bytes read (a CR-ended message with its CRs made LF: the same length, the same offsets). */
  readonly bytes: Buffer;
  readonly kind: LineEndKind;
}

/**
 * How the first line ends; undefined while `buf` ends before that shows (no line end yet, or a CR as the last byte).
 */
export function firstLineEnd(buf: Buffer, complete: boolean): LineEndKind | undefined {
  const lf = buf.indexOf(LF);
  // A CR before the first LF (looked for on the first line only: an LF message of 20 MB is not scanned for CR).
  const cr =
    lf === -1 ? buf.indexOf(CR) : lf > FIRST_LINE_LOOP_BYTES ? buf.subarray(0, lf).indexOf(CR) : firstCr(buf, lf);
  if (cr === -1) return lf !== -1 || complete ? 'lf' : undefined;
  if (cr + 1 < buf.length) return buf[cr + 1] === LF ? 'crlf' : 'cr';
  return complete ? 'cr' : undefined;
}

/** A first line up to this long is looked through byte by byte; a longer one with a native search of a view of it. */
const FIRST_LINE_LOOP_BYTES = 256;

/** The first CR before `end`, or -1 (a loop: the first line is short, and a view of it costs more). */
function firstCr(buf: Buffer, end: number): number {
  for (let i = 0; i < end; i++) if (buf[i] === CR) return i;
  return -1;
}

/** A message in memory as a Head. */
export function headOf(bytes: Buffer): Head {
  const kind = firstLineEnd(bytes, true) ?? 'lf';
  return kind === 'cr' ? crOrNot(bytes, crToLf(bytes)) : { bytes, kind };
}

/**
 * A message whose first line ends in a bare CR is CR-ended only if no LF
 * comes before its header block ends that way (nor anywhere, when that end
 * is a line that is not a field, as an injected `MAIL FROM:<...>` line is).
 * Otherwise its line ends are those of its first LF, and the bare CR on its
 * first line is what checkHeaderLineEnds refuses.
 */
function crOrNot(original: Buffer, converted: Buffer): Head {
  const end = findHeaderEnd(converted, true);
  const lf = original.indexOf(LF);
  if (end === undefined || lf === -1 || (lf >= end.bodyStart && end.kind !== 'not-a-field'))
    return { bytes: converted, kind: 'cr' };
  return { bytes: original, kind: lf > 0 && original[lf - 1] === CR ? 'crlf' : 'lf' };
}

/** A copy with every CR made LF. */
function crToLf(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  for (let at = copy.indexOf(CR); at !== -1; at = copy.indexOf(CR, at + 1)) copy[at] = LF;
  return copy;
}

/**
 * Checks the line ends of the header block [0, bodyStart) against the
 * message's kind (see the module comment); throws EINPUT naming the field
 * and the line. One pass over the header bytes.
 */
export function checkHeaderLineEnds(head: Head, bodyStart: number): void {
  const { bytes, kind } = head;
  if (kind === 'cr') return; // no LF before bodyStart (crOrNot), and its CRs are LFs now
  // The usual cases without a byte loop (about half the time it took on the bench's 2 KB message): no CR at all
  // before the body of an LF message; every line end CRLF in a CRLF one.
  if (kind === 'lf') {
    const cr = bytes.indexOf(CR);
    if (cr === -1 || cr >= bodyStart) return;
  } else if (crlfClean(bytes.subarray(0, bodyStart))) {
    return;
  }
  for (let i = 0; i < bodyStart; i++) {
    const byte = bytes[i];
    if (byte === CR) {
      if (kind === 'crlf' && bytes[i + 1] === LF) i++;
      else throw lineBreakError(bytes, i, 'CR', kind === 'crlf' ? 'CRLF' : 'LF');
    } else if (byte === LF && kind === 'crlf') {
      throw lineBreakError(bytes, i, 'LF', 'CRLF');
    }
  }
}

function lineBreakError(bytes: Buffer, at: number, found: string, expected: string): SmtpProtocolError {
  // Line numbers and the field counted in the message's own lines (LF-ended here, whatever it came with).
  let line = 1;
  let lineStart = 0;
  for (let i = bytes.indexOf(LF); i !== -1 && i < at; i = bytes.indexOf(LF, i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const field = fieldAround(bytes, lineStart);
  const where = field === undefined ? `header line ${line}` : `the ${field} field (header line ${line})`;
  return new SmtpProtocolError(
    'EINPUT',
    `${where} contains a lone ${found} where the other header lines end with ${expected}: ` +
      'a line break inside a header field is refused (header injection); end every header line the same way',
  );
}

/** The name of the field whose line (or continuation line) starts at `lineStart`. */
function fieldAround(bytes: Buffer, lineStart: number): string | undefined {
  let start = lineStart;
  while (start > 0 && (bytes[start] === SPACE || bytes[start] === TAB)) {
    const previous = bytes.lastIndexOf(LF, start - 2);
    start = previous === -1 ? 0 : previous + 1;
  }
  const colon = bytes.indexOf(COLON, start);
  const end = bytes.indexOf(LF, start);
  if (colon === -1 || (end !== -1 && colon > end)) return undefined;
  const name = bytes.toString('latin1', start, colon);
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name) ? name : undefined;
}

/**
 * Reads `iterator` until its header block is in hand (or the stream ends),
 * appending each chunk once and scanning only the lines not yet scanned.
 * Throws EINPUT past MAX_HEADER_BYTES without an end.
 */
export async function readHead(iterator: AsyncIterator<Buffer>): Promise<Head> {
  const original = new GrowingBuffer();
  /** While the message looks CR-ended: the same bytes with CR made LF. */
  let converted: GrowingBuffer | undefined;
  let kind: LineEndKind | undefined;
  let scanFrom = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    const chunk = next.value;
    const before = original.length;
    original.append(chunk);
    converted?.append(chunk);
    if (kind === undefined) {
      // Nothing before held a line end (but maybe a CR as its last byte): only the new bytes need looking at.
      kind = firstLineEnd(original.view.subarray(Math.max(0, before - 1)), false);
      if (kind === 'cr') {
        converted = new GrowingBuffer();
        converted.append(original.view);
      }
    }
    if (kind === undefined) {
      if (original.length >= MAX_HEADER_BYTES)
        throw new SmtpProtocolError('EINPUT', `the message headers do not end within ${MAX_HEADER_BYTES} bytes`);
      continue;
    }
    const view = converted?.crToLf() ?? original.view;
    // A long unfinished line is decided only by its line end: no rescan of it for every chunk (linear time).
    if (view.length - scanFrom > LONG_LINE && view.indexOf(LF, Math.max(scanFrom, before)) === -1) {
      if (view.length >= MAX_HEADER_BYTES)
        throw new SmtpProtocolError('EINPUT', `the message headers do not end within ${MAX_HEADER_BYTES} bytes`);
      continue;
    }
    const end = findHeaderEnd(view, false, scanFrom);
    if (end === undefined) {
      scanFrom = view.lastIndexOf(LF) + 1;
      continue;
    }
    if (converted === undefined || end.kind !== 'not-a-field' || original.view.indexOf(LF) !== -1) break;
    // CR-ended so far, up to a line that is not a field (an injected `MAIL FROM:<...>` looks so): whether the
    // message is CR-ended shows only later, so read on as if it were LF-ended (its first line runs to an LF).
    converted = undefined;
    kind = 'lf';
    scanFrom = 0;
  }
  const bytes = original.view;
  if (firstLineEnd(bytes, true) !== 'cr') return { bytes, kind: kind ?? firstLineEnd(bytes, true) ?? 'lf' };
  return crOrNot(bytes, converted?.crToLf() ?? crToLf(bytes));
}

/**
 * Bytes appended into one buffer that doubles when full: each byte is copied a bounded number of times. The first
 * chunk is only looked at, not copied, until a second one comes or its CRs are to be changed: a header block usually
 * ends within the first chunk, and a file's first chunk can be 1 MiB (a copy of it, into memory the process had
 * just handed back, took 3-4 ms on the bench machine: the 20 MB file cell spent a fifth of its time there).
 */
class GrowingBuffer {
  #bytes: Buffer = Buffer.alloc(0);
  #length = 0;
  /** #bytes is the caller's first chunk, not ours to write to. */
  #borrowed = false;
  /** Bytes before this offset have had their CRs made LF (crToLf). */
  #converted = 0;

  get length(): number {
    return this.#length;
  }

  get view(): Buffer {
    return this.#bytes.subarray(0, this.#length);
  }

  append(chunk: Buffer): void {
    if (this.#length === 0) {
      this.#bytes = chunk;
      this.#length = chunk.length;
      this.#borrowed = true;
      return;
    }
    const needed = this.#length + chunk.length;
    if (this.#borrowed || needed > this.#bytes.length) this.#own(needed);
    chunk.copy(this.#bytes, this.#length);
    this.#length = needed;
  }

  /** Makes every CR appended since the last call an LF; returns the view. */
  crToLf(): Buffer {
    if (this.#borrowed) this.#own(this.#length);
    const view = this.view;
    for (let at = view.indexOf(CR, this.#converted); at !== -1; at = view.indexOf(CR, at + 1)) view[at] = LF;
    this.#converted = this.#length;
    return view;
  }

  /** Moves the bytes into a buffer of our own with room for `needed`. */
  #own(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#bytes.length * 2, 16 * 1024));
    this.#bytes.copy(grown, 0, 0, this.#length);
    this.#bytes = grown;
    this.#borrowed = false;
  }
}

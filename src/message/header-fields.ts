/**
 * The fields of a header block, found by parseHeaders: one latin1 string of
 * the block, each field's name at once, its value and raw bytes only when asked.
 */
import { SmtpProtocolError } from '../errors.js';
import { fieldNameEnd, type HeaderField } from './header-block.js';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Splits a header block (bytes [0, headerEnd) of `block`, from findHeaderEnd)
 * into fields in order, each with its continuation lines (RFC 5322 §2.2.3).
 * A line that is neither a field nor a continuation throws EINPUT. `ascii`: whether the block is all ASCII, when the
 * caller knows already (else it is found here).
 */
export function parseHeaders(block: Buffer, headerEnd = block.length, ascii?: boolean): HeaderField[] {
  // One latin1 string of the block (a byte per character, so string offsets are byte offsets):
  // lines are found by string search, with no native call or Buffer view per line.
  const text = block.toString('latin1', 0, headerEnd);
  const utf8 = ascii === undefined ? NON_ASCII.test(text) : !ascii;
  const fields: HeaderField[] = [];
  const length = text.length;
  let start = -1;
  let colon = -1;
  let pos = 0;
  while (pos < length) {
    const lf = text.indexOf('\n', pos);
    const next = lf === -1 ? length : lf + 1;
    const first = text.charCodeAt(pos);
    if ((first === SPACE || first === TAB) && start >= 0) {
      pos = next; // a continuation line
      continue;
    }
    // latin1 text: its offsets are the block's byte offsets.
    const colonAt = fieldNameEnd(block, pos, lf === -1 ? length : lf);
    if (colonAt < 0) {
      throw new SmtpProtocolError('EINPUT', `line at offset ${pos} of the header block is not a header field`);
    }
    if (start >= 0) fields.push(new ParsedField(block, text, start, colon, pos, utf8));
    start = pos;
    colon = colonAt;
    pos = next;
  }
  if (start >= 0) fields.push(new ParsedField(block, text, start, colon, length, utf8));
  return fields;
}

/**
 * A field found by parseHeaders: its name at once, its value and raw bytes
 * only when asked for (most fields are only looked up by name).
 */
class ParsedField implements HeaderField {
  readonly name: string;
  #key: string | undefined;
  readonly #block: Buffer;
  /** The block as latin1 (a character per byte). */
  readonly #text: string;
  readonly #start: number;
  readonly #end: number;
  readonly #colon: number;
  /** The block has non-ASCII bytes: values are decoded as UTF-8. */
  readonly #utf8: boolean;

  constructor(block: Buffer, text: string, start: number, colon: number, end: number, utf8: boolean) {
    this.#block = block;
    this.#text = text;
    this.#start = start;
    this.#end = end;
    this.#utf8 = utf8;
    this.#colon = colon;
    this.name = text.slice(start, colon);
  }

  get key(): string {
    return (this.#key ??= this.name.toLowerCase());
  }

  get value(): string {
    const text = this.#text;
    const colon = this.#colon;
    let stop = this.#end;
    if (text.charCodeAt(stop - 1) === LF) stop--;
    if (text.charCodeAt(stop - 1) === CR) stop--;
    const from = text.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
    // Unfolding removes the line ends, keeping the whitespace after them; the one space after the colon goes.
    const folded = text.indexOf('\n', colon + 1);
    const value =
      from >= stop
        ? ''
        : folded === -1 || folded >= stop
          ? text.slice(from, stop)
          : unfold(text.slice(colon + 1, stop));
    return this.#utf8 ? Buffer.from(value, 'latin1').toString('utf8') : value;
  }

  get raw(): Buffer {
    return this.#block.subarray(this.#start, this.#end);
  }
}

function unfold(latin1: string): string {
  const joined = latin1.replace(/\r?\n/g, '');
  return joined.charCodeAt(0) === SPACE ? joined.slice(1) : joined;
}

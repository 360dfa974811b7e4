/**
 * DKIM canonicalization (RFC 6376 §3.4), on bytes and without I/O: header fields "simple" (as they are) or "relaxed"
 * (name lower-cased, unfolded, runs of WSP made one space, WSP around the colon and at the end removed), and the body,
 * streamed, "simple" (empty lines at the end removed) or "relaxed" (WSP runs made one space, WSP at the ends of lines
 * and empty lines at the end removed).
 *
 * Both work on the message as it goes on the wire: every line end CRLF. The body canonicalizer takes the body as given
 * and makes its line ends CRLF exactly as the DATA encoder does (wire/data-encoder.ts: a bare CR, a bare LF and a CRLF
 * each become one CRLF), so that the hash is over the bytes the server receives, whatever the caller's line ends.
 */
import type { Hash } from 'node:crypto';
import { crlfClean } from '../wire/line-ends.js';

export type CanonicalizationKind = 'simple' | 'relaxed';

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const CRLF = Buffer.from('\r\n', 'latin1');
/** Many CRLFs, to hash a run of empty lines in few updates. */
const CRLF_RUN = Buffer.from('\r\n'.repeat(4096), 'latin1');

/** A header block (or field) with every line end made CRLF: a bare CR, a bare LF and a CRLF each become one CRLF. */
export function crlfLines(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1');
  return /\r(?!\n)|(?<!\r)\n/.test(text) ? Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1') : bytes;
}

/**
 * One header field (its bytes with CRLF line ends, its own line end included) as the header hash takes it: "simple"
 * unchanged, "relaxed" as `name:value` + CRLF (RFC 6376 §3.4.2). Latin1 keeps every byte as one character, so raw
 * UTF-8 (RFC 6532) passes unchanged.
 */
export function canonicalHeader(field: Buffer, kind: CanonicalizationKind): Buffer {
  if (kind === 'simple') return field;
  const text = field.toString('latin1');
  const colon = text.indexOf(':');
  const name = text
    .slice(0, colon)
    .replace(/[\t ]+$/, '')
    .toLowerCase();
  const value = text
    .slice(colon + 1)
    .replace(/\r\n/g, '')
    .replace(/[\t ]+/g, ' ')
    .replace(/^ | $/g, '');
  return Buffer.from(`${name}:${value}\r\n`, 'latin1');
}

/**
 * The body canonicalization of RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed), streamed: push() the body in chunks of
 * any size, then end(); the canonical bytes go to `hash` as they are known. Empty lines are held (as a count) until a
 * line with text follows, since empty lines at the end are removed; a relaxed run of WSP is held until text follows on
 * its line, since WSP at the end of a line is removed. Nothing else is held, so memory stays constant.
 */
export class BodyCanonicalizer {
  readonly #relaxed: boolean;
  readonly #hash: Pick<Hash, 'update'>;
  /** Line ends seen and not yet hashed (the empty lines, and the end of the last line with text). */
  #heldLineEnds = 0;
  /** relaxed: WSP seen on the current line, not yet hashed. */
  #heldSpace = false;
  /** Anything but line ends was hashed. */
  #text = false;
  /** The last byte of the previous chunk was a CR: an LF at the start of this one belongs to it. */
  #afterCr = false;
  /** Reused output room for relaxed chunks. */
  #out: Buffer = Buffer.alloc(0);

  constructor(kind: CanonicalizationKind, hash: Pick<Hash, 'update'>) {
    this.#relaxed = kind === 'relaxed';
    this.#hash = hash;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#relaxed) this.#pushRelaxed(chunk);
    else this.#pushSimple(chunk);
  }

  /** The end of the body: the last line end (a body that does not end with one gets one; RFC 6376 §3.4.3, §3.4.4). */
  end(): void {
    if (this.#text) this.#hash.update(CRLF);
    else if (!this.#relaxed) this.#hash.update(CRLF); // simple: an empty body is one CRLF
    this.#heldLineEnds = 0;
  }

  /** Hashes the held line ends: text follows them. */
  #release(): void {
    hashLineEnds(this.#hash, this.#heldLineEnds);
    this.#heldLineEnds = 0;
  }

  /**
   * simple: the text between line ends is hashed as it is, in runs; each line end (whatever its form) is counted and
   * hashed as CRLF when text follows it.
   */
  #pushSimple(chunk: Buffer): void {
    const length = chunk.length;
    // A chunk boundary between a CR and its LF keeps the fast path (as in the DATA encoder): the LF that completes
    // the last chunk's CR is skipped, and a CR that ends this chunk is one more line end, its LF owed to the next.
    const from = this.#afterCr && chunk[0] === LF ? 1 : 0;
    const endsCr = chunk[length - 1] === CR;
    const stop = endsCr ? length - 1 : length;
    if ((from === 1 || !this.#afterCr) && crlfClean(chunk.subarray(from, stop))) {
      // Line ends all CRLF already: one update up to the last text, the CRLFs after it held.
      let end = stop;
      while (end - from >= 2 && chunk[end - 1] === LF) end -= 2;
      if (end > from) {
        this.#release();
        this.#hash.update(chunk.subarray(from, end));
        this.#text = true;
      }
      this.#heldLineEnds += (stop - end) / 2 + (endsCr ? 1 : 0);
      this.#afterCr = endsCr;
      return;
    }
    let pos = 0;
    if (this.#afterCr && chunk[0] === LF) pos = 1;
    this.#afterCr = false;
    let nextCr = chunk.indexOf(CR, pos);
    let nextLf = chunk.indexOf(LF, pos);
    while (pos < length) {
      if (nextCr !== -1 && nextCr < pos) nextCr = chunk.indexOf(CR, pos);
      if (nextLf !== -1 && nextLf < pos) nextLf = chunk.indexOf(LF, pos);
      const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf);
      const stop = end === -1 ? length : end;
      if (stop > pos) {
        this.#release();
        this.#hash.update(chunk.subarray(pos, stop));
        this.#text = true;
      }
      if (end === -1) return;
      this.#heldLineEnds++;
      pos = end + 1;
      if (chunk[end] === CR) {
        if (pos === length) this.#afterCr = true;
        else if (chunk[pos] === LF) pos++;
      }
    }
  }

  /** relaxed: byte by byte, into a reused buffer hashed once per chunk. */
  #pushRelaxed(chunk: Buffer): void {
    const length = chunk.length;
    // At most two bytes out per byte in (a bare LF becomes CRLF), and a held space; line ends held from earlier
    // chunks are hashed apart when they do not fit.
    const room = length * 2 + 2;
    if (this.#out.length < room) this.#out = Buffer.allocUnsafe(Math.max(room, 64 * 1024));
    const out = this.#out;
    let n = 0;
    let held = this.#heldLineEnds;
    let space = this.#heldSpace;
    let text = this.#text;
    let pos = 0;
    if (this.#afterCr && chunk[0] === LF) pos = 1;
    this.#afterCr = false;
    for (; pos < length; pos++) {
      const byte = chunk[pos] as number;
      if (byte === SPACE || byte === TAB) {
        space = true;
      } else if (byte === CR || byte === LF) {
        held++;
        space = false; // WSP at the end of a line is removed
        if (byte === CR) {
          if (pos + 1 === length) this.#afterCr = true;
          else if (chunk[pos + 1] === LF) pos++;
        }
      } else {
        if (held > 0) {
          if (n + held * 2 + 2 > out.length) {
            // Empty lines held from earlier chunks: more than this chunk's room.
            this.#hash.update(out.subarray(0, n));
            n = 0;
            hashLineEnds(this.#hash, held);
            held = 0;
          }
          for (; held > 0; held--) {
            out[n++] = CR;
            out[n++] = LF;
          }
        }
        if (space) {
          out[n++] = SPACE;
          space = false;
        }
        out[n++] = byte;
        text = true;
      }
    }
    if (n > 0) this.#hash.update(out.subarray(0, n));
    this.#heldLineEnds = held;
    this.#heldSpace = space;
    this.#text = text;
  }
}

/** `count` CRLFs into the hash. */
function hashLineEnds(hash: Pick<Hash, 'update'>, count: number): void {
  for (let left = count; left > 0; left -= CRLF_RUN.length / 2) {
    hash.update(left * 2 >= CRLF_RUN.length ? CRLF_RUN : CRLF_RUN.subarray(0, left * 2));
  }
}

/**
 * Line ends of a message in memory, measured before it is sent: whether
 * every one is CRLF already (then the bytes go out as they are), and the
 * size once they all are (the SIZE= value, RFC 1870).
 */

import { isAscii } from 'node:buffer';
import { SmtpProtocolError } from '../errors.js';
import { simdCrlfClean } from './crlf-simd.js';

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
/** Every byte of a 32-bit word, for the "has a byte below 14" test. */
const ONES_14 = 0x0e0e0e0e;
const HIGH_BITS = 0x80808080 | 0;

/**
 * From this size on a message is checked with SIMD when available (crlf-simd.ts), copy into its memory included:
 * on the bench machine 89 against 137 ns at 244 bytes, 259 against 643 ns at 2 KB, about 5 times faster on MBs;
 * even at 108 bytes, 68 against 96 ns.
 */
const SIMD_MIN_BYTES = 256;

/**
 * True when every CR is followed by LF, every LF follows a CR, and there is
 * no NUL: the message needs no line-end repair.
 */
export function crlfClean(message: Buffer): boolean {
  return (message.length >= SIMD_MIN_BYTES ? simdCrlfClean(message) : undefined) ?? wordCrlfClean(message);
}

/**
 * crlfClean in JavaScript. Reads four bytes at a time and looks at single
 * bytes only in words holding a byte below 14 (CR, LF, NUL, TAB...), so a
 * line costs a few word tests rather than a native search.
 */
export function wordCrlfClean(message: Buffer): boolean {
  const length = message.length;
  // Bytes up to the first 4-aligned address one at a time, then whole words, then the rest.
  const head = Math.min((4 - (message.byteOffset & 3)) & 3, length);
  const words = (length - head) >>> 2;
  const view = words > 0 ? new Int32Array(message.buffer, message.byteOffset + head, words) : undefined;
  let crPending = false;
  let from = 0; // the bytes [from, to) are looked at one at a time
  let to = head;
  let w = 0; // the next word
  for (;;) {
    for (let i = from; i < to; i++) {
      const byte = message[i] as number;
      if (crPending) {
        if (byte !== LF) return false;
        crPending = false;
      } else if (byte === CR) crPending = true;
      else if (byte === LF || byte === NUL) return false;
    }
    if (view === undefined || w === words) {
      if (to === length) return !crPending; // a CR at the very end has no LF
      from = head + words * 4;
      to = length;
      continue;
    }
    // Skip words with no byte below 14 (the classic "has less" test is exact about whether there is one).
    let word = view[w] as number;
    while ((((word - ONES_14) | 0) & ~word & HIGH_BITS) === 0) {
      if (crPending) return false; // a CR followed by a byte other than LF
      if (++w === words) break;
      word = view[w] as number;
    }
    if (w === words) {
      from = to = 0; // every word passed the test: only the bytes after them are left
      continue;
    }
    from = head + w * 4;
    to = from + 4;
    w++;
  }
}

/**
 * Octets of the message once its line ends are CRLF, before dot-stuffing and
 * without the terminator: the SIZE= value of MAIL FROM (RFC 1870 §3). It does
 * not look for NUL bytes; the encoder rejects those.
 */
export function normalizedSize(message: Buffer): number {
  let size = message.length;
  for (let at = message.indexOf(LF); at !== -1; at = message.indexOf(LF, at + 1)) {
    if (at === 0 || message[at - 1] !== CR) size += 1; // bare LF gains a CR
  }
  for (let at = message.indexOf(CR); at !== -1; at = message.indexOf(CR, at + 1)) {
    if (message[at + 1] !== LF) size += 1; // bare CR gains an LF
  }
  return size;
}

/**
 * A message must not hold NUL (RFC 5321 §4.5.2 text; servers cut or refuse
 * it): EINPUT naming the offset of the first one, `base` being where `bytes`
 * start in the message.
 */
export function refuseNul(bytes: Buffer, base = 0): void {
  const at = bytes.indexOf(NUL);
  if (at !== -1) throw nulError(base + at);
}

export function nulError(offset: number): SmtpProtocolError {
  return new SmtpProtocolError('EINPUT', `the message contains a NUL byte at offset ${offset}`);
}

/**
 * {@link normalizedSize} of a message that arrives in chunks (spooled from
 * standard input, say), with what else SIZE and BODY need: whether it has an
 * octet >= 0x80 and where its first NUL is. A CR at the end of a chunk is
 * judged when the next chunk (or the end) shows what follows it.
 */
export class LineEndMeter {
  #size = 0;
  #eightBit = false;
  #nulAt = -1;
  #offset = 0;
  #crPending = false;
  #lastWasCr = false;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let size = chunk.length;
    if (this.#crPending && chunk[0] !== LF) size += 1; // the CR that ended the last chunk was bare
    for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) {
      const afterCr = at === 0 ? this.#lastWasCr : chunk[at - 1] === CR;
      if (!afterCr) size += 1;
    }
    for (let at = chunk.indexOf(CR); at !== -1; at = chunk.indexOf(CR, at + 1)) {
      if (at + 1 < chunk.length && chunk[at + 1] !== LF) size += 1;
    }
    this.#crPending = this.#lastWasCr = chunk[chunk.length - 1] === CR;
    this.#size += size;
    if (!this.#eightBit && !isAscii(chunk)) this.#eightBit = true;
    if (this.#nulAt === -1) {
      const nul = chunk.indexOf(NUL);
      if (nul !== -1) this.#nulAt = this.#offset + nul;
    }
    this.#offset += chunk.length;
  }

  /** The normalised size of everything pushed (a CR at the very end counts as bare). */
  get size(): number {
    return this.#size + (this.#crPending ? 1 : 0);
  }

  get eightBit(): boolean {
    return this.#eightBit;
  }

  /** Offset of the first NUL, or -1. */
  get nulAt(): number {
    return this.#nulAt;
  }
}

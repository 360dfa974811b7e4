/**
 * Line ends of a message in memory, measured before it is sent: whether
 * every one is CRLF already (then the bytes go out as they are), and the
 * size once they all are (the SIZE= value, RFC 1870).
 */

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
/** Every byte of a 32-bit word, for the "has a byte below 14" test. */
const ONES_14 = 0x0e0e0e0e;
const HIGH_BITS = 0x80808080 | 0;

/**
 * True when every CR is followed by LF, every LF follows a CR, and there is
 * no NUL: the message needs no line-end repair. Reads four bytes at a time
 * and looks at single bytes only in words holding a byte below 14 (CR, LF,
 * NUL, TAB...), so a line costs a few word tests rather than a native search.
 */
export function crlfClean(message: Buffer): boolean {
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

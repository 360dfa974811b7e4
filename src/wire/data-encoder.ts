/**
 * The SMTP DATA encoder (RFC 5321 §4.5.2, §2.3.8): what goes on the wire
 * after the server's 354, and (without dot-stuffing) in BDAT chunks.
 *
 * Every bare LF, every bare CR and every CRLF becomes exactly one CRLF, so no
 * "<CR><LF>.<CR><LF>" can be hidden in a body by way of line ends the server
 * reads differently from us (SMTP smuggling, CVE-2023-51764 and kin). Every
 * line starting with "." gets one more "." in front, and the message ends
 * with CRLF "." CRLF. Every path of message bytes to the wire goes through
 * this file: DataEncoder for a stream, MessageEncoder for a message in
 * memory (which decides itself whether its line ends need DataEncoder).
 */
import { Buffer, isAscii } from 'node:buffer';
import { SmtpProtocolError } from '../errors.js';
import { crlfClean, normalizedSize, refuseNul } from './line-ends.js';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

const EMPTY = Buffer.alloc(0);
/** A line that starts with a dot, in CRLF text. */
const LF_DOT = Buffer.from('\n.', 'latin1');
/** The terminator when the output so far ends with CRLF (or is empty: the DATA line ended with one). */
const TERMINATOR_AT_LINE_START = Buffer.from('.\r\n', 'latin1');
/** The terminator when the last line has no line end yet. */
const TERMINATOR_AFTER_TEXT = Buffer.from('\r\n.\r\n', 'latin1');
/** The terminator when a CR was written at the end of the last chunk and its LF is still owed. */
const TERMINATOR_AFTER_CR = Buffer.from('\n.\r\n', 'latin1');

/**
 * Streamed chunks from this size on are first checked for clean CRLF line ends, and a clean one only searched for dot
 * lines (DATA) or passed as it is (BDAT). Measured with a 20 MB file read 1 MiB at a time, at steady state on the
 * bench machine: DATA from about 400 to 500 MB/s, BDAT from about 700 to 830 MB/s.
 */
export const CLEAN_CHECK_MIN_BYTES = 16 * 1024;

/** Spare room, as a right shift of the chunk length (1/32), when a chunk must be rewritten. */
const OUTPUT_SLACK_SHIFT = 5;
const OUTPUT_MIN_SLACK_BYTES = 64;

/** The room the encoder starts with when it rewrites a chunk of `length` bytes: a scratch buffer this big is used. */
export function outputCapacity(length: number): number {
  return length + Math.max(length >>> OUTPUT_SLACK_SHIFT, OUTPUT_MIN_SLACK_BYTES);
}

/**
 * The rewritten form of one chunk, made only for chunks that need a change.
 * Works on plain Uint8Array views: their subarray() and set() cost much less
 * per call than Buffer's, which matters at one call per line.
 */
class Output {
  readonly #source: Uint8Array;
  #bytes: Uint8Array;
  #length = 0;

  constructor(chunk: Buffer, scratch: Buffer | undefined) {
    this.#source = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    const capacityBytes = outputCapacity(chunk.length);
    // A caller's reusable buffer when it is big enough (it grows into a new one if the chunk needs more).
    const storage =
      scratch !== undefined && scratch.length >= capacityBytes ? scratch : Buffer.allocUnsafe(capacityBytes);
    this.#bytes = new Uint8Array(storage.buffer, storage.byteOffset, capacityBytes);
  }

  /** Appends chunk[start, end). */
  copy(start: number, end: number): void {
    const count = end - start;
    if (count === 0) return;
    this.#reserve(count);
    this.#bytes.set(this.#source.subarray(start, end), this.#length);
    this.#length += count;
  }

  byte(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  /** The bytes written so far; only the written part, never the uninitialised rest. */
  result(): Buffer {
    return Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset, this.#length);
  }

  #reserve(count: number): void {
    if (this.#length + count <= this.#bytes.length) return;
    const capacityBytes = Math.max(this.#bytes.length * 2, this.#length + count);
    const storage = Buffer.allocUnsafe(capacityBytes);
    const grown = new Uint8Array(storage.buffer, storage.byteOffset, capacityBytes);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }
}

/**
 * Streaming DATA encoder (RFC 5321 §4.5.2). Feed the message with push() in
 * chunks of any size, then call end() once. The concatenation of what they
 * return is byte-identical whatever the chunking.
 *
 * push() may return the very chunk it was given (or a subarray of it) when the
 * chunk needs no change, so a message already in CRLF form with no leading
 * dots passes through without copying. A CR at the end of a chunk is written
 * at once; the LF it needs is owed to the next chunk (which may start with
 * it) or to end(), so nothing is held back.
 *
 * A NUL byte rejects the whole chunk with SmtpProtocolError 'EINPUT': nothing
 * of that chunk is returned and the encoder's state is unchanged.
 */
export class DataEncoder {
  /** false for BDAT (RFC 3030 §2): line ends normalised, no dot-stuffing, no terminator. */
  readonly #stuff: boolean;
  #bytesIn = 0;
  /** The next input byte begins a line (true at first: the DATA line ended with CRLF). */
  #atLineStart = true;
  /** The last byte written was a CR whose LF has not been written yet. */
  #lfOwed = false;
  #ended = false;

  constructor(options: { readonly dotStuffing?: boolean } = {}) {
    this.#stuff = options.dotStuffing ?? true;
  }

  /** Input bytes accepted so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /**
   * The wire bytes for this chunk; may be empty, may be the chunk itself.
   * When the chunk must be rewritten, the result may be written into
   * `scratch` (a buffer the caller reuses once the result has been written).
   */
  push(chunk: Buffer, scratch?: Buffer): Buffer {
    this.#assertOpen();
    const length = chunk.length;
    if (length === 0) return EMPTY;
    // A chunk boundary between a CR and its LF must not send two whole chunks down the line-by-line path (on the
    // bench's 20 MB file read 1 MiB at a time, one boundary of 19 is one): the LF that completes the last chunk's CR
    // passes through, and a CR that ends this chunk is written, its LF owed to the next, as the slow path does.
    const from = this.#lfOwed && chunk[0] === LF ? 1 : 0;
    const end = chunk[length - 1] === CR ? length - 1 : length;
    // crlfClean also finds NUL, so a clean chunk needs no search of its own for one.
    if (end - from >= CLEAN_CHECK_MIN_BYTES && (from === 1 || !this.#lfOwed) && crlfClean(chunk.subarray(from, end))) {
      this.#bytesIn += length;
      const output = this.#pushClean(chunk, scratch, from);
      this.#lfOwed = end < length;
      return output;
    }
    refuseNul(chunk, this.#bytesIn);
    this.#bytesIn += length;

    let output: Output | undefined;
    const out = (): Output => (output ??= new Output(chunk, scratch));
    let runStart = 0; // first input byte not yet copied to output
    let pos = 0; // next input byte to look at
    let atLineStart = this.#atLineStart;
    let lfOwed = false;
    const stuff = this.#stuff;

    if (this.#lfOwed) {
      if (chunk[0] === LF)
        pos = 1; // completes the CRLF: passes through
      else out().byte(LF);
    }
    if (pos < length) {
      if (stuff && atLineStart && chunk[pos] === DOT) {
        out().copy(runStart, pos);
        out().byte(DOT);
        runStart = pos;
      }
      atLineStart = false;
    }

    let nextCR = chunk.indexOf(CR, pos);
    let nextLF = chunk.indexOf(LF, pos);
    for (;;) {
      if (nextCR !== -1 && nextCR < pos) nextCR = chunk.indexOf(CR, pos);
      if (nextLF !== -1 && nextLF < pos) nextLF = chunk.indexOf(LF, pos);
      if (nextCR !== -1 && (nextLF === -1 || nextCR < nextLF)) {
        if (nextCR + 1 === length) {
          atLineStart = true;
          lfOwed = true;
          break;
        }
        if (chunk[nextCR + 1] === LF) {
          pos = nextCR + 2;
        } else {
          // Bare CR: keep it, add its LF.
          pos = nextCR + 1;
          out().copy(runStart, pos);
          out().byte(LF);
          runStart = pos;
        }
      } else if (nextLF !== -1) {
        // Bare LF: add its CR; the LF itself starts the next run.
        out().copy(runStart, nextLF);
        out().byte(CR);
        runStart = nextLF;
        pos = nextLF + 1;
      } else {
        break;
      }
      if (pos === length) {
        atLineStart = true;
        break;
      }
      if (stuff && chunk[pos] === DOT) {
        out().copy(runStart, pos);
        out().byte(DOT);
        runStart = pos;
      }
    }

    this.#atLineStart = atLineStart;
    this.#lfOwed = lfOwed;
    if (output === undefined) return chunk;
    output.copy(runStart, length);
    return output.result();
  }

  /**
   * A chunk whose line ends are all CRLF already from `from` on (before it, at most the LF that completes the CR the
   * last chunk ended with): only dots to stuff, found with one search per dot line instead of two per line. With
   * BDAT, or without dot lines, the chunk itself.
   */
  #pushClean(chunk: Buffer, scratch: Buffer | undefined, from: number): Buffer {
    let output: Output | undefined;
    let runStart = 0;
    if (this.#stuff) {
      if (this.#atLineStart && chunk[from] === DOT) {
        output = new Output(chunk, scratch);
        output.copy(0, from);
        output.byte(DOT);
        runStart = from;
      }
      for (let at = chunk.indexOf(LF_DOT, from); at !== -1; at = chunk.indexOf(LF_DOT, at + 2)) {
        output ??= new Output(chunk, scratch);
        output.copy(runStart, at + 1);
        output.byte(DOT);
        runStart = at + 1;
      }
    }
    const last = chunk[chunk.length - 1];
    this.#atLineStart = last === LF || last === CR; // after a CR, the next byte starts a line once its LF is written
    if (output === undefined) return chunk;
    output.copy(runStart, chunk.length);
    return output.result();
  }

  /**
   * Completes the line end still owed, if any, and appends the terminator so
   * that the wire always reads CRLF "." CRLF at the end (RFC 5321 §4.1.1.4).
   * Without dot-stuffing (BDAT) it only ends the last line with CRLF.
   * The encoder cannot be used afterwards.
   */
  end(): Buffer {
    this.#assertOpen();
    this.#ended = true;
    if (!this.#stuff) {
      if (this.#atLineStart && !this.#lfOwed) return EMPTY; // the usual case: the message ended with its line end
      return Buffer.from(this.#lfOwed ? '\n' : '\r\n', 'latin1');
    }
    const terminator = this.#lfOwed
      ? TERMINATOR_AFTER_CR
      : this.#atLineStart
        ? TERMINATOR_AT_LINE_START
        : TERMINATOR_AFTER_TEXT;
    return Buffer.from(terminator); // a copy: callers may own what we return
  }

  #assertOpen(): void {
    if (this.#ended) throw new SmtpProtocolError('EINPUT', 'the DATA encoder was used after end()');
  }
}

/** The encoder's blocks for a message in memory: back-pressure applies between them. */
export const BLOCK_BYTES = 1 << 20;

/**
 * A message in memory (header block and body) on its way to the wire, in
 * blocks of about BLOCK_BYTES. Its SIZE (RFC 1870: octets with CRLF line
 * ends, before dot-stuffing) is known before anything is sent. When this
 * module finds every line end CRLF already (crlfClean, four bytes at a time,
 * NUL excluded), blocks go as they are but for the dots stuffed: one search
 * per line that starts with a dot, instead of DataEncoder's two searches per
 * line. On the 20 MB bench message the check takes 16 ms, and the DATA cell
 * went from 0.47x to 0.61x of the raw ceiling with it (session 3). Otherwise
 * every block goes through DataEncoder, which repairs line ends.
 */
export class MessageEncoder {
  readonly size: number;
  readonly #pieces: Buffer[];
  readonly #stuff: boolean;
  /** Set when the line ends need repair: then every block goes through it. */
  readonly #repair: DataEncoder | undefined;
  #piece = 0;
  #at = 0;
  #atLineStart = true;
  #ended = false;
  #bytesIn = 0;

  /**
   * `clean`: the caller found head and body CRLF-clean already (crlfClean over the bytes given, NUL included): they are
   * not looked at again. The header block must still end with its line end for the two to join into clean text.
   */
  constructor(
    head: Buffer,
    body: Buffer,
    options: { readonly dotStuffing?: boolean; readonly clean?: boolean | undefined } = {},
  ) {
    this.#stuff = options.dotStuffing ?? true;
    this.#pieces = [head, body];
    const clean =
      (head.length === 0 || head[head.length - 1] === LF) &&
      (options.clean === true || (crlfClean(head) && crlfClean(body)));
    this.#repair = clean ? undefined : new DataEncoder({ dotStuffing: this.#stuff });
    this.size = clean ? head.length + body.length : normalizedSize(head) + normalizedSize(body);
  }

  /** Input octets encoded so far. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Input octets of the block `next` gives next (0 for the terminator). */
  get nextBytes(): number {
    const piece = this.#pieces[this.#piece];
    if (piece !== undefined && this.#at < piece.length) return Math.min(BLOCK_BYTES, piece.length - this.#at);
    const following = this.#pieces[this.#piece + 1];
    return following === undefined ? 0 : Math.min(BLOCK_BYTES, following.length);
  }

  /** True once the block that ends the message (the terminator) has been given. */
  get finished(): boolean {
    return this.#ended;
  }

  /**
   * The next block of wire bytes (the terminator comes last), or undefined
   * when all is done. A rewritten block may be written into `scratch` (see
   * DataEncoder.push). Throws EINPUT for a NUL (found before any byte of its
   * block is given).
   */
  next(scratch?: Buffer): Buffer | undefined {
    while (this.#piece < this.#pieces.length) {
      const piece = this.#pieces[this.#piece] as Buffer;
      if (this.#at >= piece.length) {
        this.#piece++;
        this.#at = 0;
        continue;
      }
      const block = piece.subarray(this.#at, this.#at + BLOCK_BYTES);
      this.#at += block.length;
      this.#bytesIn += block.length;
      return this.#repair !== undefined ? this.#repair.push(block, scratch) : this.#stuffDots(block, scratch);
    }
    if (this.#ended) return undefined;
    this.#ended = true;
    return this.#repair !== undefined ? this.#repair.end() : this.#terminator();
  }

  /** A clean block with one more "." before every line that starts with one. */
  #stuffDots(block: Buffer, scratch: Buffer | undefined): Buffer {
    const atLineStart = this.#atLineStart;
    this.#atLineStart = block[block.length - 1] === LF;
    if (!this.#stuff) return block;
    let output: Output | undefined;
    let runStart = 0;
    if (atLineStart && block[0] === DOT) {
      output = new Output(block, scratch);
      output.byte(DOT);
    }
    for (let at = block.indexOf(LF_DOT); at !== -1; at = block.indexOf(LF_DOT, at + 2)) {
      output ??= new Output(block, scratch);
      output.copy(runStart, at + 1);
      output.byte(DOT);
      runStart = at + 1;
    }
    if (output === undefined) return block;
    output.copy(runStart, block.length);
    return output.result();
  }

  /**
   * What ends a clean message: CRLF "." CRLF (the CRLF only when its last line lacks one); for BDAT, that CRLF alone.
   */
  #terminator(): Buffer {
    if (this.#stuff) return Buffer.from(this.#atLineStart ? TERMINATOR_AT_LINE_START : TERMINATOR_AFTER_TEXT);
    return this.#atLineStart ? EMPTY : Buffer.from('\r\n', 'latin1');
  }
}

/** True when the message has an octet >= 0x80, so it needs BODY=8BITMIME (RFC 6152). */
export function has8bit(message: Buffer): boolean {
  return !isAscii(message);
}

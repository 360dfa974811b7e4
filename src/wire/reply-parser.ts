/**
 * The reply parser (RFC 5321 §4.2): bytes in, complete replies out, no I/O.
 * Bounded: a line, a reply's lines and its octets (a hostile server cannot
 * make the client buffer without limit).
 */
import { isAscii } from 'node:buffer';
import { SmtpProtocolError } from '../errors.js';
import { CONTROLS, escapeControls, type Reply } from './reply.js';

/**
 * Longest reply line accepted, in octets, not counting its line end.
 * RFC 5321 §4.5.3.1.5 sets 512 octets for reply lines; real servers send longer
 * ones, so this is generous, but it is a bound: a hostile server cannot make
 * the client buffer without limit.
 */
export const MAX_LINE_BYTES = 8192;

/** Most lines accepted in one (multi-line) reply; more is a protocol error. */
export const MAX_REPLY_LINES = 1000;

/** Most octets accepted in one (multi-line) reply: what a connection holds for an unfinished reply is bounded. */
export const MAX_REPLY_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const HYPHEN = 0x2d;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DOT = 0x2e;
const QUOTE_LIMIT = 60;

/**
 * Incremental reply parser: bytes in, complete replies out. It does no I/O.
 *
 * Lines end with CRLF; a bare LF is accepted too (a trailing CR is stripped).
 * An empty line, which some servers and proxies send before the greeting or
 * between replies, is skipped.
 * Each line is `DDD` then `-` (more lines follow), or ` ` or the end of the
 * line (last line), then text decoded as UTF-8 (RFC 5321 §4.2.1). Every line
 * of a multi-line reply must carry the same code.
 *
 * Malformed input, a line longer than {@link MAX_LINE_BYTES} (detected while
 * buffering, before its line end arrives) or a reply of more than
 * {@link MAX_REPLY_LINES} lines throws `SmtpProtocolError('EPROTOCOL')`.
 * After that the parser stays failed and throws the same error again: the
 * caller is expected to close the connection.
 */
export class ReplyParser {
  /** Told about each empty line skipped (some servers and proxies send one before the greeting or between replies). */
  readonly #onEmptyLine: (() => void) | undefined;
  /** Bytes of the line not yet ended by LF (copies, never the caller's buffers). */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** Code and text lines of a multi-line reply not yet finished. */
  #pendingCode = 0;
  #pendingLines: string[] = [];
  #pendingBytes = 0;
  #failure: SmtpProtocolError | undefined;

  constructor(onEmptyLine?: () => void) {
    this.#onEmptyLine = onEmptyLine;
  }

  /**
   * Feeds received bytes. Returns every reply this chunk completed, in order
   * (often none or one; several when a server pipelines). Correct whatever
   * the chunk boundaries, down to one byte at a time.
   */
  push(chunk: Buffer): Reply[] {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return this.#consume(chunk);
    } catch (error) {
      if (error instanceof SmtpProtocolError) this.#failure = error;
      throw error;
    }
  }

  /**
   * Bytes received but not yet part of a returned reply: a partial line plus
   * the finished lines of an unfinished multi-line reply. Non-zero right after
   * the reply to STARTTLS means the server (or someone in the path) sent bytes
   * ahead of the TLS handshake: response injection. Nothing received before
   * the handshake may be trusted after it (RFC 3207 §4.2).
   */
  get buffered(): number {
    return this.#partialBytes + this.#pendingBytes;
  }

  #consume(chunk: Buffer): Reply[] {
    const replies: Reply[] = [];
    let start = this.#partialBytes === 0 && isAscii(chunk) ? this.#consumeAscii(chunk, replies) : 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        this.#hold(chunk.subarray(start));
        break;
      }
      const piece = chunk.subarray(start, lf);
      const line = this.#partialBytes === 0 ? piece : Buffer.concat([...this.#partial, piece]);
      const rawBytes = line.length + 1;
      this.#partial = [];
      this.#partialBytes = 0;
      start = lf + 1;
      const reply = this.#line(line, rawBytes);
      if (reply !== undefined) replies.push(reply);
    }
    return replies;
  }

  /**
   * The complete lines of an all-ASCII chunk (the usual case: many pipelined
   * replies at once), read from one latin1 string with no Buffer view per
   * line. A line that is not a plain valid reply line goes to #line, which
   * says what is wrong with it. Returns where the unfinished rest starts.
   */
  #consumeAscii(chunk: Buffer, replies: Reply[]): number {
    const text = chunk.toString('latin1');
    const controls = CONTROLS.test(text);
    let start = 0;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', start)) {
      const end = lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
      const code = codeAt(text, start);
      const separator = text.charCodeAt(start + 3); // CR or LF when the line is only the code
      const plain =
        code !== 0 &&
        end - start <= MAX_LINE_BYTES &&
        (end - start === 3 || separator === HYPHEN || separator === SPACE) &&
        (this.#pendingLines.length === 0 || code === this.#pendingCode) &&
        this.#pendingLines.length < MAX_REPLY_LINES &&
        this.#pendingBytes + lf + 1 - start <= MAX_REPLY_BYTES;
      let reply: Reply | undefined;
      if (!plain) {
        reply = this.#line(chunk.subarray(start, lf), lf + 1 - start);
      } else {
        this.#pendingCode = code;
        const line = text.slice(start + 4, end);
        this.#pendingLines.push(controls || line.includes('\r') ? escapeControls(line) : line);
        this.#pendingBytes += lf + 1 - start;
        if (separator !== HYPHEN) reply = this.#finish(code);
      }
      if (reply !== undefined) replies.push(reply);
      start = lf + 1;
    }
    return start;
  }

  #finish(code: number): Reply {
    const lines = this.#pendingLines;
    this.#pendingLines = [];
    this.#pendingBytes = 0;
    return { code, enhancedCode: enhancedCode(code, lines[0] ?? ''), lines };
  }

  /** Keeps the start of a line, failing as soon as it cannot fit the bound. */
  #hold(rest: Buffer): void {
    // +1: the CR of a CRLF may arrive before its LF.
    if (this.#partialBytes + rest.length > MAX_LINE_BYTES + 1) {
      // Only the quoted head is copied, never the whole oversized input.
      const head = Buffer.concat([...this.#partial, rest], QUOTE_LIMIT + 1);
      throw malformed(`reply line longer than ${MAX_LINE_BYTES} octets`, head);
    }
    this.#partial.push(Buffer.from(rest));
    this.#partialBytes += rest.length;
  }

  /** Parses one line (LF removed); returns the reply when this line ends it. */
  #line(raw: Buffer, rawBytes: number): Reply | undefined {
    const line = raw.length > 0 && raw[raw.length - 1] === CR ? raw.subarray(0, -1) : raw;
    if (line.length === 0) {
      // Not a reply line, but harmless: skipped (and shown to whoever listens), never an error.
      this.#onEmptyLine?.();
      return undefined;
    }
    if (line.length > MAX_LINE_BYTES) {
      throw malformed(`reply line longer than ${MAX_LINE_BYTES} octets`, line);
    }
    const code = parseCode(line);
    const separator = line[3];
    if (separator !== undefined && separator !== HYPHEN && separator !== SPACE) {
      throw malformed('reply code not followed by a space, "-" or the end of the line', line);
    }
    if (this.#pendingLines.length > 0 && code !== this.#pendingCode) {
      throw malformed(`mixed codes in a multi-line reply (${this.#pendingCode} then ${code})`, line);
    }
    if (this.#pendingLines.length >= MAX_REPLY_LINES) {
      throw malformed(`reply longer than ${MAX_REPLY_LINES} lines`, line);
    }
    if (this.#pendingBytes + rawBytes > MAX_REPLY_BYTES) {
      throw malformed(`reply longer than ${MAX_REPLY_BYTES} octets`, line);
    }
    this.#pendingCode = code;
    this.#pendingLines.push(escapeControls(line.subarray(4).toString('utf8')));
    this.#pendingBytes += rawBytes;
    if (separator === HYPHEN) return undefined;
    return this.#finish(code);
  }
}

/** The valid reply code (200..599) starting at `at`, or 0. */
function codeAt(text: string, at: number): number {
  const a = text.charCodeAt(at) - DIGIT_0;
  const b = text.charCodeAt(at + 1) - DIGIT_0;
  const c = text.charCodeAt(at + 2) - DIGIT_0;
  if (!(a >= 2 && a <= 5 && b >= 0 && b <= 9 && c >= 0 && c <= 9)) return 0; // NaN fails too
  return a * 100 + b * 10 + c;
}

/** The three-digit code at the start of a line, 200..599, or a protocol error. */
function parseCode(line: Buffer): number {
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const byte = line[i];
    if (byte === undefined || byte < DIGIT_0 || byte > DIGIT_0 + 9) {
      throw malformed('reply line does not start with a three-digit code', line);
    }
    code = code * 10 + (byte - DIGIT_0);
  }
  if (code < 200 || code > 599) throw malformed(`reply code ${code} out of range 200-599`, line);
  return code;
}

/**
 * The enhanced status code at the start of a reply's first line (RFC 3463 §2: class "." subject "." detail, each
 * number of 1-3 digits, then a space or the end of the line), when its class is the reply code's first digit.
 * Read by character codes: three replies per message on a busy connection (a regular expression here cost about
 * 5 % of the bench's 64-in-flight cell).
 */
function enhancedCode(code: number, firstLine: string): string | undefined {
  const kind = firstLine.charCodeAt(0) - DIGIT_0;
  if (kind !== Math.floor(code / 100) || firstLine.charCodeAt(1) !== DOT) return undefined;
  const subjectEnd = digitsEnd(firstLine, 2);
  if (subjectEnd === 2 || subjectEnd > 5 || firstLine.charCodeAt(subjectEnd) !== DOT) return undefined;
  const detailEnd = digitsEnd(firstLine, subjectEnd + 1);
  if (detailEnd === subjectEnd + 1 || detailEnd > subjectEnd + 4) return undefined;
  if (detailEnd < firstLine.length && firstLine.charCodeAt(detailEnd) !== SPACE) return undefined;
  return firstLine.slice(0, detailEnd);
}

/** Where the run of ASCII digits starting at `at` ends. */
function digitsEnd(text: string, at: number): number {
  let end = at;
  for (let c = text.charCodeAt(end); c >= DIGIT_0 && c <= DIGIT_0 + 9; c = text.charCodeAt(++end));
  return end;
}

/** A protocol error quoting at most the first {@link QUOTE_LIMIT} octets of the line. */
function malformed(problem: string, line: Buffer): SmtpProtocolError {
  const head = line.subarray(0, QUOTE_LIMIT).toString('utf8');
  // JSON.stringify escapes control characters, so the quote is safe to log.
  const quoted = JSON.stringify(head) + (line.length > QUOTE_LIMIT ? '...' : '');
  return new SmtpProtocolError('EPROTOCOL', `Malformed reply from server: ${problem}: ${quoted}`);
}

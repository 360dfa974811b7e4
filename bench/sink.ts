/**
 * The benchmark's SMTP sink, run as its own process (child_process.fork):
 * a minimal server on 127.0.0.1 that accepts everything, PIPELINING and
 * CHUNKING included, and keeps the SHA-256 of every delivered message (what
 * a real server would store: DATA dot-unstuffed without the final ".\r\n",
 * or the BDAT chunks concatenated).
 *
 * It must never be the bottleneck: DATA is scanned with Buffer.indexOf for
 * "\n." only (no per-line work), and the replies to one input chunk go out
 * in one write. Control over IPC: 'reset' clears the counts and the CPU
 * baseline; 'report' answers { messages, bytes, hashes, cpuMs }.
 */
import { createHash, hash as hashOnce, type Hash } from 'node:crypto';
import net from 'node:net';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const NL_DOT = Buffer.from('\n.', 'latin1');
const CR_BYTE = Buffer.from('\r', 'latin1');
const MAX_LINE_BYTES = 4096;
/** The sink stops by itself after this, whatever happens to its parent. */
const LIFETIME_MS = 15 * 60_000;
const EHLO_REPLY = '250-sink\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 1000000000';
const BDAT_COMMAND = /^BDAT (\d+)( LAST)?$/i;
const EMPTY = Buffer.alloc(0);

/** The first four bytes of a command line, lower-cased, as one number: no string per command. */
function verbAt(buf: Buffer, pos: number): number {
  return (
    ((buf[pos] ?? 0) | 0x20) * 0x1000000 +
    (((buf[pos + 1] ?? 0) | 0x20) << 16) +
    (((buf[pos + 2] ?? 0) | 0x20) << 8) +
    ((buf[pos + 3] ?? 0) | 0x20)
  );
}
const VERB = (name: string): number => verbAt(Buffer.from(name, 'latin1'), 0);
const EHLO = VERB('ehlo');
const HELO = VERB('helo');
const RSET = VERB('rset');
const MAIL = VERB('mail');
const RCPT = VERB('rcpt');
const NOOP = VERB('noop');
const DATA = VERB('data');
const BDAT = VERB('bdat');
const QUIT = VERB('quit');

export interface SinkReport {
  readonly messages: number;
  readonly bytes: number;
  readonly hashes: Record<string, number>;
  readonly cpuMs: number;
}

let messages = 0;
let bytes = 0;
let hashes = new Map<string, number>();
let cpuBase = process.cpuUsage();

function delivered(hex: string, size: number): void {
  hashes.set(hex, (hashes.get(hex) ?? 0) + 1);
  messages++;
  bytes += size;
}

/** After a dot at a line start: nothing special yet, the dot seen, the dot and a CR seen (at the end of a chunk). */
type DotState = 'none' | 'dot' | 'dot-cr';

class SinkConnection {
  readonly #socket: net.Socket;
  #mode: 'command' | 'data' | 'bdat' = 'command';
  #pending: Buffer | undefined;
  #inMessage = false;
  /** Created only when a message is not one contiguous piece of one input chunk. */
  #hash: Hash | undefined;
  /** The content not hashed yet: buf[start, end) of one input chunk, extended while contiguous. */
  #segment: Buffer | undefined;
  #segmentStart = 0;
  #segmentEnd = 0;
  #size = 0;
  #chunkLeft = 0;
  #lastChunk = false;
  #lineStart = true;
  #dot: DotState = 'none';
  #closed = false;
  readonly #replies: string[] = [];

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.write('220 sink ESMTP\r\n');
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let pos = 0;
    while (pos < buf.length && !this.#closed) {
      if (this.#mode === 'data') {
        const end = this.#scanData(buf, pos);
        if (end < 0) break;
        pos = end;
        this.#finish();
      } else if (this.#mode === 'bdat') {
        const take = Math.min(this.#chunkLeft, buf.length - pos);
        this.#take(buf, pos, pos + take);
        this.#chunkLeft -= take;
        pos += take;
        if (this.#chunkLeft === 0) this.#endChunk();
      } else {
        const lf = buf.indexOf(LF, pos);
        if (lf < 0) {
          if (buf.length - pos > MAX_LINE_BYTES) this.#quit('500 line too long');
          else this.#pending = Buffer.from(buf.subarray(pos));
          break;
        }
        const end = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
        const start = pos;
        pos = lf + 1;
        this.#command(buf, start, end);
      }
    }
    this.#flush();
  }

  #command(buf: Buffer, start: number, end: number): void {
    switch (end - start >= 4 ? verbAt(buf, start) : 0) {
      case EHLO:
        this.#abandon();
        return this.#reply(EHLO_REPLY);
      case HELO:
        this.#abandon();
        return this.#reply('250 sink');
      case RSET:
        this.#abandon();
        return this.#reply('250 ok');
      case MAIL:
      case RCPT:
      case NOOP:
        return this.#reply('250 ok');
      case DATA:
        this.#begin();
        this.#mode = 'data';
        this.#lineStart = true;
        this.#dot = 'none';
        return this.#reply('354 go');
      case BDAT: {
        const match = BDAT_COMMAND.exec(buf.toString('latin1', start, end));
        if (match === null) return this.#reply('501 syntax: BDAT n [LAST]');
        if (!this.#inMessage) this.#begin();
        this.#chunkLeft = Number(match[1]);
        this.#lastChunk = match[2] !== undefined;
        if (this.#chunkLeft === 0) return this.#endChunk();
        this.#mode = 'bdat';
        return;
      }
      case QUIT:
        return this.#quit('221 bye');
      default:
        return this.#reply('500 unknown command');
    }
  }

  /**
   * Hashes DATA content from `pos`, dot-unstuffed. Returns the offset just
   * after the terminating ".\r\n", or -1 when the chunk ended first.
   */
  #scanData(buf: Buffer, pos: number): number {
    let start = pos;
    let dotAt = -1;
    if (this.#dot === 'dot') {
      if (pos >= buf.length) return -1;
      if (buf[pos] === CR) {
        if (pos + 1 >= buf.length) {
          this.#dot = 'dot-cr';
          return -1;
        }
        if (buf[pos + 1] === LF) return this.#terminated(pos + 2);
      }
      this.#dot = 'none'; // it was a stuffed dot: dropped
    } else if (this.#dot === 'dot-cr') {
      this.#dot = 'none';
      if (buf[pos] === LF) return this.#terminated(pos + 1);
      this.#take(CR_BYTE, 0, 1); // ".\r" then something else: the dot was stuffing, the CR is content
    } else if (this.#lineStart && buf[pos] === DOT) {
      dotAt = pos;
    }
    for (;;) {
      if (dotAt < 0) {
        const hit = buf.indexOf(NL_DOT, start);
        if (hit < 0) {
          this.#take(buf, start, buf.length);
          this.#lineStart = buf[buf.length - 1] === LF;
          return -1;
        }
        dotAt = hit + 1;
      }
      this.#take(buf, start, dotAt);
      const after = dotAt + 1;
      if (after >= buf.length) {
        this.#dot = 'dot';
        return -1;
      }
      if (buf[after] === CR) {
        if (after + 1 >= buf.length) {
          this.#dot = 'dot-cr';
          return -1;
        }
        if (buf[after + 1] === LF) return this.#terminated(after + 2);
      }
      start = after; // a stuffed dot: skipped
      dotAt = -1;
    }
  }

  #terminated(end: number): number {
    this.#dot = 'none';
    this.#lineStart = true;
    return end;
  }

  #take(buf: Buffer, start: number, end: number): void {
    if (end <= start) return;
    this.#size += end - start;
    if (this.#segment === buf && this.#segmentEnd === start) {
      this.#segmentEnd = end;
      return;
    }
    this.#hashSegment();
    this.#segment = buf;
    this.#segmentStart = start;
    this.#segmentEnd = end;
  }

  #hashSegment(): void {
    if (this.#segment === undefined) return;
    this.#hash ??= createHash('sha256');
    this.#hash.update(this.#segment.subarray(this.#segmentStart, this.#segmentEnd));
    this.#segment = undefined;
  }

  #begin(): void {
    this.#inMessage = true;
    this.#hash = undefined;
    this.#segment = undefined;
    this.#size = 0;
  }

  #finish(): void {
    if (this.#inMessage) {
      // One contiguous piece (the common case for small messages): the one-shot hash, no Hash object.
      const segment =
        this.#segment === undefined ? EMPTY : this.#segment.subarray(this.#segmentStart, this.#segmentEnd);
      if (this.#hash === undefined) {
        delivered(hashOnce('sha256', segment, 'hex'), this.#size);
      } else {
        this.#hashSegment();
        delivered(this.#hash.digest('hex'), this.#size);
      }
    }
    this.#reply(`250 ok ${this.#size}`);
    this.#abandon();
  }

  #endChunk(): void {
    this.#mode = 'command';
    if (this.#lastChunk) this.#finish();
    else this.#reply(`250 ok ${this.#size}`);
  }

  #abandon(): void {
    this.#inMessage = false;
    this.#hash = undefined;
    this.#segment = undefined;
    this.#mode = 'command';
  }

  #reply(line: string): void {
    this.#replies.push(line);
  }

  #flush(): void {
    if (this.#replies.length === 0) return;
    this.#socket.write(`${this.#replies.join('\r\n')}\r\n`);
    this.#replies.length = 0;
  }

  #quit(line: string): void {
    this.#reply(line);
    this.#flush();
    this.#closed = true;
    this.#socket.end();
  }
}

function report(): SinkReport {
  const cpu = process.cpuUsage(cpuBase);
  return { messages, bytes, hashes: Object.fromEntries(hashes), cpuMs: (cpu.user + cpu.system) / 1000 };
}

function main(): void {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new Error('bench/sink.js must be started with child_process.fork (it needs the IPC channel)');
  const server = net.createServer((socket) => new SinkConnection(socket));
  setTimeout(() => process.exit(2), LIFETIME_MS).unref();
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'reset') {
      messages = 0;
      bytes = 0;
      hashes = new Map();
      cpuBase = process.cpuUsage();
      send({ type: 'reset-done' });
    } else if (message.type === 'report') {
      send({ type: 'report', report: report() });
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    send({ type: 'ready', port: address.port });
  });
}

main();

/**
 * The benchmark's messages, generated deterministically (a seeded PRNG, never
 * Math.random) with CRLF line ends and a final CRLF, so that the bytes a
 * server stores are exactly the message bytes: the expected SHA-256 of a
 * delivery is the SHA-256 of the message.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

export const WORKLOAD_NAMES = ['small', 'medium', 'large', 'large-file', 'huge-stream'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface Workload {
  readonly name: WorkloadName;
  /** Octets of one message. */
  readonly bytes: number;
  /** Time-boxed (count messages in a window) rather than a fixed number of messages. */
  readonly timeboxed: boolean;
  /** The message bytes when they are held in memory (small, medium, large). */
  readonly buffer: Buffer | undefined;
  /** One message to send: the same Buffer every time, or a fresh stream. */
  message(): Buffer | Readable;
  /** Removes what the workload left on disk. */
  dispose(): void;
}

const LARGE_BYTES = 20_000_000;
const HUGE_BYTES = 200_000_000;
const CHUNK_BYTES = 64 * 1024;
const BLOCK_BYTES = 1 << 20;

/** mulberry32: small, fast, and the same sequence on every run. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore ' +
  'magna aliqua mail server client message header body envelope relay queue transfer protocol simple benchmark'
).split(' ');
const UTF8_PHRASES = [
  'Grüße aus Köln',
  'naïve café crème brûlée',
  '日本語のテキスト',
  'Ελληνικά γράμματα',
  'Привет, мир',
  '✉ 📨 ✓',
  'Ærøskøbing Å',
];

function words(next: () => number, width: number): string {
  let line = '';
  while (line.length < width) line += (line === '' ? '' : ' ') + WORDS[Math.floor(next() * WORDS.length)];
  return line;
}

function headers(fields: readonly string[]): string {
  return (
    [
      'From: Bench Sender <bench@example.org>',
      'To: Sink <sink@example.org>',
      'Date: Mon, 23 Nov 2026 10:00:00 +0000',
      ...fields,
    ]
      .map((field) => `${field}\r\n`)
      .join('') + '\r\n'
  );
}

function smallMessage(): Buffer {
  const next = prng(1);
  let text = headers([
    'Subject: smtpmail benchmark, small',
    'Message-ID: <small.1@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
  ]);
  while (text.length < 1980) text += `${words(next, 40 + Math.floor(next() * 30))}\r\n`;
  return Buffer.from(text, 'latin1');
}

function mediumMessage(): Buffer {
  const next = prng(2);
  const raw = Buffer.alloc(74_000);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(next() * 256);
  const encoded = raw.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < encoded.length; i += 76) lines.push(encoded.slice(i, i + 76));
  const head = headers([
    'Subject: smtpmail benchmark, medium',
    'Message-ID: <medium.1@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
  ]);
  return Buffer.from(`${head}${lines.join('\r\n')}\r\n`, 'latin1');
}

/** Lines to draw from: plain text, lines that need dot-stuffing (a lone "." among them), UTF-8. */
function linePool(seed: number, count: number): Buffer[] {
  const next = prng(seed);
  const pool: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const kind = next();
    let line: string;
    if (kind < 0.05) line = '.';
    else if (kind < 0.2) line = `${next() < 0.5 ? '.' : '..'}${words(next, 20 + Math.floor(next() * 50))}`;
    else if (kind < 0.4)
      line = `${UTF8_PHRASES[Math.floor(next() * UTF8_PHRASES.length)]} ${words(next, 10 + Math.floor(next() * 40))}`;
    else if (kind < 0.43) line = '';
    else line = words(next, 30 + Math.floor(next() * 45));
    pool.push(Buffer.from(`${line}\r\n`, 'utf8'));
  }
  return pool;
}

function textHead(name: string): Buffer {
  return Buffer.from(
    headers([
      `Subject: smtpmail benchmark, ${name}`,
      `Message-ID: <${name}.1@example.org>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ]),
    'utf8',
  );
}

/** The 20 MB message, chunk by chunk (about 64 KB each), so that it can go to a file without being held whole. */
function* largeChunks(): Generator<Buffer> {
  const head = textHead('large');
  yield head;
  const pool = linePool(3, 4096);
  const next = prng(4);
  let total = head.length;
  while (total < LARGE_BYTES) {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES + 512);
    let used = 0;
    while (used < CHUNK_BYTES && total + used < LARGE_BYTES) {
      used += (pool[Math.floor(next() * pool.length)] as Buffer).copy(chunk, used);
    }
    total += used;
    yield chunk.subarray(0, used);
  }
}

/** One 1 MiB block of lines (ending with CRLF), repeated to make the 200 MB message. */
function hugeBlock(): Buffer {
  const pool = linePool(5, 4096);
  const next = prng(6);
  const lines: Buffer[] = [];
  let size = 0;
  for (;;) {
    const line = pool[Math.floor(next() * pool.length)] as Buffer;
    if (size + line.length > BLOCK_BYTES) break;
    lines.push(line);
    size += line.length;
  }
  return Buffer.concat(lines);
}

/** The 200 MB message's chunks: its head, then the block repeated, cut into 64 KB pieces (each a view of the block). */
function* hugeChunks(): Generator<Buffer> {
  const head = textHead('huge');
  yield head;
  const block = hugeBlock();
  const blocks = Math.ceil((HUGE_BYTES - head.length) / block.length);
  for (let b = 0; b < blocks; b++) {
    for (let start = 0; start < block.length; start += CHUNK_BYTES)
      yield block.subarray(start, Math.min(start + CHUNK_BYTES, block.length));
  }
}

/**
 * Chunks handed out before a ring slot is written again: twice what a client honouring back-pressure may hold. BDAT
 * gathers one chunk command's worth of a stream (1 MiB, sixteen of these chunks) by reference before it writes it, and
 * the header block's chunk is kept as read (at sixteen slots the header block was overwritten before it was sent).
 */
const RING_SLOTS = 32;

/**
 * The 200 MB message as a stream that allocates nothing per chunk: each
 * chunk is copied into the next slot of a small ring of buffers, which is
 * overwritten RING_SLOTS chunks later. A client that kept chunks (or views
 * of them) instead of sending them would send overwritten bytes and fail the
 * sink's SHA-256 check; a client that copied them would show in its RSS. So
 * the peak RSS measures the client, not the garbage of a generator (fresh
 * 64 KB buffers pile up to V8's external-memory limit, about 64 MB, before a
 * collection, which alone exceeds the 32 MB margin being measured).
 */
class HugeStream extends Readable {
  readonly #chunks = hugeChunks();
  readonly #ring = Array.from({ length: RING_SLOTS }, () => Buffer.allocUnsafe(CHUNK_BYTES));
  #next = 0;

  constructor() {
    super({ highWaterMark: CHUNK_BYTES });
  }

  override _read(): void {
    const item = this.#chunks.next();
    if (item.done === true) {
      this.push(null);
      return;
    }
    const slot = this.#ring[this.#next++ % RING_SLOTS] as Buffer; // every chunk is at most CHUNK_BYTES
    this.push(slot.subarray(0, item.value.copy(slot)));
  }
}

function hugeBytes(): number {
  const head = textHead('huge').length;
  const block = hugeBlock().length;
  return head + Math.ceil((HUGE_BYTES - head) / block) * block;
}

function inMemory(name: WorkloadName, buffer: Buffer, timeboxed: boolean): Workload {
  return { name, bytes: buffer.length, timeboxed, buffer, message: () => buffer, dispose: () => {} };
}

/** Writes the 20 MB message to a temporary file; the file is removed by dispose() or at exit. */
function largeFile(): Workload {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtpmail-bench-'));
  const file = path.join(dir, 'large.eml');
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  try {
    for (const chunk of largeChunks()) bytes += fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
  return {
    name: 'large-file',
    bytes,
    timeboxed: false,
    buffer: undefined,
    message: () => fs.createReadStream(file),
    dispose: remove,
  };
}

export function loadWorkload(name: WorkloadName): Workload {
  switch (name) {
    case 'small':
      return inMemory(name, smallMessage(), true);
    case 'medium':
      return inMemory(name, mediumMessage(), true);
    case 'large':
      return inMemory(name, Buffer.concat([...largeChunks()]), false);
    case 'large-file':
      return largeFile();
    case 'huge-stream': {
      const bytes = hugeBytes();
      return { name, bytes, timeboxed: false, buffer: undefined, message: () => new HugeStream(), dispose: () => {} };
    }
  }
}

/** SHA-256 (hex) of the delivered form of one message, computed chunk by chunk. */
export function expectedHash(name: WorkloadName): string {
  const hash = createHash('sha256');
  switch (name) {
    case 'small':
      hash.update(smallMessage());
      break;
    case 'medium':
      hash.update(mediumMessage());
      break;
    case 'large':
    case 'large-file':
      for (const chunk of largeChunks()) hash.update(chunk);
      break;
    case 'huge-stream':
      for (const chunk of hugeChunks()) hash.update(chunk);
      break;
  }
  return hash.digest('hex');
}

export function isWorkloadName(name: string): name is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(name);
}

/**
 * Buffers kept for reuse once the socket is done with them, and the one type
 * that carries a lent buffer's lifetime. A fresh buffer costs page faults on
 * first touch and is garbage V8 collects only after tens of megabytes; on
 * the bench's 64-in-flight and 200 MB stream cells that raised the client's
 * CPU and peak memory (sessions 3 and 4). The write batcher (the command
 * buffer of an event-loop turn) and the encoder's output buffers both draw
 * on this.
 */

/**
 * Bytes handed to the socket: `bytes` must not be touched until `done` is
 * called (the socket wrote them, or it failed). Plain Buffers in the same
 * places are the caller's and are never reused.
 */
export interface Lent {
  readonly bytes: Buffer;
  readonly done: () => void;
}

export type Part = Buffer | Lent;

export function bytesOf(part: Part): Buffer {
  return Buffer.isBuffer(part) ? part : part.bytes;
}

/** Chunks of a message whose memory its reader takes back once the socket has written them (client/file-stream.ts). */
const releases = new WeakMap<Buffer, () => void>();

/** Marks `chunk` as one whose memory `release` takes back for reuse, once it is written (see {@link asWritten}). */
export function lendUntilWritten(chunk: Buffer, release: () => void): Buffer {
  releases.set(chunk, release);
  return chunk;
}

/**
 * What goes to the socket for `chunk` when the encoder made `part` of it: for a chunk lent by its reader, the part
 * carries the chunk's release when it still shares the chunk's memory (passed through, not copied); when it does not,
 * the chunk is released at once. Any other chunk: `part` as it is.
 */
export function asWritten(chunk: Buffer, part: Part): Part {
  const release = releases.get(chunk);
  if (release === undefined) return part;
  releases.delete(chunk);
  const bytes = bytesOf(part);
  if (bytes.buffer !== chunk.buffer) {
    release();
    return part;
  }
  return { bytes, done: release };
}

/** Calls a Lent part's `done` (a plain Buffer has none). */
export function finish(part: Part): void {
  if (!Buffer.isBuffer(part)) part.done();
}

export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #keep: number;

  /** `keep`: free buffers kept at most; more given back are dropped. */
  constructor(keep: number) {
    this.#keep = keep;
  }

  /**
   * A buffer of at least `size` bytes: a free one that is big enough, else a new one of its own (never a slice of
   * Node's shared pool).
   */
  take(size: number): Buffer {
    const free = this.#free.pop();
    if (free !== undefined && free.length >= size) return free;
    return Buffer.allocUnsafeSlow(size); // a free buffer too small is dropped
  }

  /** A buffer the socket is done with (the whole of it, even if a view of its start was written). */
  give(buffer: Buffer): void {
    if (this.#free.length < this.#keep)
      this.#free.push(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.buffer.byteLength - buffer.byteOffset));
  }

  clear(): void {
    this.#free.length = 0;
  }
}

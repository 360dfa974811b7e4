/**
 * A Node Readable's chunks as it pushed them. Its own async iterator reads in
 * paused mode, where `read()` joins every chunk buffered into a new buffer: a
 * stream that pushes large chunks faster than they are sent had them copied
 * (the bench's 200 MB stream of 64 KB chunks: about 180 copies of 128-196 KB
 * a message, garbage that raised the peak RSS until V8 collected it). Read
 * here in flowing mode, a large chunk is handed on as it is; small ones that
 * arrive together are joined (at most SMALL_BYTES each, JOIN_BYTES in all), as
 * the paused read did, so a stream of tiny chunks does not go one by one.
 * Back-pressure: the stream is paused while JOIN_BYTES wait to be taken.
 *
 * Measured (a 20 MB message as a Readable of fixed-size chunks, SmtpClient to the C sink, medians of 12 sends
 * alternating with the build before): 64 KB chunks 686 -> 1,046 MB/s, 4 KB 314 -> 449, 512 bytes 165 -> 573 (joined);
 * the bench's 200 MB stream, limited by the sink's SHA-256, kept its pace and its peak RSS went down by 6-9 MB.
 */
import type { Readable } from 'node:stream';

/** Chunks up to this size are joined with their neighbours; larger ones go as they are. */
const SMALL_BYTES = 16 * 1024;
/** The most a joined chunk holds, and how much may wait before the stream is paused. */
const JOIN_BYTES = 64 * 1024;

type Chunk = Buffer | string | Uint8Array;

/**
 * The chunks of `input` when it is a byte-mode Readable that nobody else reads (not flowing, not destroyed); undefined
 * for anything else (read with its own async iterator). `return()` destroys the stream.
 */
export function readableChunks(input: object): AsyncIterator<Chunk> | undefined {
  const stream = input as Partial<Readable>;
  if (
    typeof stream.on !== 'function' ||
    typeof stream.pause !== 'function' ||
    typeof stream.resume !== 'function' ||
    typeof stream.destroy !== 'function' ||
    stream.readableObjectMode !== false ||
    stream.readableFlowing === true ||
    stream.destroyed !== false
  ) {
    return undefined;
  }
  return new FlowingChunks(input as Readable);
}

class FlowingChunks implements AsyncIterator<Chunk> {
  readonly #stream: Readable;
  readonly #queue: Chunk[] = [];
  #queued = 0;
  #ended = false;
  #failure: unknown;
  #waiter: { resolve: (result: IteratorResult<Chunk>) => void; reject: (error: unknown) => void } | undefined;

  constructor(stream: Readable) {
    this.#stream = stream;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('error', this.#onError); // kept to the end: a later 'error' must not go unhandled
    stream.on('close', this.#onClose);
    stream.pause(); // adding a 'data' listener starts the flow; it starts when a chunk is asked for
  }

  next(): Promise<IteratorResult<Chunk>> {
    if (this.#queue.length > 0) return Promise.resolve({ done: false, value: this.#take() });
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#stream.resume();
    });
  }

  return(): Promise<IteratorResult<Chunk>> {
    this.#detach();
    this.#stream.destroy();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The next chunk: a large one as it is, else the small ones at the front joined. */
  #take(): Chunk {
    const queue = this.#queue;
    const first = queue[0] as Chunk;
    let count = 1;
    let bytes = first.length;
    if (first.length <= SMALL_BYTES) {
      for (; count < queue.length; count++) {
        const next = queue[count] as Chunk;
        if (next.length > SMALL_BYTES || bytes + next.length > JOIN_BYTES || typeof next !== typeof first) break;
        bytes += next.length;
      }
    }
    const taken = queue.splice(0, count);
    this.#queued -= taken.reduce((sum, chunk) => sum + chunk.length, 0);
    if (this.#queued < JOIN_BYTES && !this.#ended && this.#failure === undefined) this.#stream.resume();
    if (taken.length === 1) return first;
    return typeof first === 'string' ? taken.join('') : Buffer.concat(taken as Uint8Array[]);
  }

  readonly #onData = (chunk: Chunk): void => {
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued >= JOIN_BYTES) this.#stream.pause();
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    this.#waiter = undefined;
    waiter.resolve({ done: false, value: this.#take() });
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#detach();
    this.#settle();
  };

  readonly #onError = (error: unknown): void => {
    this.#failure ??= error;
    this.#detach();
    this.#settle();
  };

  readonly #onClose = (): void => {
    if (!this.#ended) this.#failure ??= new Error('the stream closed before its end');
    this.#detach();
    this.#settle();
  };

  /** A waiter told of the end or the failure (chunks still queued are taken first, by later calls). */
  #settle(): void {
    const waiter = this.#waiter;
    if (waiter === undefined || this.#queue.length > 0) return;
    this.#waiter = undefined;
    if (this.#failure !== undefined) waiter.reject(this.#failure);
    else waiter.resolve({ done: true, value: undefined });
  }

  #detach(): void {
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onClose);
  }
}

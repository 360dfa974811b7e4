/**
 * Bytes to a stream an event-loop turn at a time. Small parts (commands,
 * parts up to COPY_LIMIT) are copied into the turn's one buffer; a large part
 * is lent to the stream by reference, after what was gathered before it. The
 * stream stays corked until the turn ends, so the turn leaves in one writev
 * (or, a turn that gathers more than TURN_WRITE_BYTES, in a few).
 * With 64 messages in flight a turn holds dozens of command groups and small
 * messages: one buffer instead of four writev parts each took the bench's
 * 64-in-flight cell from 39,000-47,000 to 48,000-52,000 msgs/s (session 4).
 */
import type { Writable } from 'node:stream';
import { BufferPool, bytesOf, finish, type Part } from '../wire/buffer-pool.js';

/** Parts up to this size are copied; larger ones go to the stream by reference. */
export const COPY_LIMIT = 16 * 1024;
/**
 * Once a turn has gathered this much, it goes to the stream at once (the rest of the turn gathers anew): the server
 * starts on the first messages while the client still makes the next ones, and the stream's back-pressure is felt.
 * Gathering the whole turn made the two take turns instead: 64 messages of 2 KB in flight, the client pinned to one
 * CPU and the C sink to the other, 98,000-113,000 msgs/s with one write a turn against 117,000-127,000 with this, for
 * about three times the writes (48, 64 and 96 KiB: between the two; 16 KiB: slower than one write a turn).
 */
export const TURN_WRITE_BYTES = 32 * 1024;
const FIRST_BYTES = 16 * 1024;
/** Turn buffers kept for reuse once written. */
const SPARES = 4;

export class WriteBatcher {
  #stream: Writable;
  readonly #spares = new BufferPool(SPARES);
  /** This turn's buffer and how much of it is used. */
  #buffer: Buffer | undefined;
  #length = 0;
  #corked = false;
  #closed = false;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  /**
   * Writes `text` (UTF-8, the commands), then `parts`; each Lent part is
   * given back once the stream is done with it. Returns false when the stream
   * asks for a pause.
   */
  put(text: string, parts: readonly Part[]): boolean {
    this.#gather();
    // a UTF-16 unit: at most 3 bytes
    if (text !== '') this.#length += this.#room(text.length * 3).write(text, this.#length);
    let room = true;
    for (const part of parts) {
      const bytes = bytesOf(part);
      if (bytes.length <= COPY_LIMIT) {
        this.#length += bytes.copy(this.#room(bytes.length), this.#length);
        finish(part); // copied: the caller may reuse it at once
      } else {
        this.#flush();
        room = this.#stream.write(bytes, () => finish(part));
      }
    }
    if (this.#length >= TURN_WRITE_BYTES) {
      room = this.#flush() && room;
      this.#uncork();
    }
    return room;
  }

  /** Writes what this turn gathered now, instead of when the turn ends. */
  endTurn(): void {
    this.#uncork();
  }

  /** Goes on with `stream` (after a TLS upgrade); call `endTurn` before handing the old one over. */
  replace(stream: Writable): void {
    this.#stream = stream;
  }

  /** Drops what is gathered: the stream has failed. */
  close(): void {
    this.#closed = true;
    this.#buffer = undefined;
    this.#length = 0;
    this.#spares.clear();
  }

  #gather(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#stream.cork();
    process.nextTick(this.#uncork);
  }

  readonly #uncork = (): void => {
    if (!this.#corked) return;
    this.#corked = false;
    this.#flush();
    this.#stream.uncork();
  };

  /** Hands the turn's buffer to the stream; returns false when the stream asks for a pause. */
  #flush(): boolean {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#length === 0 || this.#closed) return true;
    const bytes = buffer.subarray(0, this.#length);
    this.#buffer = undefined;
    this.#length = 0;
    return this.#stream.write(bytes, () => this.#spares.give(bytes));
  }

  /** The turn's buffer with room for `extra` more bytes. */
  #room(extra: number): Buffer {
    const needed = this.#length + extra;
    const buffer = this.#buffer;
    if (buffer !== undefined && buffer.length >= needed) return buffer;
    const grown = this.#spares.take(Math.max(needed, FIRST_BYTES, (buffer?.length ?? 0) * 2));
    if (buffer !== undefined) buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
    return grown;
  }
}

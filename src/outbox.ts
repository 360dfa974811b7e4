/**
 * The small writes of one event-loop turn, copied into one buffer. With 64
 * messages in flight a turn holds dozens of command groups and small
 * messages; copying them costs less than handing the stream one part each
 * (every part is a JS-to-native conversion and an iovec). Large buffers are
 * not copied: the connection writes them as they are, after what is here.
 */

/** Parts up to this size are copied; larger ones go to the stream by reference. */
export const COPY_LIMIT = 16 * 1024;
/** Once this much is gathered it is written at once, so the stream's back-pressure is felt. */
export const FLUSH_BYTES = 256 * 1024;

/** Buffers kept for reuse once written: a fresh one costs page faults on first touch. */
const SPARES = 4;
const FIRST_BYTES = 16 * 1024;

export class Outbox {
  #buffer: Buffer | undefined;
  #length = 0;
  readonly #spares: Buffer[] = [];

  /** Bytes gathered and not yet taken. */
  get length(): number {
    return this.#length;
  }

  /** Appends `text` as UTF-8. */
  addText(text: string): void {
    const buffer = this.#room(text.length * 3); // a UTF-16 code unit is at most 3 UTF-8 bytes
    this.#length += buffer.write(text, this.#length);
  }

  /** Appends a copy of `bytes`: the caller may reuse them at once. */
  addBytes(bytes: Buffer): void {
    this.#length += bytes.copy(this.#room(bytes.length), this.#length);
  }

  /**
   * Everything gathered, as one buffer, or undefined when empty. Give it back
   * with `recycle` once the stream is done with it; it is not written to before.
   */
  take(): Buffer | undefined {
    const buffer = this.#buffer;
    if (buffer === undefined || this.#length === 0) return undefined;
    const taken = buffer.subarray(0, this.#length);
    this.#buffer = undefined;
    this.#length = 0;
    return taken;
  }

  /** A buffer from `take` that the stream no longer needs. */
  recycle(taken: Buffer): void {
    if (this.#spares.length < SPARES) this.#spares.push(Buffer.from(taken.buffer, taken.byteOffset, taken.buffer.byteLength - taken.byteOffset));
  }

  /** Drops what is gathered and every spare buffer (the stream has failed). */
  clear(): void {
    this.#buffer = undefined;
    this.#length = 0;
    this.#spares.length = 0;
  }

  /** A buffer with room for `extra` more bytes after what is gathered. */
  #room(extra: number): Buffer {
    const needed = this.#length + extra;
    const buffer = this.#buffer;
    if (buffer !== undefined && buffer.length >= needed) return buffer;
    const spare = buffer === undefined ? this.#spares.pop() : undefined;
    if (spare !== undefined && spare.length >= needed) return (this.#buffer = spare);
    // A buffer of its own (never a slice of Node's shared pool), so that it can be recycled.
    const grown = Buffer.allocUnsafeSlow(Math.max(needed, FIRST_BYTES, (buffer?.length ?? 0) * 2));
    if (buffer !== undefined) buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
    return grown;
  }
}

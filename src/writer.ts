/**
 * Bytes to a stream a turn of the event loop at a time. Small parts are
 * copied into the turn's one buffer (outbox.ts); a large one is lent to the
 * stream by reference, after what was gathered before it. The stream stays
 * corked until the turn ends, so the turn leaves in one writev: with many
 * messages in flight, one syscall carries dozens of transactions.
 */
import type { Writable } from 'node:stream';
import { COPY_LIMIT, FLUSH_BYTES, Outbox } from './outbox.js';

export class TurnWriter {
  #stream: Writable;
  readonly #outbox = new Outbox();
  #corked = false;
  #closed = false;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  /**
   * Writes `texts` (UTF-8), then `parts`. `written` is called once the stream
   * is done with the parts (copied, sent, or the stream failed): the caller
   * may reuse their memory then. Returns false when the stream asks for a pause.
   */
  put(texts: readonly string[], parts: readonly Buffer[], written?: () => void): boolean {
    this.#gather();
    const outbox = this.#outbox;
    // One write of the joined commands: each Buffer#write is a native call, dearer than a join.
    if (texts.length > 0) outbox.addText(texts.length === 1 ? (texts[0] as string) : texts.join(''));
    let room = true;
    let lent = false;
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) {
      const bytes = parts[i] as Buffer;
      if (bytes.length <= COPY_LIMIT) outbox.addBytes(bytes);
      else {
        this.#flush();
        // Writes complete in order: when the last is done, the stream is done with every buffer before it.
        room = this.#stream.write(bytes, i === last ? written : undefined);
        lent = true;
      }
    }
    const lastCopied = last < 0 || (parts[last] as Buffer).length <= COPY_LIMIT;
    if (lent && lastCopied) room = this.#flush(written);
    else if (outbox.length >= FLUSH_BYTES) room = this.#flush();
    if (!lent) written?.();
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
    this.#outbox.clear();
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

  /** Hands what the outbox gathered to the stream; returns false when the stream asks for a pause. */
  #flush(written?: () => void): boolean {
    const outbox = this.#outbox;
    const bytes = outbox.take();
    if (bytes === undefined || this.#closed) {
      written?.();
      return true;
    }
    return this.#stream.write(bytes, () => {
      outbox.recycle(bytes);
      written?.();
    });
  }
}

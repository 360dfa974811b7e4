/**
 * Output buffers for the message encoder. A large chunk that must be
 * rewritten (dot-stuffed, line ends fixed) is written into a buffer the
 * socket gives back once it has sent it, instead of a fresh one per chunk:
 * the 200 MB bench stream then allocates nothing per chunk, so its peak
 * memory measures the client (session 2). Small chunks use the encoder's own
 * buffers.
 */
import { BufferPool, type Part } from '../wire/buffer-pool.js';
import { outputCapacity } from '../wire/data-encoder.js';

/** Chunks below this are encoded into fresh buffers (the encoder uses a scratch buffer only when the chunk fits). */
export const MIN_POOLED_BYTES = 16 * 1024;
/** Buffers lent at once; when all are in the socket's hands, the encoder allocates. */
const MAX_BUFFERS = 4;

export class ScratchPool {
  readonly #pool = new BufferPool(MAX_BUFFERS);
  #lent = 0;

  /**
   * What `encode` makes, given a buffer to write into when one is free (it
   * may use it or not): a plain Buffer, or, when it used the buffer, a Lent
   * part that comes back to the pool when the socket is done with it.
   */
  lend(inputBytes: number, encode: (scratch: Buffer | undefined) => Buffer | undefined): Part | undefined {
    const pooled = inputBytes >= MIN_POOLED_BYTES && this.#lent < MAX_BUFFERS;
    const scratch = pooled ? this.#pool.take(outputCapacity(inputBytes)) : undefined;
    const bytes = encode(scratch);
    if (
      scratch === undefined ||
      bytes === undefined ||
      bytes.buffer !== scratch.buffer ||
      bytes.byteOffset !== scratch.byteOffset
    ) {
      if (scratch !== undefined) this.#pool.give(scratch); // not used: the chunk went through unchanged, or was small
      return bytes;
    }
    this.#lent++;
    let returned = false;
    return {
      bytes,
      done: () => {
        if (returned) return;
        returned = true;
        this.#lent--;
        this.#pool.give(scratch);
      },
    };
  }
}

/**
 * Reusable output buffers for the message encoder. A large chunk that must be
 * rewritten (dot-stuffed, line ends fixed) is written into a buffer that the
 * socket gives back once it has sent it, instead of a fresh one per chunk:
 * fresh buffers are garbage that V8 collects only after tens of megabytes,
 * so a long message would raise the peak memory (and fresh pages cost page
 * faults). Small chunks are not worth it and use the encoder's own buffers.
 */
import { outputCapacity, type DataEncoder } from './data.js';

/** Chunks below this are encoded into fresh buffers. */
export const MIN_POOLED_BYTES = 16 * 1024;
/** Buffers lent at once; when all are in the socket's hands, the encoder allocates. */
const MAX_BUFFERS = 4;

export interface Encoded {
  readonly bytes: Buffer;
  /** Gives the buffer holding `bytes` back to the pool: call it once the socket is done with them. */
  readonly release: (() => void) | undefined;
}

export class ScratchPool {
  readonly #free: Buffer[] = [];
  #lent = 0;

  encode(encoder: DataEncoder, chunk: Buffer): Encoded {
    const scratch = chunk.length >= MIN_POOLED_BYTES ? this.#take(outputCapacity(chunk.length)) : undefined;
    const bytes = encoder.push(chunk, scratch);
    if (scratch === undefined) return { bytes, release: undefined };
    if (bytes.buffer !== scratch.buffer || bytes.byteOffset !== scratch.byteOffset) {
      this.#give(scratch); // the chunk went through unchanged (or outgrew the scratch)
      return { bytes, release: undefined };
    }
    let released = false;
    return {
      bytes,
      release: () => {
        if (released) return;
        released = true;
        this.#give(scratch);
      },
    };
  }

  #take(size: number): Buffer | undefined {
    const free = this.#free.pop();
    if (free !== undefined && free.length >= size) {
      this.#lent++;
      return free;
    }
    if (this.#lent >= MAX_BUFFERS) return undefined;
    this.#lent++;
    return Buffer.allocUnsafe(size); // a free buffer too small for this chunk is dropped
  }

  #give(buffer: Buffer): void {
    this.#lent--;
    this.#free.push(buffer);
  }
}

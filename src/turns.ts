/**
 * Turns on a shared connection, so that transactions can overlap as RFC 2920
 * allows without ever reading each other's replies. Writers take turns in
 * order; each joins the queue of readers at the moment it writes, so replies
 * are read in exactly the order the commands went out.
 */

/** A FIFO lock: `take()` resolves, with its release, once every earlier taker released. */
export class Turns {
  #tail: Promise<void> = Promise.resolve();

  take(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const ready = this.#tail.then(() => release);
    this.#tail = mine;
    return ready;
  }
}

/** One transaction's place: the write turn held, a place in the read queue reserved. */
export class Turn {
  readonly #releaseWrites: () => void;
  readonly #reads: Promise<() => void>;
  #writing = true;
  #releaseReads: (() => void) | undefined;

  private constructor(releaseWrites: () => void, reads: Promise<() => void>) {
    this.#releaseWrites = releaseWrites;
    this.#reads = reads;
  }

  /** Waits for the write turn, then joins the read queue behind every earlier writer. */
  static async take(writes: Turns, reads: Turns): Promise<Turn> {
    const releaseWrites = await writes.take();
    return new Turn(releaseWrites, reads.take());
  }

  /** Resolves when every earlier writer has read its replies. */
  async reads(): Promise<void> {
    this.#releaseReads ??= await this.#reads;
  }

  /** Lets the next transaction write (its commands then follow ours on the wire). */
  releaseWrites(): void {
    if (!this.#writing) return;
    this.#writing = false;
    this.#releaseWrites();
  }

  /** Gives up both turns (idempotent); a reader turn never taken is passed on when it comes. */
  release(): void {
    this.releaseWrites();
    if (this.#releaseReads !== undefined) this.#releaseReads();
    else void this.#reads.then((release) => release());
  }
}

/**
 * Turns on a shared connection, so that transactions can overlap as RFC 2920
 * allows without ever reading each other's replies. Writers take turns in
 * order; each joins the queue of readers at the moment it writes, so replies
 * are read in exactly the order the commands went out.
 *
 * A free turn is taken at once, without a promise: on a busy connection most
 * transactions find the write turn free (every write is one synchronous
 * step), and this runs once per message.
 */

/** A FIFO lock: each taker is handed its release function, now or once every earlier taker released. */
export class Turns {
  #held = false;
  /** Takers waiting, oldest first. */
  readonly #waiting: ((release: () => void) => void)[] = [];

  /** The turn at once when it is free, else undefined (nothing is queued then). */
  tryTake(): (() => void) | undefined {
    if (this.#held) return undefined;
    this.#held = true;
    return this.#release();
  }

  /** The turn, once every earlier taker released it. */
  take(): Promise<() => void> {
    const release = this.tryTake();
    return release !== undefined ? Promise.resolve(release) : new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Queues `granted`, called with the release function when the turn is ours (at once when it is free). */
  takeThen(granted: (release: () => void) => void): void {
    const release = this.tryTake();
    if (release === undefined) this.#waiting.push(granted);
    else granted(release);
  }

  /** A release function for one holder: the first call passes the turn on, later calls do nothing. */
  #release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) this.#held = false;
      else next(this.#release());
    };
  }
}

const READY = Promise.resolve();

/** One transaction's place: the write turn held, a place in the read queue reserved. */
export class Turn {
  readonly #releaseWrites: () => void;
  #writing = true;
  /** Our read turn's release, once every earlier writer has read its replies. */
  #releaseReads: (() => void) | undefined;
  /** Wakes whoever awaits `reads()`, when someone does. */
  #wake: (() => void) | undefined;
  #readsReady: Promise<void> | undefined;
  #released = false;

  private constructor(releaseWrites: () => void, reads: Turns) {
    this.#releaseWrites = releaseWrites;
    reads.takeThen(this.#granted);
  }

  /** The write turn at once when it is free (joining the read queue behind every earlier writer), else undefined. */
  static tryTake(writes: Turns, reads: Turns): Turn | undefined {
    const releaseWrites = writes.tryTake();
    return releaseWrites === undefined ? undefined : new Turn(releaseWrites, reads);
  }

  /** Waits for the write turn, then joins the read queue behind every earlier writer. */
  static async take(writes: Turns, reads: Turns): Promise<Turn> {
    return new Turn(await writes.take(), reads);
  }

  readonly #granted = (release: () => void): void => {
    if (this.#released) {
      release(); // given up before it came: passed on at once
      return;
    }
    this.#releaseReads = release;
    this.#wake?.();
  };

  /** True when every earlier writer has read its replies: `reads()` need not be awaited. */
  get readable(): boolean {
    return this.#releaseReads !== undefined;
  }

  /** Resolves when every earlier writer has read its replies. */
  reads(): Promise<void> {
    if (this.#releaseReads !== undefined) return READY;
    return (this.#readsReady ??= new Promise<void>((resolve) => (this.#wake = resolve)));
  }

  /** Lets the next transaction write (its commands then follow ours on the wire). */
  releaseWrites(): void {
    if (!this.#writing) return;
    this.#writing = false;
    this.#releaseWrites();
  }

  /** Gives up both turns (idempotent); a read turn not yet come is passed on when it comes. */
  release(): void {
    this.releaseWrites();
    if (this.#released) return;
    this.#released = true;
    this.#releaseReads?.();
  }
}

/**
 * A pool's `rateLimit: { messages, perMs }`: sends start evenly spaced, one every `perMs / messages` ms, so that no
 * window of `perMs` ms (half-open) sees more than `messages` of them start. A send waits for its slot on a timer (one
 * for the first in line; nothing polls), in the order sends arrived; `close()` rejects the ones still waiting.
 */
import { SmtpProtocolError } from '../errors.js';

export interface RateLimit {
  /** Messages that may start in `perMs` ms. */
  readonly messages: number;
  readonly perMs: number;
}

export class RateLimiter {
  readonly #spacingMs: number;
  /** When the next send may start (ms since the epoch). */
  #nextAt = 0;
  readonly #queue: { readonly go: () => void; readonly stop: (error: Error) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(limit: RateLimit) {
    this.#spacingMs = limit.perMs / limit.messages;
  }

  /** Resolves when this send may start. */
  slot(): Promise<void> {
    if (this.#queue.length === 0 && Date.now() >= this.#nextAt) {
      this.#nextAt = Date.now() + this.#spacingMs;
      return Promise.resolve();
    }
    return new Promise<void>((go, stop) => {
      this.#queue.push({ go, stop });
      this.#arm();
    });
  }

  /** Rejects every send still waiting for its slot. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const error = new SmtpProtocolError(
      'ECONFIG',
      'the pool was closed before this message could start under rateLimit: it was not sent',
    );
    for (const waiter of this.#queue.splice(0)) waiter.stop(error);
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        const waiter = this.#queue.shift();
        this.#nextAt = Date.now() + this.#spacingMs;
        waiter?.go();
        this.#arm();
      },
      Math.max(0, this.#nextAt - Date.now()),
    );
  }
}

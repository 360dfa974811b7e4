/**
 * One deadline for a whole send (`timeouts.total`, SPEC §6): every attempt,
 * every per-phase timeout and every delay between retries runs inside it.
 * Its `signal` fires when the deadline passes or when the caller's own
 * signal fires, whichever comes first, so that everything that already
 * honours an AbortSignal honours the deadline too.
 */
import { SmtpProtocolError } from './errors.js';

export class Deadline {
  /** When it passes (ms since the epoch); undefined: no deadline. */
  readonly at: number | undefined;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort = (): void => this.#controller.abort(this.#caller?.reason);

  /** `totalMs` 0: no deadline, only the caller's signal. */
  constructor(totalMs: number, caller: AbortSignal | undefined) {
    this.#caller = caller;
    if (caller?.aborted === true) this.#onCallerAbort();
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    if (totalMs > 0) {
      this.at = Date.now() + totalMs;
      this.#timer = setTimeout(() => this.#controller.abort(deadlineError(totalMs)), totalMs);
    }
  }

  /** Fires on the caller's abort (its reason) or when the deadline passes (an ETIMEOUT SmtpProtocolError as reason). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True when waiting `ms` more would pass the deadline. */
  wouldPass(ms: number): boolean {
    return this.at !== undefined && Date.now() + ms >= this.at;
  }

  /** Clears the timer and the listener on the caller's signal (idempotent). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }
}

function deadlineError(totalMs: number): SmtpProtocolError {
  return new SmtpProtocolError('ETIMEOUT', `the send did not finish within timeouts.total (${totalMs} ms)`, { transient: true });
}

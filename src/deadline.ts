/**
 * One deadline for a whole send (`timeouts.total`, SPEC §6): every attempt,
 * every per-phase timeout and every delay between retries runs inside it.
 * It also carries the caller's AbortSignal, so that a send watches one thing:
 * `reason` is set, and the watcher called, when the deadline passes (an
 * ETIMEOUT error) or the caller aborts (EABORT), whichever comes first.
 *
 * Cheap on purpose, since every message has one: a timer, and no
 * AbortController or EventTarget unless the caller gave a signal or
 * something asks for `signal` (connecting, a sendmail program). Measured on
 * the 64-in-flight bench cell: an AbortController and its listeners per send
 * cost about 20 % of the client's CPU.
 */
import { abortError, SmtpProtocolError } from './errors.js';

export class Deadline {
  /** When it passes (ms since the epoch); undefined: no deadline. */
  readonly at: number | undefined;
  readonly #totalMs: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #caller: AbortSignal | undefined;
  #reason: SmtpProtocolError | undefined;
  /** Who is told when it fires: at most one at a time (a send does one thing at a time), plus the lazy signal. */
  #watcher: ((reason: SmtpProtocolError) => void) | undefined;
  #controller: AbortController | undefined;
  readonly #onCallerAbort = (): void => this.#fire(abortError(this.#caller as AbortSignal));

  /** `totalMs` 0: no deadline, only the caller's signal. */
  constructor(totalMs: number, caller: AbortSignal | undefined) {
    this.#totalMs = totalMs;
    this.#caller = caller;
    if (caller?.aborted === true) this.#reason = abortError(caller);
    else caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    if (totalMs > 0 && this.#reason === undefined) {
      this.at = Date.now() + totalMs;
      this.#timer = setTimeout(() => this.#fire(deadlineError(totalMs)), totalMs);
    }
  }

  /** Why the send must stop (deadline passed, or aborted), or undefined while it may go on. */
  get reason(): SmtpProtocolError | undefined {
    return this.#reason;
  }

  get totalMs(): number {
    return this.#totalMs;
  }

  /** True when waiting `ms` more would pass the deadline. */
  wouldPass(ms: number): boolean {
    return this.at !== undefined && Date.now() + ms >= this.at;
  }

  /**
   * Calls `fire` when the deadline passes or the caller aborts (at once if that happened); returns the unwatch
   * function.
   */
  watch(fire: (reason: SmtpProtocolError) => void): () => void {
    if (this.#reason !== undefined) {
      fire(this.#reason);
      return noop;
    }
    this.#watcher = fire;
    return () => {
      if (this.#watcher === fire) this.#watcher = undefined;
    };
  }

  /** An AbortSignal for APIs that take one (connecting, TLS, a child process); made on first use. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Clears the timer and the listener on the caller's signal (idempotent). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }

  #fire(reason: SmtpProtocolError): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    clearTimeout(this.#timer);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.(reason);
    this.#controller?.abort(reason);
  }
}

const noop = (): void => {};

function deadlineError(totalMs: number): SmtpProtocolError {
  return new SmtpProtocolError('ETIMEOUT', `the send did not finish within timeouts.total (${totalMs} ms)`, {
    transient: true,
  });
}

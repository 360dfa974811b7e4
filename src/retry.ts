/**
 * smtpmail-retries, fixed (SPEC §6): which failures earn a new attempt, and
 * how long to wait. Only failures where the message certainly was not
 * delivered are retried; a connection lost after the final dot never is.
 */
import { abortError, SmtpProtocolError } from './errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included (smtpmail-retries); default 10. */
  readonly retries?: number | undefined;
  /** Milliseconds before the second attempt; default 1000. */
  readonly retryDelay?: number | undefined;
  /** Each further delay is the previous one times this; default 1 (constant), 2 for exponential backoff. */
  readonly retryBackoff?: number | undefined;
}

export const DEFAULT_RETRIES = 10;
export const DEFAULT_RETRY_DELAY_MS = 1000;

/**
 * Retryable: a 4xx reply to MAIL, a 421 (the server is closing the channel)
 * to anything, and a connection lost mid-session before the final dot, as
 * long as the message can be read again (`replayable`: in memory, or a
 * stream not yet read from). Not retryable: a
 * failed connect (a wrong host or port does not heal in seconds), timeouts,
 * refused recipients, authentication, and EUNKNOWN_DELIVERY.
 */
export function isRetryable(error: unknown, state: { readonly replayable: boolean; readonly connected: boolean }): boolean {
  if (!(error instanceof SmtpProtocolError) || !state.replayable) return false;
  if (error.reply?.code === 421) return true;
  if (error.code === 'ESENDER') return error.transient;
  return error.code === 'ECONNECTION' && state.connected;
}

/** The delay before attempt `attempt` (2, 3, ...). */
export function retryDelay(options: RetryOptions, attempt: number): number {
  const base = options.retryDelay ?? DEFAULT_RETRY_DELAY_MS;
  return base * (options.retryBackoff ?? 1) ** Math.max(0, attempt - 2);
}

export function maxAttempts(options: RetryOptions): number {
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 1) throw new SmtpProtocolError('ECONFIG', '`retries` is the number of attempts in all: an integer of at least 1');
  return retries;
}

/** Waits `ms`, or rejects with EABORT as soon as the signal fires. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * smtpmail-retries, fixed (SPEC §6): which failures earn a new attempt, and
 * how long to wait. Only failures where the message certainly was not
 * delivered are retried; a connection lost after the final dot never is.
 */
import type { Deadline } from '../deadline.js';
import { SmtpProtocolError } from '../errors.js';
import type { Reply } from '../wire/reply.js';

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

/** How far an attempt got: decides whether it may be retried. */
export interface Progress {
  /** A session was open (connected, or reused). */
  connected: boolean;
  /** The server's 220 greeting came (or the session was reused). */
  greeted: boolean;
  /** Message data started to flow: a streamed body cannot be read again after that. */
  dataStarted: boolean;
  /** The final dot (or BDAT LAST) was written: whatever happens now, the message is not sent again. */
  finalSent: boolean;
}

export function freshProgress(reused: boolean): Progress {
  return { connected: reused, greeted: reused, dataStarted: false, finalSent: false };
}

/**
 * Whether a failed attempt earns another. Yes: a 421 (the server is closing
 * the channel) before the final dot, another 4xx reply to MAIL, and a
 * connection lost mid-session before the final dot, as long as the message
 * can be read again (`replayable`: in memory, or a stream not yet read
 * from). No: anything after the final dot; a failed connect, a greeting that
 * never came, TLS failures, timeouts (a wrong host, port or TLS mode does not
 * heal in seconds); refusals that seconds cannot clear (greylisting, 4.7.x
 * policy, 452 storage); refused recipients; authentication; LMTP's answers
 * after the message (the error's `delivered`).
 */
export function isRetryable(error: unknown, progress: Progress, replayable: boolean): boolean {
  if (!(error instanceof SmtpProtocolError) || !replayable) return false;
  // LMTP answered for each recipient after the message: some may have it, and a retry would deliver it twice.
  if (error.delivered !== undefined) return false;
  // After the final dot (or BDAT LAST) only a refused sender or recipient proves the message was not taken.
  if (progress.finalSent && error.code !== 'ESENDER' && error.code !== 'ERECIPIENT') return false;
  if (error.reply !== undefined && waitsForMinutes(error.reply)) return false;
  if (error.reply?.code === 421) return true;
  if (error.code === 'ESENDER') return error.transient;
  return error.code === 'ECONNECTION' && progress.greeted;
}

/**
 * A temporary refusal that trying again within seconds cannot clear:
 * greylisting (450/451 with "greylist" text or a 4.7.x code: the server wants
 * the sender to come back in minutes), other 4.7.x policy refusals, and 452
 * (insufficient storage, too many recipients for now).
 */
export function waitsForMinutes(reply: Reply): boolean {
  if (reply.code === 452) return true;
  if (reply.code !== 450 && reply.code !== 451) return false;
  return reply.enhancedCode?.startsWith('4.7.') === true || /gr[ae]ylist/i.test(reply.lines.join(' '));
}

/** The delay before attempt `attempt` (2, 3, ...). */
export function retryDelay(options: RetryOptions, attempt: number): number {
  const base = options.retryDelay ?? DEFAULT_RETRY_DELAY_MS;
  return base * (options.retryBackoff ?? 1) ** Math.max(0, attempt - 2);
}

/** Waits `ms`, or rejects as soon as the deadline passes or the caller aborts (its `reason`). */
export function sleep(ms: number, deadline: Deadline): Promise<void> {
  return new Promise((resolve, reject) => {
    let unwatch = (): void => {};
    const timer = setTimeout(() => {
      unwatch();
      resolve();
    }, ms);
    unwatch = deadline.watch((reason) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
}

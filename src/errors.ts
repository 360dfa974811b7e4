/**
 * The one error class of the library, SmtpProtocolError, with a fixed set of
 * codes (SPEC §8), and the helpers that derive an error from another: with a
 * hint, with the attempts of a send, with other details.
 */
import { replyText, type Reply } from './wire/reply.js';

/**
 * Every failure the library reports. One fixed set of string literals, so that
 * a caller needs one `instanceof` and one `switch` (SPEC §8).
 */
export const ERROR_CODES = [
  'ECONFIG', // options that cannot work (no server, no envelope sender, ...)
  'EINPUT', // bad caller input: CR/LF/NUL in an argument, NUL in the message
  'ECONNECTION', // could not connect, or the connection was lost
  'ETIMEOUT', // a named timeout expired; the socket was closed
  'ETLS', // TLS handshake, certificate, or STARTTLS policy failure
  'EGREETING', // the server's greeting refused the connection
  'EPROTOCOL', // the server broke the protocol (malformed reply, injection)
  'ECOMMAND', // EHLO/HELO, RSET, VERB and other session commands refused
  'EAUTH', // authentication failed or was refused by policy
  'ESENDER', // MAIL FROM refused
  'ERECIPIENT', // one or more RCPT TO refused
  'EDATA', // DATA or the message content refused
  'ESIZE', // the message is larger than the server accepts
  'EPOLICY', // the client refused to proceed for a security reason
  'EABORT', // the caller's AbortSignal fired
  'EQUEUE', // the offline queue: unsafe directory, unreadable or invalid queue file, busy
  'ESENDMAIL', // the sendmail program (X-Message-SMTP-Method: sendmail) failed
  'EUNKNOWN_DELIVERY', // connection lost after the final dot: may have been delivered
] as const;

export type SmtpErrorCode = (typeof ERROR_CODES)[number];

/** A recipient the server refused, with the reply it gave. */
export interface RefusedRecipient {
  readonly recipient: string;
  readonly reply: Reply;
}

export interface SmtpErrorDetails {
  /** The server reply that caused the error, when there is one. */
  readonly reply?: Reply | undefined;
  /** The command that reply answered, as shown in the transcript (redacted). */
  readonly command?: string | undefined;
  readonly rejected?: readonly RefusedRecipient[] | undefined;
  /** LMTP, after the message: the recipients it was delivered to (see SmtpProtocolError.delivered). */
  readonly delivered?: readonly string[] | undefined;
  readonly cause?: unknown;
  /** Overrides the default (a 4xx reply is transient, anything else is not). */
  readonly transient?: boolean | undefined;
  /** What to change, derived from what happened (hints.ts); appended to the message. */
  readonly hint?: string | undefined;
  /** Attempts made by the send that failed, when a send failed. */
  readonly attempts?: number | undefined;
}

/**
 * The one error class of the library. Its message reads like Emacs's:
 * `Sending failed: <server text> in response to <command>` when a reply
 * caused it.
 */
export class SmtpProtocolError extends Error {
  override readonly name = 'SmtpProtocolError';
  readonly code: SmtpErrorCode;
  readonly reply: Reply | undefined;
  readonly command: string | undefined;
  readonly rejected: readonly RefusedRecipient[];
  /**
   * LMTP only (RFC 2033 §4.2), set when the server answered for each recipient after the message: those it was
   * delivered to (possibly none). A message delivered to some recipients is never sent again by the library (a
   * retry would deliver it twice to these); send it again only to the others, as `rejected` lists them. Undefined
   * for SMTP and for any failure before the message went out.
   */
  readonly delivered: readonly string[] | undefined;
  /** True when trying again later may succeed (4xx replies, timeouts, drops). */
  readonly transient: boolean;
  /** One or two sentences on what to change (an option, a port, a file), when the failure is a common one. */
  readonly hint: string | undefined;
  /** The message without the hint. */
  readonly detail: string;
  /** How many attempts the failed send made (set on the errors a send rejects with). */
  readonly attempts: number | undefined;

  constructor(code: SmtpErrorCode, message: string, details: SmtpErrorDetails = {}) {
    super(
      details.hint === undefined ? message : `${message.trimEnd()}. Hint: ${details.hint}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.detail = message;
    this.hint = details.hint;
    this.code = code;
    this.reply = details.reply;
    this.command = details.command;
    this.rejected = details.rejected ?? [];
    this.delivered = details.delivered;
    this.attempts = details.attempts;
    this.transient =
      details.transient ??
      (details.reply !== undefined ? details.reply.code >= 400 && details.reply.code < 500 : false);
  }

  /** An error for a reply that was not the one expected. */
  static fromReply(
    code: SmtpErrorCode,
    reply: Reply,
    command: string,
    details: SmtpErrorDetails = {},
  ): SmtpProtocolError {
    return new SmtpProtocolError(code, `Sending failed: ${replyText(reply)} in response to ${command}`, {
      ...details,
      reply,
      command,
    });
  }
}

/** The same error with a hint (an error that already has one keeps it). */
export function withHint(error: SmtpProtocolError, hint: string | undefined): SmtpProtocolError {
  if (hint === undefined || error.hint !== undefined) return error;
  return copyWith(error, error.detail, { hint, cause: error }); // the original (and its stack) stays reachable
}

/**
 * The error a send rejects with: `attempts` set, and when more than one
 * attempt was made or `stopped` says why retrying ended early, the message
 * says so.
 */
export function withAttempts(error: SmtpProtocolError, attempts: number, stopped?: string): SmtpProtocolError {
  const counted = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  const note = stopped !== undefined ? ` (${counted}; ${stopped})` : attempts > 1 ? ` (gave up after ${counted})` : '';
  return copyWith(error, `${error.detail.trimEnd()}${note}`, { attempts });
}

/** The same error with some details changed (its message kept). */
export function withDetails(error: SmtpProtocolError, changes: SmtpErrorDetails): SmtpProtocolError {
  return copyWith(error, error.detail, changes);
}

function copyWith(error: SmtpProtocolError, detail: string, changes: SmtpErrorDetails): SmtpProtocolError {
  const copy = new SmtpProtocolError(error.code, detail, {
    reply: error.reply,
    command: error.command,
    rejected: error.rejected,
    delivered: error.delivered,
    cause: error.cause,
    transient: error.transient,
    hint: error.hint,
    attempts: error.attempts,
    ...changes,
  });
  return copy;
}

/** The error for an AbortSignal that fired: EABORT, the signal's reason as cause. */
export function abortError(signal: AbortSignal): SmtpProtocolError {
  // The overall deadline (deadline.ts) aborts with its own ETIMEOUT error.
  if (signal.reason instanceof SmtpProtocolError) return signal.reason;
  return new SmtpProtocolError('EABORT', 'sending was aborted', { cause: signal.reason });
}

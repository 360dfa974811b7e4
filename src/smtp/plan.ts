/**
 * A mail transaction's plan and outcome, shared by the general transaction
 * (transaction.ts) and the one-write BDAT transaction (one-write-bdat.ts):
 * its options and result, the commands encoded before anything is written,
 * what the envelope came to (recipients accepted and refused), and the rule
 * (Emacs's) that one refusal fails the message unless `partial`.
 */
import { SmtpProtocolError, type RefusedRecipient } from '../errors.js';
import type * as commands from '../wire/commands.js';
import { replyText, type Reply } from '../wire/reply.js';
import type { TraceMessage } from '../wire/trace.js';
import { matches, shown } from './session.js';

/** A transaction's commands, encoded (and so validated) before anything is written. */
export interface Plan {
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly to: readonly string[];
  readonly pipelining: boolean;
  readonly chunking: boolean;
  /** LMTP: the final dot (or BDAT LAST) gets one reply per recipient accepted (lmtp-replies.ts). */
  readonly lmtp: boolean;
}

export interface EnvelopeOutcome {
  readonly accepted: string[];
  readonly rejected: RefusedRecipient[];
}

/**
 * Files one RCPT reply: any 25x accepts (RFC 5321 §4.2.5: 251 too). A 421
 * ends the transaction at once: the server is closing the connection, so the
 * error carries that reply and the recipients refused so far.
 */
export function record(outcome: EnvelopeOutcome, recipient: string, reply: Reply, command: string): void {
  if (matches(reply, 25)) outcome.accepted.push(recipient);
  else if (reply.code === 421) {
    const refused =
      outcome.rejected.length === 0
        ? ''
        : `; refused before it: ${outcome.rejected.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ')}`;
    throw new SmtpProtocolError(
      'ERECIPIENT',
      `Sending failed: ${replyText(reply)} in response to ${shown(command)}${refused}`,
      {
        reply,
        command: shown(command),
        rejected: [...outcome.rejected],
        transient: true,
      },
    );
  } else outcome.rejected.push({ recipient, reply });
}

/** Emacs semantics: one refused recipient fails the message, unless `partial`. */
export function refuseUnlessDeliverable(outcome: EnvelopeOutcome, partial: boolean, plan: Plan): void {
  const { accepted, rejected } = outcome;
  if (rejected.length === 0 || (partial && accepted.length > 0)) return;
  const first = rejected[0] as RefusedRecipient;
  const command = shown(plan.rcpts[plan.to.indexOf(first.recipient)] ?? '');
  const list = rejected.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ');
  const message =
    rejected.length === 1 && accepted.length === 0
      ? `Sending failed: ${replyText(first.reply)} in response to ${command}`
      : `Sending failed: ${rejected.length} of ${plan.to.length} recipients refused: ${list}`;
  throw new SmtpProtocolError('ERECIPIENT', message, {
    reply: first.reply,
    command,
    rejected,
    transient: rejected.every((r) => r.reply.code < 500),
  });
}

export interface TransactionOptions {
  /** MAIL FROM's parameters; `size` is given when the transaction already knows the message size on the wire. */
  readonly params: (size: number | undefined) => commands.MailParameters;
  /** Every RCPT TO's parameters (DSN's NOTIFY and ORCPT), when any. */
  readonly rcptParams?: commands.RcptParameters | undefined;
  /** Deliver to the accepted recipients when others are refused (default: fail the message). */
  readonly partial: boolean;
  readonly traceData: boolean;
  /** BDAT when the server offers CHUNKING, unless false. */
  readonly chunking: boolean | undefined;
  /**
   * Set as the transaction goes: data started (a streamed body cannot be sent again), final dot or BDAT LAST written.
   */
  readonly progress: { dataStarted: boolean; finalSent: boolean };
  /**
   * Called, alone on the session, after a refused envelope: true when it
   * authenticated (after RSET) and the envelope may be tried once more
   * (SPEC §4: AUTH after 530).
   */
  readonly recover?: ((error: unknown) => Promise<boolean>) | undefined;
  /** Told the octets of the message read and written so far, as the data goes (a stream: after each chunk). */
  readonly onProgress?: ((bytesIn: number) => void) | undefined;
  /** The message, for the trace: the transaction's lines and notes carry it. */
  readonly message?: TraceMessage | undefined;
}

export interface TransactionResult {
  /** Recipients accepted (LMTP: delivered to). */
  readonly accepted: readonly string[];
  readonly rejected: readonly RefusedRecipient[];
  /** The reply to the final dot or BDAT LAST (often carries the queue id); LMTP: the first recipient delivered's. */
  readonly reply: Reply;
  /** Octets of message content sent (header block and body, before line-end normalisation and dot-stuffing). */
  readonly bytesIn: number;
}

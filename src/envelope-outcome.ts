/**
 * What a transaction's envelope came to: the recipients accepted and refused,
 * and the rule (Emacs's) that one refusal fails the message unless `partial`.
 * Shared by the general transaction (transaction.ts) and the one-write BDAT
 * transaction (eager.ts).
 */
import { SmtpProtocolError, type RefusedRecipient } from './errors.js';
import { replyText, type Reply } from './reply.js';
import { matches, shown } from './session.js';

/** A transaction's commands, encoded (and so validated) before anything is written. */
export interface Plan {
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly to: readonly string[];
  readonly pipelining: boolean;
  readonly chunking: boolean;
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
    const refused = outcome.rejected.length === 0 ? '' : `; refused before it: ${outcome.rejected.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ')}`;
    throw new SmtpProtocolError('ERECIPIENT', `Sending failed: ${replyText(reply)} in response to ${shown(command)}${refused}`, {
      reply,
      command: shown(command),
      rejected: [...outcome.rejected],
      transient: true,
    });
  } else outcome.rejected.push({ recipient, reply });
}

/** Emacs semantics: one refused recipient fails the message, unless `partial`. */
export function refuseUnlessDeliverable(outcome: EnvelopeOutcome, partial: boolean, plan: Plan): void {
  const { accepted, rejected } = outcome;
  if (rejected.length === 0 || (partial && accepted.length > 0)) return;
  const first = rejected[0] as RefusedRecipient;
  const command = shown(plan.rcpts[plan.to.indexOf(first.recipient)] ?? '');
  const list = rejected.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ');
  const message = rejected.length === 1 && accepted.length === 0
    ? `Sending failed: ${replyText(first.reply)} in response to ${command}`
    : `Sending failed: ${rejected.length} of ${plan.to.length} recipients refused: ${list}`;
  throw new SmtpProtocolError('ERECIPIENT', message, {
    reply: first.reply,
    command,
    rejected,
    transient: rejected.every((r) => r.reply.code < 500),
  });
}

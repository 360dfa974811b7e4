/**
 * LMTP's answer to a message (RFC 2033 §4.2): after the final dot, or BDAT
 * LAST (RFC 3030 with RFC 2033 §4.3), one reply for each recipient accepted at
 * RCPT, in RCPT order, each saying whether the message was delivered to that
 * recipient. The message may so reach some recipients and not others.
 *
 * What that means for a send: with `partial`, the recipients it reached are
 * `accepted` and the others `rejected`, as for refusals at RCPT. Without it,
 * one refusal fails the send (ERECIPIENT, as for SMTP), and the error says
 * who got the message (`delivered`): it is never sent again by the library,
 * since a retry would deliver it a second time to those. A connection lost
 * among the replies is EUNKNOWN_DELIVERY with the recipients known to have it.
 */
import { SmtpProtocolError, type RefusedRecipient } from '../errors.js';
import { lmtpPartlyDelivered } from '../hints.js';
import { replyText, type Reply } from '../wire/reply.js';
import type { EnvelopeOutcome } from './plan.js';
import { matches, type SmtpSession } from './session.js';

/** What the per-recipient replies came to. */
export interface Deliveries {
  /** The recipients the message was delivered to, in RCPT order. */
  readonly accepted: readonly string[];
  /** Refused at RCPT (with `partial`), then refused after the message. */
  readonly rejected: readonly RefusedRecipient[];
  /** The reply for the first recipient delivered (Dovecot's carries the session id). */
  readonly reply: Reply;
}

/**
 * Reads one reply per recipient in `envelope.accepted` (the first may already be here) and decides the send.
 * `command` names what they answer ('.' or 'BDAT'). Throws as the module doc says.
 */
export async function readDeliveries(
  session: SmtpSession,
  command: string,
  envelope: EnvelopeOutcome,
  partial: boolean,
): Promise<Deliveries> {
  const connection = session.connection;
  const delivered: string[] = [];
  const refused: RefusedRecipient[] = [];
  let first: Reply | undefined;
  for (const recipient of envelope.accepted) {
    let reply: Reply;
    try {
      reply =
        connection.tryRead() ??
        (await connection.read(session.timeouts.dataEnd, `the reply to ${command} for <${recipient}>`));
    } catch (error) {
      throw lostAmongReplies(error as Error, delivered, refused, envelope, recipient);
    }
    // Any 2xx: delivered (a retry must not count on anything else); RFC 2033 gives 250.
    if (matches(reply, 2)) {
      delivered.push(recipient);
      first ??= reply;
    } else refused.push({ recipient, reply });
  }
  const rejected = [...envelope.rejected, ...refused];
  if (refused.length === 0 || (partial && first !== undefined)) {
    return { accepted: delivered, rejected, reply: first as Reply };
  }
  throw refusedAfterMessage(command, delivered, rejected, refused);
}

/** One refusal (or more) after the message, and no `partial` (or nobody got it). */
function refusedAfterMessage(
  command: string,
  delivered: readonly string[],
  rejected: readonly RefusedRecipient[],
  refused: readonly RefusedRecipient[],
): SmtpProtocolError {
  const firstRefusal = refused[0] as RefusedRecipient;
  const list = (recipients: readonly RefusedRecipient[]): string =>
    recipients.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ');
  const total = delivered.length + rejected.length;
  const message =
    rejected.length === 1 && delivered.length === 0
      ? `Sending failed: ${replyText(firstRefusal.reply)} in response to ${command} for <${firstRefusal.recipient}>`
      : delivered.length === 0
        ? `Sending failed: delivered to none of ${total} recipients: ${list(rejected)}`
        : `Sending failed: delivered to ${delivered.length} of ${total} recipients ` +
          `(${delivered.map((r) => `<${r}>`).join(', ')}); not to ${list(rejected)}`;
  return new SmtpProtocolError('ERECIPIENT', message, {
    reply: firstRefusal.reply,
    command,
    rejected,
    delivered,
    // Sending again is worth it only when nobody got the message and every refusal may pass.
    transient: delivered.length === 0 && rejected.every((r) => r.reply.code < 500),
    hint: delivered.length === 0 ? undefined : lmtpPartlyDelivered(delivered, rejected),
  });
}

/** The connection failed while the replies came: each recipient not yet answered for may or may not have it. */
function lostAmongReplies(
  cause: Error,
  delivered: readonly string[],
  refused: readonly RefusedRecipient[],
  envelope: EnvelopeOutcome,
  pending: string,
): SmtpProtocolError {
  const unknown = envelope.accepted.slice(envelope.accepted.indexOf(pending));
  const known =
    delivered.length === 0 ? '' : `; delivered to ${delivered.map((r) => `<${r}>`).join(', ')} before it failed`;
  return new SmtpProtocolError(
    'EUNKNOWN_DELIVERY',
    `the connection failed after the message was sent, before the server answered for ` +
      `${unknown.map((r) => `<${r}>`).join(', ')}: the message may or may not have reached ` +
      `${unknown.length === 1 ? 'that recipient' : 'those recipients'}${known} (${cause.message})`,
    { cause, transient: false, delivered, rejected: [...envelope.rejected, ...refused] },
  );
}

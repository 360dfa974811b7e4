/**
 * The one-write transaction (PIPELINING and CHUNKING, RFC 2920 and 3030):
 * MAIL, RCPT and `BDAT n LAST` with the whole message in memory go out in one
 * write, and the next transaction may write at once. Used only when no
 * refusal could need the message called back (one recipient, or `partial`):
 * nothing can stop a BDAT LAST once sent. Everything after that write might
 * have been delivered, so a lost connection is EUNKNOWN_DELIVERY. With LMTP,
 * BDAT LAST has one reply per recipient accepted (lmtp-replies.ts).
 *
 * This runs once per message on a busy connection: a reply already received
 * is taken at once, and only one that is still to come is awaited.
 */
import * as commands from '../wire/commands.js';
import { MessageEncoder } from '../wire/data-encoder.js';
import {
  record,
  refuseUnlessDeliverable,
  type EnvelopeOutcome,
  type Plan,
  type TransactionOptions,
  type TransactionResult,
} from './plan.js';
import { SmtpProtocolError } from '../errors.js';
import { accepted, unknownDelivery } from './message-data.js';
import { readDeliveries } from './lmtp-replies.js';
import type { Reply } from '../wire/reply.js';
import { matches, shown, type SmtpSession } from './session.js';
import type { Turn } from './pipeline-turns.js';

/** A message held in memory: the prepared header block and the body. */
export interface EagerContent {
  readonly head: Buffer;
  readonly body: Buffer;
  /** See MessageContent. */
  readonly lineEndsClean?: boolean | undefined;
}

/** Runs the transaction with `turn` held; releases it. */
export async function eagerTransaction(
  session: SmtpSession,
  turn: Turn,
  plan: Plan,
  content: EagerContent,
  options: TransactionOptions,
): Promise<TransactionResult> {
  const connection = session.connection;
  const timeout = session.timeouts.command;
  try {
    const payload = bdatPayload(content);
    // The payload is the message with CRLF line ends: its length is the SIZE (RFC 1870), with no second scan.
    let size = 0;
    for (const part of payload) size += part.length;
    const bytesIn = content.head.length + content.body.length;
    const mail = commands.mailFrom(plan.from, options.params(size));
    options.progress.dataStarted = options.progress.finalSent = true;
    connection.send([mail, ...plan.rcpts, `BDAT ${size} LAST\r\n`], payload);
    // LMTP: BDAT LAST is answered once per recipient accepted, which only the RCPT replies will tell: owe one per
    // recipient, and keep the write turn (nothing written after ours) until the count is set right.
    const owed = plan.lmtp ? plan.rcpts.length : 1;
    connection.expectReplies(owed - 1);
    if (owed === 1) turn.releaseWrites();
    options.onProgress?.(bytesIn);
    if (!options.traceData && connection.tracing) connection.note(`${bytesIn} octets of message data sent by BDAT`);

    // The replies to MAIL and each RCPT, once every earlier transaction has read its own.
    const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
    let mailReply: Reply;
    try {
      if (!turn.readable) await turn.reads();
      // Replies already here are taken without waiting (this runs once per message on a busy connection).
      mailReply = connection.tryRead() ?? (await connection.read(timeout, 'the reply to MAIL'));
      // 421: the server is closing and will not take the message (record() throws for an RCPT's 421).
      if (mailReply.code === 421) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
      for (let i = 0; i < plan.rcpts.length; i++) {
        const rcpt = plan.rcpts[i] as string;
        const reply = connection.tryRead() ?? (await connection.read(timeout, `the reply to ${shown(rcpt)}`));
        record(outcome, plan.to[i] as string, reply, rcpt);
      }
      // No recipient accepted (or the sender refused): BDAT LAST gets one reply, a refusal (RFC 2033 §4.2).
      const due = matches(mailReply, 250) ? Math.max(1, outcome.accepted.length) : 1;
      connection.cancelReplies(owed - due);
      turn.releaseWrites();
    } catch (error) {
      if (error instanceof SmtpProtocolError && error.reply?.code === 421) throw error;
      throw unknownDelivery(error as Error);
    }
    // A refused sender or recipient decides the message; the BDAT reply still belongs to this transaction.
    let refusal: unknown;
    try {
      if (!matches(mailReply, 250)) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
      refuseUnlessDeliverable(outcome, options.partial, plan);
    } catch (error) {
      refusal = error;
    }
    if (plan.lmtp && refusal === undefined)
      return { ...(await readDeliveries(session, 'BDAT', outcome, options.partial)), bytesIn };
    let final: Reply;
    try {
      final = connection.tryRead() ?? (await connection.read(session.timeouts.dataEnd, 'the reply to BDAT'));
    } catch (error) {
      throw refusal ?? unknownDelivery(error as Error);
    }
    if (refusal !== undefined) throw refusal;
    return { accepted: outcome.accepted, rejected: outcome.rejected, reply: accepted(final, 'BDAT'), bytesIn };
  } finally {
    turn.release();
  }
}

/**
 * The message as BDAT sends it: line ends made CRLF, the last line ended
 * (RFC 3030 §2). A message whose line ends are all CRLF already, ending with
 * one, goes as it is; any other goes through the encoder.
 */
function bdatPayload(content: EagerContent): Buffer[] {
  const encoder = new MessageEncoder(content.head, content.body, { dotStuffing: false, clean: content.lineEndsClean });
  const parts: Buffer[] = [];
  for (let block = encoder.next(); block !== undefined; block = encoder.next()) if (block.length > 0) parts.push(block);
  return parts;
}

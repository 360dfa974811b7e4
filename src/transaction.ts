/**
 * One mail transaction: MAIL, RCPT for each recipient, then DATA and the
 * message, or BDAT chunks (RFC 3030). With PIPELINING (RFC 2920) MAIL, every
 * RCPT and DATA go in one write and their replies are matched in order, and
 * the next transaction's commands may follow this one's final dot before its
 * reply arrives (turns.ts keeps the replies in order). Without PIPELINING,
 * strictly one command at a time.
 */
import * as commands from './commands.js';
import { DataEncoder } from './data.js';
import { SmtpProtocolError, type RefusedRecipient } from './errors.js';
import { finalReply, writeChunks, writeData, type MessageContent } from './message-writer.js';
import { replyText, type Reply } from './reply.js';
import { matches, shown, type SmtpSession } from './session.js';
import type { Turn } from './turns.js';

export type { MessageBody, MessageContent } from './message-writer.js';

export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
}

export interface TransactionOptions {
  /** MAIL FROM's parameters; `size` is given when the transaction already knows the message size on the wire. */
  readonly params: (size: number | undefined) => commands.MailParameters;
  /** Deliver to the accepted recipients when others are refused (default: fail the message). */
  readonly partial: boolean;
  readonly traceData: boolean;
  /** Use BDAT when the server offers CHUNKING. */
  readonly chunking: boolean;
  /** Set once message data starts to flow: a streamed body cannot be sent again after that. */
  readonly progress: { dataStarted: boolean };
  /**
   * Called, alone on the session, after a refused envelope: true when it
   * authenticated (after RSET) and the envelope may be tried once more
   * (SPEC §4: AUTH after 530).
   */
  readonly recover?: ((error: unknown) => Promise<boolean>) | undefined;
}

export interface TransactionResult {
  readonly accepted: readonly string[];
  readonly rejected: readonly RefusedRecipient[];
  /** The reply to the final dot or BDAT LAST (often carries the queue id). */
  readonly reply: Reply;
  /** Octets of message content sent (header block and body, before line-end normalisation and dot-stuffing). */
  readonly bytesIn: number;
}

interface Plan {
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly to: readonly string[];
  readonly pipelining: boolean;
  readonly chunking: boolean;
}

/**
 * Runs the transaction. Every command is encoded (and so validated) before
 * anything is written. When the message must not be sent after DATA was
 * already accepted (pipelined refusals), the connection is dropped without the
 * final dot, so that nothing is delivered.
 */
export async function transact(session: SmtpSession, envelope: Envelope, content: MessageContent, options: TransactionOptions): Promise<TransactionResult> {
  const caps = session.capabilities;
  const plan: Plan = {
    from: envelope.from,
    rcpts: envelope.to.map((to) => commands.rcptTo(to)),
    to: envelope.to,
    pipelining: caps.has('PIPELINING'),
    chunking: options.chunking && caps.has('CHUNKING'),
  };
  const taken = session.turn();
  const turn = taken instanceof Promise ? await taken : taken;
  try {
    // Nothing can call a message back once it went out with BDAT LAST: only when no refusal could need that.
    const eager = plan.pipelining && plan.chunking && Buffer.isBuffer(content.body) && options.recover === undefined &&
      !session.needsReset && (options.partial || plan.to.length === 1);
    if (eager) return await eagerChunks(session, turn, plan, content, options);
    const mail = commands.mailFrom(plan.from, options.params(undefined));
    const outcome = await envelopeWithRecovery(session, turn, mail, plan, options);
    options.progress.dataStarted = true;
    let reply: Reply;
    let bytesIn: number;
    if (plan.chunking) {
      const sent = await writeChunks(session, content, options.traceData);
      if (plan.pipelining) turn.releaseWrites();
      bytesIn = sent.bytesIn;
      reply = await finalReply(session, 'BDAT', sent.earlier);
    } else {
      bytesIn = await writeData(session, content, options.traceData);
      if (plan.pipelining) turn.releaseWrites();
      reply = await finalReply(session, '.');
    }
    return { ...outcome, reply, bytesIn };
  } finally {
    turn.release();
  }
}

interface EnvelopeOutcome {
  readonly accepted: string[];
  readonly rejected: RefusedRecipient[];
}

async function envelopeWithRecovery(session: SmtpSession, turn: Turn, mail: string, plan: Plan, options: TransactionOptions): Promise<EnvelopeOutcome> {
  for (let round = 0; ; round++) {
    try {
      return await sendEnvelope(session, turn, mail, plan, options.partial, round === 0 && options.recover !== undefined);
    } catch (error) {
      if (session.connection.failure !== undefined) throw error;
      // Whatever the refusal left open is reset before the next transaction (lazily: not before QUIT).
      session.needsReset = true;
      if (round > 0 || options.recover === undefined || !(await options.recover(error))) throw error;
    }
  }
}

/** MAIL, RCPTs and (unless BDAT follows) DATA; pipelined when offered. */
async function sendEnvelope(session: SmtpSession, turn: Turn, mail: string, plan: Plan, partial: boolean, recoverable: boolean): Promise<EnvelopeOutcome> {
  const connection = session.connection;
  const timeout = session.timeouts.command;
  const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
  if (!plan.pipelining) {
    await turn.reads();
    if (session.needsReset) await session.rset();
    await session.mail(mail);
    for (const [i, rcpt] of plan.rcpts.entries()) record(outcome, plan.to[i] as string, await session.rcpt(rcpt));
    refuseUnlessDeliverable(outcome, partial, plan);
    if (!plan.chunking) await session.data();
    return outcome;
  }
  const reset = session.needsReset;
  // DATA joins the group only when no refusal could leave the server waiting for a message we must not
  // send: one recipient (a refusal then makes DATA fail too), or `partial` with no AUTH retry possible.
  // Otherwise DATA follows the RCPT replies: one more round trip, and a refusal costs nothing.
  const pipelineData = !plan.chunking && (plan.to.length === 1 || (partial && !recoverable));
  const group = pipelineData ? [mail, ...plan.rcpts, commands.data()] : [mail, ...plan.rcpts];
  connection.send(reset ? [commands.rset(), ...group] : group);
  await turn.reads();
  if (reset) await session.resetReply();
  const mailReply = await connection.read(timeout, 'the reply to MAIL');
  for (const [i, rcpt] of plan.rcpts.entries()) {
    record(outcome, plan.to[i] as string, await connection.read(timeout, () => `the reply to ${shown(rcpt)}`));
  }
  const dataReply = pipelineData ? await connection.read(timeout, 'the reply to DATA') : undefined;
  try {
    if (!matches(mailReply, 250)) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
    refuseUnlessDeliverable(outcome, partial, plan);
    if (dataReply !== undefined && dataReply.code !== 354) throw SmtpProtocolError.fromReply('EDATA', dataReply, 'DATA');
  } catch (error) {
    // The server is waiting for the message: leaving without the final dot delivers nothing.
    if (dataReply?.code === 354) connection.fail(error as SmtpProtocolError);
    throw error;
  }
  if (!pipelineData && !plan.chunking) await session.data();
  return outcome;
}

/**
 * PIPELINING and CHUNKING, a message in memory, one recipient (or `partial`):
 * MAIL, RCPT and `BDAT n LAST` with the whole message in one write, and the
 * next transaction may write at once. Everything after that write might
 * have been delivered, so a lost connection is EUNKNOWN_DELIVERY.
 */
async function eagerChunks(session: SmtpSession, turn: Turn, plan: Plan, content: MessageContent, options: TransactionOptions): Promise<TransactionResult> {
  const connection = session.connection;
  const timeout = session.timeouts.command;
  const encoder = new DataEncoder({ dotStuffing: false });
  const payload = [encoder.push(content.head), encoder.push(content.body as Buffer), encoder.end()];
  // The payload is the message with CRLF line ends: its length is the SIZE (RFC 1870), no second scan needed.
  const size = (payload[0] as Buffer).length + (payload[1] as Buffer).length + (payload[2] as Buffer).length;
  const mail = commands.mailFrom(plan.from, options.params(size));
  options.progress.dataStarted = true;
  connection.send([mail, ...plan.rcpts, `BDAT ${size} LAST\r\n`], undefined, payload);
  turn.releaseWrites();
  if (!options.traceData && connection.tracing) connection.note(`${encoder.bytesIn} octets of message data sent by BDAT`);
  const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
  let mailReply: Reply;
  try {
    if (!turn.readable) await turn.reads();
    mailReply = await connection.read(timeout, 'the reply to MAIL');
    for (let i = 0; i < plan.rcpts.length; i++) {
      record(outcome, plan.to[i] as string, await connection.read(timeout, () => `the reply to ${shown(plan.rcpts[i] as string)}`));
    }
  } catch (error) {
    throw new SmtpProtocolError('EUNKNOWN_DELIVERY', `the connection failed after the message was sent, before the server confirmed it; it may or may not have been delivered (${(error as Error).message})`, { cause: error, transient: false });
  }
  const final = finalReply(session, 'BDAT');
  try {
    if (!matches(mailReply, 250)) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
    refuseUnlessDeliverable(outcome, options.partial, plan);
  } catch (error) {
    await final.catch(() => undefined); // the BDAT reply (a refusal) belongs to this transaction
    throw error;
  }
  return { accepted: outcome.accepted, rejected: outcome.rejected, reply: await final, bytesIn: encoder.bytesIn };
}

function record(outcome: EnvelopeOutcome, recipient: string, reply: Reply): void {
  if (matches(reply, 25)) outcome.accepted.push(recipient);
  else outcome.rejected.push({ recipient, reply });
}

/** Emacs semantics: one refused recipient fails the message, unless `partial`. */
function refuseUnlessDeliverable(outcome: EnvelopeOutcome, partial: boolean, plan: Plan): void {
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

/**
 * One mail transaction: MAIL, RCPT for each recipient, then DATA and the
 * message, or BDAT chunks (RFC 3030). With PIPELINING (RFC 2920) MAIL, every
 * RCPT and DATA go in one write and their replies are matched in order, and
 * the next transaction's commands may follow this one's final dot before its
 * reply arrives (pipeline-turns.ts keeps the replies in order). Without PIPELINING,
 * strictly one command at a time.
 */
import * as commands from '../wire/commands.js';
import { MessageEncoder } from '../wire/data-encoder.js';
import { normalizedSize } from '../wire/line-ends.js';
import { eagerTransaction, type EagerContent } from './one-write-bdat.js';
import {
  record,
  refuseUnlessDeliverable,
  type EnvelopeOutcome,
  type Plan,
  type TransactionOptions,
  type TransactionResult,
} from './plan.js';
import { SmtpProtocolError } from '../errors.js';
import { chunkRefusal, finalReply, writeChunks, writeData, type MessageContent } from './message-data.js';
import { readDeliveries } from './lmtp-replies.js';
import type { Envelope } from '../message/prepare.js';
import { matches, shown, type SmtpSession } from './session.js';
import type { Turn } from './pipeline-turns.js';

export type { MessageContent } from './message-data.js';

/**
 * Runs the transaction. Every command is encoded (and so validated) before
 * anything is written. When the message must not be sent after DATA was
 * already accepted (pipelined refusals), the connection is dropped without the
 * final dot, so that nothing is delivered.
 */
export function transact(
  session: SmtpSession,
  envelope: Envelope,
  content: MessageContent,
  options: TransactionOptions,
): Promise<TransactionResult> {
  let plan: Plan;
  try {
    const caps = session.capabilities;
    plan = {
      from: envelope.from,
      rcpts: envelope.to.map((to) => commands.rcptTo(to, options.rcptParams)),
      to: envelope.to,
      pipelining: caps.has('PIPELINING'),
      chunking: caps.has('CHUNKING') && options.chunking !== false,
      lmtp: session.target.lmtp,
    };
  } catch (error) {
    return Promise.reject(error);
  }
  const free = session.tryTurn();
  if (free !== undefined) return withTurn(session, free, plan, content, options);
  return session.turn().then((turn) => withTurn(session, turn, plan, content, options));
}

/**
 * With the turn held (each path releases it): in one write when nothing could need the message called back, else step
 * by step.
 */
function withTurn(
  session: SmtpSession,
  turn: Turn,
  plan: Plan,
  content: MessageContent,
  options: TransactionOptions,
): Promise<TransactionResult> {
  // This transaction writes now: its lines (and the replies owed to them) are traced with its message.
  const connection = session.connection;
  const message = options.message;
  connection.message = message;
  // After BDAT LAST nothing can call a message back: only when no refusal could need that (and no RSET is owed).
  const eager =
    plan.pipelining &&
    plan.chunking &&
    Buffer.isBuffer(content.body) &&
    options.recover === undefined &&
    !session.needsReset &&
    (options.partial || plan.to.length === 1);
  const done = eager
    ? eagerTransaction(session, turn, plan, content as EagerContent, options)
    : stepByStep(session, turn, plan, content, options);
  if (message === undefined) return done;
  const untag = (): void => {
    if (connection.message === message) connection.message = undefined;
  };
  done.then(untag, untag);
  return done;
}

async function stepByStep(
  session: SmtpSession,
  turn: Turn,
  plan: Plan,
  content: MessageContent,
  options: TransactionOptions,
): Promise<TransactionResult> {
  try {
    // A message in memory is measured once, by its encoder: SIZE before MAIL, and whether its line ends need repair
    // (one that needs none goes as it is).
    const body = Buffer.isBuffer(content.body) ? content.body : undefined;
    const encoder =
      body !== undefined && !plan.chunking
        ? new MessageEncoder(content.head, body, { clean: content.lineEndsClean })
        : undefined;
    const size =
      encoder?.size ??
      (body !== undefined
        ? normalizedSize(content.head) + normalizedSize(body)
        : content.bodyWireSize === undefined
          ? undefined
          : normalizedSize(content.head) + content.bodyWireSize);
    const mail = commands.mailFrom(plan.from, options.params(size));
    const outcome = await envelopeWithRecovery(session, turn, mail, plan, options);
    options.progress.dataStarted = true;
    // LMTP: one reply per recipient accepted, owed from the moment the final dot (or BDAT LAST) goes.
    const finals = plan.lmtp ? outcome.accepted.length : 1;
    const command = plan.chunking ? 'BDAT' : '.';
    let earlier = 0;
    let bytesIn: number;
    if (plan.chunking) {
      const sent = await writeChunks(session, content, options.traceData, options.onProgress, finals);
      earlier = sent.earlier;
      bytesIn = sent.bytesIn;
    } else {
      bytesIn = await writeData(session, content, options.traceData, encoder, options.onProgress, finals);
    }
    options.progress.finalSent = true;
    if (plan.pipelining) turn.releaseWrites();
    if (plan.lmtp) {
      const refusal = await chunkRefusal(session, earlier);
      if (refusal !== undefined) {
        // How many replies an LMTP server gives BDAT LAST after refusing a chunk is not said (RFC 2033 §4.2 counts
        // them for a transaction that went through): the connection cannot be read in step any more.
        session.connection.close();
        throw refusal;
      }
      return { ...(await readDeliveries(session, command, outcome, options.partial)), bytesIn };
    }
    const reply = await finalReply(session, command, earlier);
    return { ...outcome, reply, bytesIn };
  } finally {
    turn.release();
  }
}

async function envelopeWithRecovery(
  session: SmtpSession,
  turn: Turn,
  mail: string,
  plan: Plan,
  options: TransactionOptions,
): Promise<EnvelopeOutcome> {
  for (let round = 0; ; round++) {
    try {
      return await sendEnvelope(
        session,
        turn,
        mail,
        plan,
        options.partial,
        round === 0 && options.recover !== undefined,
      );
    } catch (error) {
      if (session.connection.failure !== undefined) throw error;
      // Whatever the refusal left open is reset before the next transaction (lazily: not before QUIT).
      session.needsReset = true;
      if (round > 0 || options.recover === undefined || !(await options.recover(error))) throw error;
    }
  }
}

/** MAIL, RCPTs and (unless BDAT follows) DATA; pipelined when offered. */
async function sendEnvelope(
  session: SmtpSession,
  turn: Turn,
  mail: string,
  plan: Plan,
  partial: boolean,
  recoverable: boolean,
): Promise<EnvelopeOutcome> {
  const connection = session.connection;
  const timeout = session.timeouts.command;
  const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
  if (!plan.pipelining) {
    await turn.reads();
    if (session.needsReset) await session.rset();
    await session.mail(mail);
    for (const [i, rcpt] of plan.rcpts.entries()) record(outcome, plan.to[i] as string, await session.rcpt(rcpt), rcpt);
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
  // 421: the server is closing (the connection has failed): nothing more will come.
  if (mailReply.code === 421) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
  for (const [i, rcpt] of plan.rcpts.entries()) {
    record(outcome, plan.to[i] as string, await connection.read(timeout, `the reply to ${shown(rcpt)}`), rcpt);
  }
  const dataReply = pipelineData ? await connection.read(timeout, 'the reply to DATA') : undefined;
  try {
    if (!matches(mailReply, 250)) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
    refuseUnlessDeliverable(outcome, partial, plan);
    if (dataReply !== undefined && dataReply.code !== 354)
      throw SmtpProtocolError.fromReply('EDATA', dataReply, 'DATA');
  } catch (error) {
    // The server is waiting for the message: leaving without the final dot delivers nothing.
    if (dataReply?.code === 354) connection.fail(error as SmtpProtocolError);
    throw error;
  }
  if (!pipelineData && !plan.chunking) await session.data();
  return outcome;
}

/**
 * One mail transaction: MAIL, RCPT for each recipient, DATA, the message, the
 * final dot (RFC 5321 §3.3). With PIPELINING (RFC 2920) MAIL, every RCPT and
 * DATA go in one write and their replies are matched in order: two round
 * trips per message.
 */
import * as commands from './commands.js';
import { DataEncoder } from './data.js';
import { SmtpProtocolError, type RefusedRecipient } from './errors.js';
import { replyText, type Reply } from './reply.js';
import { matches, shown, type SmtpSession } from './session.js';
import { DataTracer } from './trace.js';

/** A message body: bytes in memory, or a stream read with back-pressure. */
export type MessageBody = Buffer | AsyncIterable<Buffer | Uint8Array | string>;

export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
}

/** What goes after DATA: the prepared header block, then the body as given. */
export interface MessageContent {
  readonly head: Buffer;
  readonly body: MessageBody;
}

export interface TransactionOptions {
  readonly params: commands.MailParameters;
  /** Deliver to the accepted recipients when others are refused (default: fail the message). */
  readonly partial: boolean;
  readonly traceData: boolean;
  /** Set once message data starts to flow: a streamed body cannot be sent again after that. */
  readonly progress: { dataStarted: boolean };
}

export interface TransactionResult {
  readonly accepted: readonly string[];
  readonly rejected: readonly RefusedRecipient[];
  /** The reply to the final dot (often carries the queue id). */
  readonly reply: Reply;
  /** Octets of message content sent (header block and body, before line-end normalisation and dot-stuffing). */
  readonly bytesIn: number;
}

/**
 * Runs the transaction. Every command is encoded (and so validated) before
 * anything is written. When the message must not be sent after DATA was
 * already accepted (pipelined refusals), the connection is dropped without the
 * final dot, so that nothing is delivered.
 */
export async function transact(session: SmtpSession, envelope: Envelope, content: MessageContent, options: TransactionOptions): Promise<TransactionResult> {
  const mail = commands.mailFrom(envelope.from, options.params);
  const rcpts = envelope.to.map((to) => commands.rcptTo(to));
  const { accepted, rejected } = session.capabilities.has('PIPELINING')
    ? await pipelinedEnvelope(session, mail, rcpts, envelope.to, options.partial)
    : await stepwiseEnvelope(session, mail, rcpts, envelope.to, options.partial);
  options.progress.dataStarted = true;
  const bytesIn = await writeBody(session, content, options.traceData);
  const reply = await finalReply(session);
  return { accepted, rejected, reply, bytesIn };
}

interface EnvelopeOutcome {
  readonly accepted: string[];
  readonly rejected: RefusedRecipient[];
}

async function stepwiseEnvelope(session: SmtpSession, mail: string, rcpts: readonly string[], to: readonly string[], partial: boolean): Promise<EnvelopeOutcome> {
  await session.mail(mail);
  const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
  for (const [i, rcpt] of rcpts.entries()) {
    record(outcome, to[i] as string, await session.rcpt(rcpt));
  }
  refuseUnlessDeliverable(outcome, partial, rcpts, to);
  await session.data();
  return outcome;
}

async function pipelinedEnvelope(session: SmtpSession, mail: string, rcpts: readonly string[], to: readonly string[], partial: boolean): Promise<EnvelopeOutcome> {
  const connection = session.connection;
  const data = commands.data();
  connection.send([mail, ...rcpts, data]);
  const timeout = session.timeouts.command;
  const mailReply = await connection.read(timeout, 'the reply to MAIL');
  const outcome: EnvelopeOutcome = { accepted: [], rejected: [] };
  for (const [i, rcpt] of rcpts.entries()) {
    record(outcome, to[i] as string, await connection.read(timeout, `the reply to ${shown(rcpt)}`));
  }
  const dataReply = await connection.read(timeout, 'the reply to DATA');
  try {
    if (!matches(mailReply, 250)) throw SmtpProtocolError.fromReply('ESENDER', mailReply, shown(mail));
    refuseUnlessDeliverable(outcome, partial, rcpts, to);
    if (dataReply.code !== 354) throw SmtpProtocolError.fromReply('EDATA', dataReply, 'DATA');
  } catch (error) {
    // The server is waiting for the message: leaving without the final dot delivers nothing.
    if (dataReply.code === 354) connection.fail(error as SmtpProtocolError);
    throw error;
  }
  return outcome;
}

function record(outcome: EnvelopeOutcome, recipient: string, reply: Reply): void {
  if (matches(reply, 25)) outcome.accepted.push(recipient);
  else outcome.rejected.push({ recipient, reply });
}

/** Emacs semantics: one refused recipient fails the message, unless `partial`. */
function refuseUnlessDeliverable(outcome: EnvelopeOutcome, partial: boolean, rcpts: readonly string[], to: readonly string[]): void {
  const { accepted, rejected } = outcome;
  if (rejected.length === 0 || (partial && accepted.length > 0)) return;
  const first = rejected[0] as RefusedRecipient;
  const command = shown(rcpts[to.indexOf(first.recipient)] ?? '');
  const list = rejected.map((r) => `<${r.recipient}> (${replyText(r.reply)})`).join('; ');
  const message = rejected.length === 1 && accepted.length === 0
    ? `Sending failed: ${replyText(first.reply)} in response to ${command}`
    : `Sending failed: ${rejected.length} of ${to.length} recipients refused: ${list}`;
  throw new SmtpProtocolError('ERECIPIENT', message, {
    reply: first.reply,
    command,
    rejected,
    transient: rejected.every((r) => r.reply.code < 500),
  });
}

/** Streams the message through the dot-stuffing encoder, honouring back-pressure. */
async function writeBody(session: SmtpSession, content: MessageContent, traceData: boolean): Promise<number> {
  const connection = session.connection;
  const encoder = new DataEncoder();
  const tracer = traceData ? new DataTracer((event) => connection.trace(event)) : undefined;
  const timeout = session.timeouts.dataBlock;
  const put = async (chunk: Buffer): Promise<void> => {
    tracer?.push(chunk);
    await connection.write(chunk, timeout, 'the server to accept message data');
  };
  const source = chunks(content.body);
  try {
    await put(encoder.push(content.head));
    for (;;) {
      // A stalled source must not outlive an abort or a dropped connection.
      const next = await Promise.race([source.next(), connection.failed]);
      if (next.done === true) break;
      await put(encoder.push(next.value));
    }
    await put(encoder.end());
  } catch (error) {
    void source.return(undefined).catch(() => {});
    const failure = error instanceof SmtpProtocolError
      ? error
      : new SmtpProtocolError('EINPUT', `reading the message failed: ${(error as Error).message}`, { cause: error });
    // Without the final dot the server discards what it received.
    connection.fail(failure);
    throw failure;
  }
  tracer?.end();
  if (!traceData) connection.note(`${encoder.bytesIn} octets of message data sent`);
  return encoder.bytesIn;
}

const BLOCK_BYTES = 1 << 20;

/** A Buffer in blocks (so that back-pressure applies to large ones too), or the stream's chunks. */
async function* chunks(body: MessageBody): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    for (let at = 0; at < body.length; at += BLOCK_BYTES) yield body.subarray(at, at + BLOCK_BYTES);
    return;
  }
  for await (const chunk of body) {
    yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * The reply to the final dot. A connection lost here is never retried: the
 * server may have delivered the message (RFC 1047), hence its own code.
 */
async function finalReply(session: SmtpSession): Promise<Reply> {
  let reply: Reply;
  try {
    reply = await session.connection.read(session.timeouts.dataEnd, 'the reply to the final dot');
  } catch (error) {
    const cause = error as SmtpProtocolError;
    throw new SmtpProtocolError('EUNKNOWN_DELIVERY', `the connection failed after the message was sent, before the server confirmed it; it may or may not have been delivered (${cause.message})`, { cause, transient: false });
  }
  if (!matches(reply, 250)) throw SmtpProtocolError.fromReply(reply.code === 552 ? 'ESIZE' : 'EDATA', reply, '.');
  return reply;
}

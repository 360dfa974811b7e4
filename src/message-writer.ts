/**
 * Message content on the wire: after 354 through the dot-stuffing encoder
 * (RFC 5321 §4.5.2), or as BDAT chunks (RFC 3030) with line ends normalised
 * and no dot-stuffing. Back-pressure is honoured; a stalled source gives way
 * to an abort or a dropped connection.
 */
import { isAscii } from 'node:buffer';
import { DataEncoder } from './data.js';
import { SmtpProtocolError } from './errors.js';
import type { Reply } from './reply.js';
import { ScratchPool } from './scratch.js';
import { matches, type SmtpSession } from './session.js';
import { DataTracer } from './trace.js';

/** A message body: bytes in memory, or a stream of Buffers (prepare.ts converts what callers give). */
export type MessageBody = Buffer | AsyncIterable<Buffer>;

/** What goes after DATA: the prepared header block, then the body as given. */
export interface MessageContent {
  readonly head: Buffer;
  readonly body: MessageBody;
  /** A streamed body's size with CRLF line ends, when measured beforehand (SIZE=). */
  readonly bodyWireSize?: number | undefined;
  /** Whether a streamed body has 8-bit octets, when measured beforehand. */
  readonly bodyEightBit?: boolean | undefined;
}

const BLOCK_BYTES = 1 << 20;
const WAIT_FOR_WRITE = 'the server to accept message data';

/**
 * After 354: the message, dot-stuffed, and the final dot. Returns the octets
 * read from the message. `crlfChecked`: the caller found every line end of
 * the message (in memory) to be CRLF already, so only dots need work.
 */
export async function writeData(session: SmtpSession, content: MessageContent, traceData: boolean, crlfChecked = false): Promise<number> {
  const connection = session.connection;
  const encoder = new DataEncoder({ crlfChecked });
  const tracer = traceData ? new DataTracer((event) => connection.trace(event)) : undefined;
  const timeout = session.timeouts.dataBlock;
  // The final dot is owed a reply (the BDAT LAST command is counted when it is sent).
  await pump(session, content, encoder, true, async (bytes, release) => {
    tracer?.push(bytes);
    await connection.write(bytes, timeout, WAIT_FOR_WRITE, release);
  });
  tracer?.end();
  if (!traceData && connection.tracing) connection.note(`${encoder.bytesIn} octets of message data sent`);
  return encoder.bytesIn;
}

/**
 * The message as BDAT chunks of up to about BLOCK_BYTES, the last one marked
 * LAST. Returns how many replies are owed before the last one (with
 * PIPELINING, one per earlier chunk; without, none: each was read at once).
 */
export async function writeChunks(session: SmtpSession, content: MessageContent, traceData: boolean): Promise<{ earlier: number; bytesIn: number }> {
  const connection = session.connection;
  const encoder = new DataEncoder({ dotStuffing: false });
  const tracer = traceData ? new DataTracer((event) => connection.trace(event)) : undefined;
  const timeout = session.timeouts.dataBlock;
  const pipelining = session.capabilities.has('PIPELINING');
  const parts: Buffer[] = [];
  const releases: (() => void)[] = [];
  let size = 0;
  let earlier = 0;
  const flush = async (last: boolean): Promise<void> => {
    for (const part of parts) tracer?.push(part);
    const lent = releases.splice(0);
    connection.send([`BDAT ${size}${last ? ' LAST' : ''}\r\n`], undefined, parts.splice(0), () => lent.forEach((release) => release()));
    size = 0;
    if (last) return;
    if (pipelining) earlier++;
    else await expectChunkReply(session);
    await connection.drained(timeout, WAIT_FOR_WRITE);
  };
  await pump(session, content, encoder, false, async (bytes, release) => {
    if (release !== undefined) releases.push(release);
    if (bytes.length === 0) return;
    parts.push(bytes);
    size += bytes.length;
    if (size >= BLOCK_BYTES) await flush(false);
  });
  await flush(true);
  await connection.drained(timeout, WAIT_FOR_WRITE);
  tracer?.end();
  if (!traceData && connection.tracing) connection.note(`${encoder.bytesIn} octets of message data sent by BDAT`);
  return { earlier, bytesIn: encoder.bytesIn };
}

/** Without PIPELINING every BDAT but the last is answered before the next one goes. */
async function expectChunkReply(session: SmtpSession): Promise<void> {
  const reply = await session.connection.read(session.timeouts.dataBlock, 'the reply to BDAT');
  if (!matches(reply, 250)) throw SmtpProtocolError.fromReply('EDATA', reply, 'BDAT');
}

/**
 * Feeds head and body through the encoder into `put`; end() goes through
 * `put` too (BDAT's `pump` caller appends it to its last chunk). On any failure
 * the connection is failed: without the final dot (or LAST chunk) the server
 * discards what it received.
 */
async function pump(
  session: SmtpSession,
  content: MessageContent,
  encoder: DataEncoder,
  expectsReply: boolean,
  put: (bytes: Buffer, release?: () => void) => Promise<void>,
): Promise<void> {
  const connection = session.connection;
  const source = chunks(content.body);
  const scratch = new ScratchPool();
  // A stream whose content was not known in advance, to a server without 8BITMIME: 7-bit only (RFC 6152).
  const sevenBitOnly = !Buffer.isBuffer(content.body) && content.bodyEightBit === undefined && !session.capabilities.has('8BITMIME');
  const encode = async (chunk: Buffer): Promise<void> => {
    const { bytes, release } = scratch.encode(encoder, chunk);
    await put(bytes, release);
  };
  try {
    await encode(content.head);
    for (;;) {
      // A stalled source must not outlive an abort or a dropped connection.
      const next = await connection.orFailure(source.next());
      if (next.done === true) break;
      if (sevenBitOnly && !isAscii(next.value)) {
        throw new SmtpProtocolError('EPOLICY', 'the message has 8-bit content and the server does not offer 8BITMIME (RFC 6152): ' +
          'it was stopped before its end, so nothing is delivered; encode it as 7-bit MIME (quoted-printable or base64) or use another server');
      }
      await encode(next.value);
    }
    const end = encoder.end();
    if (expectsReply) connection.expectReply();
    await put(end);
  } catch (error) {
    void source.return(undefined).catch(() => {});
    const failure = error instanceof SmtpProtocolError
      ? error
      : new SmtpProtocolError('EINPUT', `reading the message failed: ${(error as Error).message}`, { cause: error });
    connection.fail(failure);
    throw failure;
  }
}

/** A Buffer in blocks (so that back-pressure applies to large ones too), or the stream's chunks. */
async function* chunks(body: MessageBody): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    for (let at = 0; at < body.length; at += BLOCK_BYTES) yield body.subarray(at, at + BLOCK_BYTES);
    return;
  }
  yield* body;
}

/**
 * The reply that decides the message: to the final dot, or to BDAT LAST
 * (after `earlier` replies to the chunks before it). A connection lost here is
 * never retried: the server may have delivered the message (RFC 1047).
 */
export async function finalReply(session: SmtpSession, command: string, earlier = 0): Promise<Reply> {
  let reply: Reply;
  try {
    for (let i = 0; i < earlier; i++) await expectChunkReply(session);
    reply = await session.connection.read(session.timeouts.dataEnd, () => `the reply to ${command}`);
  } catch (error) {
    const cause = error as SmtpProtocolError;
    if (cause.code === 'EDATA') throw cause;
    throw unknownDelivery(cause);
  }
  return accepted(reply, command);
}

/** The error for a connection lost after the message went out, before its reply came. */
export function unknownDelivery(cause: Error): SmtpProtocolError {
  return new SmtpProtocolError('EUNKNOWN_DELIVERY', `the connection failed after the message was sent, before the server confirmed it; it may or may not have been delivered (${cause.message})`, { cause, transient: false });
}

/** The final reply when it accepts the message (250); a refusal is EDATA, or ESIZE for 552. */
export function accepted(reply: Reply, command: string): Reply {
  if (!matches(reply, 250)) throw SmtpProtocolError.fromReply(reply.code === 552 ? 'ESIZE' : 'EDATA', reply, command);
  return reply;
}

/**
 * Message content on the wire: after 354 through the dot-stuffing encoder
 * (RFC 5321 §4.5.2), or as BDAT chunks (RFC 3030) with line ends normalised
 * and no dot-stuffing. A message in memory goes through MessageEncoder (built
 * by the caller, which needs its SIZE before MAIL), a stream through
 * DataEncoder. Back-pressure is honoured; a stalled source gives way to an
 * abort or a dropped connection.
 */
import { isAscii } from 'node:buffer';
import { asWritten, bytesOf, finish, type Part } from '../wire/buffer-pool.js';
import { BLOCK_BYTES, DataEncoder, MessageEncoder } from '../wire/data-encoder.js';
import { SmtpProtocolError } from '../errors.js';
import type { MessageBody } from '../message/prepare.js';
import type { Reply } from '../wire/reply.js';
import { ScratchPool } from './encode-buffers.js';
import { matches, type SmtpSession } from './session.js';
import { DataTracer } from '../wire/trace.js';

/** What goes after DATA: the prepared header block, then the body as given. */
export interface MessageContent {
  readonly head: Buffer;
  readonly body: MessageBody;
  /** A streamed body's size with CRLF line ends, when measured beforehand (SIZE=). */
  readonly bodyWireSize?: number | undefined;
  /** Whether a streamed body has 8-bit octets, when measured beforehand. */
  readonly bodyEightBit?: boolean | undefined;
  /**
   * True only when the header block (ending with its line end) and the body, both in memory, are known to have CRLF
   * line ends only and no NUL, as crlfClean found them (a message prepareBytes took as it was): the encoder does not
   * look again.
   */
  readonly lineEndsClean?: boolean | undefined;
}

const WAIT_FOR_WRITE = 'the server to accept message data';

/**
 * After 354: the message, dot-stuffed, and the final dot. `encoder`: for a
 * message in memory, its MessageEncoder (made for SIZE before MAIL). Returns
 * the octets read from the message.
 */
export async function writeData(
  session: SmtpSession,
  content: MessageContent,
  traceData: boolean,
  encoder?: MessageEncoder,
  onProgress?: (bytesIn: number) => void,
  finalReplies = 1,
): Promise<number> {
  const connection = session.connection;
  const tracer = traceData ? new DataTracer((event) => connection.trace(event)) : undefined;
  const timeout = session.timeouts.dataBlock;
  const bytesIn = await pump(
    session,
    content,
    true,
    encoder,
    async (part, last) => {
      tracer?.push(bytesOf(part));
      if (last) connection.expectReplies(finalReplies); // the final dot is owed its reply (LMTP: one per recipient)
      await connection.write(part, timeout, WAIT_FOR_WRITE);
    },
    onProgress,
  );
  tracer?.end();
  if (!traceData && connection.tracing) connection.note(`${bytesIn} octets of message data sent`);
  return bytesIn;
}

/**
 * The message as BDAT chunks of up to about BLOCK_BYTES, the last one marked
 * LAST. Returns how many replies are owed before the last one (with
 * PIPELINING, one per earlier chunk; without, none: each was read at once).
 */
export async function writeChunks(
  session: SmtpSession,
  content: MessageContent,
  traceData: boolean,
  onProgress?: (bytesIn: number) => void,
  finalReplies = 1,
): Promise<{ earlier: number; bytesIn: number }> {
  const connection = session.connection;
  const tracer = traceData ? new DataTracer((event) => connection.trace(event)) : undefined;
  const timeout = session.timeouts.dataBlock;
  const pipelining = session.capabilities.has('PIPELINING');
  const parts: Part[] = [];
  let size = 0;
  let earlier = 0;
  const flush = async (last: boolean): Promise<void> => {
    for (const part of parts) tracer?.push(bytesOf(part));
    connection.send([`BDAT ${size}${last ? ' LAST' : ''}\r\n`], parts.splice(0));
    size = 0;
    if (last) {
      connection.expectReplies(finalReplies - 1); // LMTP: BDAT LAST has one reply per recipient
      return;
    }
    if (pipelining) earlier++;
    else await expectChunkReply(session);
    await connection.drained(timeout, WAIT_FOR_WRITE);
  };
  const bytesIn = await pump(
    session,
    content,
    false,
    undefined,
    async (part) => {
      const bytes = bytesOf(part);
      if (bytes.length === 0) return finish(part);
      parts.push(part);
      size += bytes.length;
      if (size >= BLOCK_BYTES) await flush(false);
    },
    onProgress,
  );
  await flush(true);
  await connection.drained(timeout, WAIT_FOR_WRITE);
  tracer?.end();
  if (!traceData && connection.tracing) connection.note(`${bytesIn} octets of message data sent by BDAT`);
  return { earlier, bytesIn };
}

/** Without PIPELINING every BDAT but the last is answered before the next one goes. */
async function expectChunkReply(session: SmtpSession): Promise<void> {
  const reply = await session.connection.read(session.timeouts.dataBlock, 'the reply to BDAT');
  if (!matches(reply, 250)) throw SmtpProtocolError.fromReply('EDATA', reply, 'BDAT');
}

/**
 * Feeds the message's encoded parts to `put` (`last` for the one that ends
 * it) and returns the octets read. On any failure the connection is failed:
 * without the final dot (or LAST chunk) the server discards what it received.
 */
async function pump(
  session: SmtpSession,
  content: MessageContent,
  dotStuffing: boolean,
  encoder: MessageEncoder | undefined,
  put: (part: Part, last: boolean) => Promise<void>,
  onProgress: ((bytesIn: number) => void) | undefined,
): Promise<number> {
  const connection = session.connection;
  const scratch = new ScratchPool();
  try {
    if (Buffer.isBuffer(content.body)) {
      const message =
        encoder ?? new MessageEncoder(content.head, content.body, { dotStuffing, clean: content.lineEndsClean });
      for (;;) {
        const part = scratch.lend(message.nextBytes, (buffer) => message.next(buffer));
        if (part === undefined) return message.bytesIn;
        await put(part, message.finished);
        onProgress?.(message.bytesIn);
      }
    }
    const stream = new DataEncoder({ dotStuffing });
    const progress = onProgress === undefined ? undefined : () => onProgress(stream.bytesIn);
    return await pumpStream(session, content.head, content.body, stream, scratch, put, progress);
  } catch (error) {
    const failure =
      error instanceof SmtpProtocolError
        ? error
        : new SmtpProtocolError('EINPUT', `reading the message failed: ${(error as Error).message}`, { cause: error });
    connection.fail(failure);
    throw failure;
  }
}

async function pumpStream(
  session: SmtpSession,
  head: Buffer,
  body: AsyncIterable<Buffer>,
  encoder: DataEncoder,
  scratch: ScratchPool,
  put: (part: Part, last: boolean) => Promise<void>,
  progress: (() => void) | undefined,
): Promise<number> {
  const connection = session.connection;
  const source = body[Symbol.asyncIterator]();
  // A stream whose content was not known in advance, to a server without 8BITMIME: 7-bit only (RFC 6152).
  const sevenBitOnly = !session.capabilities.has('8BITMIME');
  try {
    await put(scratch.lend(head.length, (buffer) => encoder.push(head, buffer)) as Part, false);
    for (;;) {
      // A stalled source must not outlive an abort or a dropped connection.
      const next = await connection.orFailure(source.next());
      if (next.done === true) break;
      if (sevenBitOnly && !isAscii(next.value)) {
        throw new SmtpProtocolError(
          'EPOLICY',
          'the message has 8-bit content and the server does not offer 8BITMIME (RFC 6152): ' +
            'it was stopped before its end, so nothing is delivered; encode it as 7-bit MIME (quoted-printable or ' +
            'base64) or use another server',
        );
      }
      const chunk = next.value;
      await put(asWritten(chunk, scratch.lend(chunk.length, (buffer) => encoder.push(chunk, buffer)) as Part), false);
      progress?.();
    }
    await put(encoder.end(), true);
    progress?.();
    return encoder.bytesIn;
  } catch (error) {
    void source.return?.(undefined)?.catch(() => {});
    throw error;
  }
}

/**
 * The reply that decides the message: to the final dot, or to BDAT LAST
 * (after `earlier` replies to the chunks before it). A connection lost here is
 * never retried: the server may have delivered the message (RFC 1047).
 */
export async function finalReply(session: SmtpSession, command: string, earlier = 0): Promise<Reply> {
  const refusal = await chunkRefusal(session, earlier);
  let reply: Reply;
  try {
    reply = await session.connection.read(session.timeouts.dataEnd, `the reply to ${command}`);
  } catch (error) {
    throw refusal ?? unknownDelivery(error as Error);
  }
  // RFC 3030 §2: a refused chunk fails the transaction; the server discards the chunks after it, LAST included.
  if (refusal !== undefined) throw refusal;
  return accepted(reply, command);
}

/**
 * Reads the replies to the `earlier` BDAT chunks before the last and returns the first that is not 250, as EDATA.
 * With PIPELINING they were all sent before any was read, so every one is owed and read, even after a refusal: a
 * reply left unread would be taken by the next transaction on the connection as its own. Read after BDAT LAST went:
 * a connection lost here is EUNKNOWN_DELIVERY, as for the final reply.
 */
export async function chunkRefusal(session: SmtpSession, earlier: number): Promise<SmtpProtocolError | undefined> {
  let refusal: SmtpProtocolError | undefined;
  for (let i = 0; i < earlier; i++) {
    let reply: Reply;
    try {
      reply = await session.connection.read(session.timeouts.dataBlock, 'the reply to BDAT');
    } catch (error) {
      throw refusal ?? unknownDelivery(error as Error);
    }
    if (refusal === undefined && !matches(reply, 250)) refusal = SmtpProtocolError.fromReply('EDATA', reply, 'BDAT');
  }
  return refusal;
}

/** The error for a connection lost after the message went out, before its reply came. */
export function unknownDelivery(cause: Error): SmtpProtocolError {
  return new SmtpProtocolError(
    'EUNKNOWN_DELIVERY',
    `the connection failed after the message was sent, before the server confirmed it; it may or may not have been ` +
      `delivered (${cause.message})`,
    { cause, transient: false },
  );
}

/** The final reply when it accepts the message (250); a refusal is EDATA, or ESIZE for 552. */
export function accepted(reply: Reply, command: string): Reply {
  if (!matches(reply, 250)) throw SmtpProtocolError.fromReply(reply.code === 552 ? 'ESIZE' : 'EDATA', reply, command);
  return reply;
}

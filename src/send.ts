/**
 * `sendMail`: smtpmail-send-it for Node. One connection, one message, QUIT.
 * Everything the caller gave is validated before the first byte is written.
 */
import os from 'node:os';
import * as commands from './commands.js';
import { has8bit, normalizedSize } from './data.js';
import { SmtpProtocolError, type RefusedRecipient } from './errors.js';
import { resolveTarget, type SendOptions } from './options.js';
import type { Reply } from './reply.js';
import { Authorizer } from './authorize.js';
import { SmtpSession } from './session.js';
import { transact, type Envelope, type MessageBody } from './transaction.js';
import type { TlsInfo } from './transport.js';

/** A message: text, bytes, or any readable stream / async iterable of chunks. */
export type MessageInput = string | Uint8Array | AsyncIterable<Buffer | Uint8Array | string>;

export interface SendResult {
  readonly envelope: Envelope;
  readonly accepted: readonly string[];
  /** Refused recipients (only with `partial: true`; otherwise a refusal is an error). */
  readonly rejected: readonly RefusedRecipient[];
  /** The reply to the final dot, e.g. `250 2.0.0 Ok: queued as 4Xy`. */
  readonly reply: Reply;
  /** True when the message went over TLS. */
  readonly secure: boolean;
  readonly tls: TlsInfo | undefined;
  /** The SASL mechanism used, when the session authenticated. */
  readonly authMechanism: string | undefined;
  readonly attempts: number;
  /** Octets of the message as given (before line-end normalisation and dot-stuffing). */
  readonly size: number;
}

/** Sends one message; resolves with what the server said, or rejects with SmtpProtocolError. */
export async function sendMail(message: MessageInput, options: SendOptions): Promise<SendResult> {
  const target = resolveTarget(options);
  const envelope = checkEnvelope(options);
  const body = toBody(message);
  const name = options.clientName ?? commands.clientName(hostName(options.localDomain));
  commands.ehlo(name); // validates the name before connecting

  const authorizer = new Authorizer(options, target);
  const session = await SmtpSession.open(target, options.onTrace);
  try {
    await session.greeting();
    await session.hello(name);
    await session.secure(target.streamType, name);
    await authorizer.start(session);
    if (options.verb === true && session.capabilities.has('VERB')) await session.verb();
    const run = (): ReturnType<typeof transact> =>
      transact(session, envelope, body, {
        params: mailParameters(session, envelope, body),
        partial: options.partial === true,
        traceData: options.traceData === true,
      });
    const outcome = await run().catch(async (error: unknown) => {
      if (await authorizer.recover(session, error)) return run();
      throw error;
    });
    await session.quit();
    return {
      envelope,
      accepted: outcome.accepted,
      rejected: outcome.rejected,
      reply: outcome.reply,
      secure: session.tls !== undefined,
      tls: session.tls,
      authMechanism: authorizer.mechanism,
      attempts: 1,
      size: outcome.bytesIn,
    };
  } catch (error) {
    await session.quit();
    throw error;
  }
}

/** The explicit envelope, validated as the commands that will carry it. */
function checkEnvelope(options: SendOptions): Envelope {
  const from = options.envelopeFrom;
  if (from === undefined) throw new SmtpProtocolError('ECONFIG', 'no envelope sender: set the `envelopeFrom` option');
  const to = options.recipients ?? [];
  if (to.length === 0) throw new SmtpProtocolError('EINPUT', 'no recipients');
  commands.mailFrom(from);
  for (const recipient of to) commands.rcptTo(recipient);
  return { from, to: [...to] };
}

function toBody(message: MessageInput): MessageBody {
  if (typeof message === 'string' || message instanceof Uint8Array) {
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new SmtpProtocolError('EINPUT', `the message contains a NUL byte at offset ${nul}`);
    return bytes;
  }
  if (message !== null && typeof message === 'object' && Symbol.asyncIterator in message) return message;
  throw new SmtpProtocolError('EINPUT', 'the message must be a string, a Buffer or a readable stream');
}

/** SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531), as the server allows. */
function mailParameters(session: SmtpSession, envelope: Envelope, body: MessageBody): commands.MailParameters {
  const caps = session.capabilities;
  const inMemory = Buffer.isBuffer(body);
  const size = inMemory ? normalizedSize(body) : undefined;
  const limit = caps.sizeLimit;
  if (size !== undefined && limit !== undefined && size > limit) {
    throw new SmtpProtocolError('ESIZE', `the message is ${size} octets, more than the ${limit} octets the server accepts (SIZE ${limit})`);
  }
  const needsUtf8 = [envelope.from, ...envelope.to].some((address) => /[^\x00-\x7f]/.test(address));
  if (needsUtf8 && !caps.has('SMTPUTF8')) {
    throw new SmtpProtocolError('EPOLICY', 'an envelope address is not ASCII and the server does not offer SMTPUTF8 (RFC 6531)');
  }
  return {
    size: caps.has('SIZE') ? size : undefined,
    body: inMemory && caps.has('8BITMIME') && has8bit(body) ? '8BITMIME' : undefined,
    smtputf8: needsUtf8 || undefined,
  };
}

/** Emacs's (smtpmail-domain): the system name, plus smtpmail-local-domain when set. */
function hostName(localDomain: string | undefined): string {
  const host = os.hostname();
  return localDomain === undefined || localDomain === '' ? host : `${host}.${localDomain}`;
}

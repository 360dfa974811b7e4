/**
 * DKIM signing of a prepared message (the `dkim` option; RFC 6376, RFC 8463), once per send, before the first
 * attempt: the DKIM-Signature fields go on top of the transmitted header block, and the hashes are over the message as
 * it goes on the wire (CRLF line ends, Bcc removed, added fields and RFC 2047 encoding in).
 *
 * A body in memory is hashed where it is. A streamed body must be hashed whole before the signature, which goes
 * first, can be written: it is read once, hashed on the way and kept, the first MEMORY_BYTES in memory and, past that,
 * all of it in a temporary file (mode 0600, in a directory of its own, removed by `dispose`) that is then sent, so a
 * large message is never held in memory. Its size and 8-bit content are measured on the way, so MAIL FROM gets SIZE=
 * and BODY= as for a message in memory. Reading stops at the send's deadline or abort.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { abortError, SmtpProtocolError } from '../errors.js';
import { BodyCanonicalizer, type CanonicalizationKind } from '../message/dkim-canonical.js';
import { resolveDkim, type DkimOptions } from '../message/dkim-options.js';
import { signableHead, signatureFields } from '../message/dkim-signature.js';
import { derivePrepared, type Prepared, type PreparedChanges } from '../message/prepare.js';
import { LineEndMeter } from '../wire/line-ends.js';

/** A streamed body up to this size is kept in memory (and becomes a message in memory); past it, in a file. */
export const MEMORY_BYTES = 1024 * 1024;
/** The spool file is read back in blocks this big (a file stream reads 64 KiB at a time otherwise). */
const READ_BLOCK_BYTES = 1024 * 1024;

export interface Signing {
  /** The message to send: its DKIM-Signature fields on top of its header block. */
  readonly signed: Prepared;
  /** The same message unsigned, its body readable again when it was a stream (what the offline queue keeps). */
  readonly unsigned: Prepared;
  /** Removes the spool file, if one was made (the message's own stream is its own `dispose`'s). */
  dispose(): Promise<void>;
}

/** Messages signed here: a send that gets one does not sign it again. */
const signedMessages = new WeakSet<Prepared>();

/** Signs `prepared` as `dkim` asks; undefined when it asks nothing or the message is signed already. */
export async function signMessage(
  prepared: Prepared,
  dkim: DkimOptions | readonly DkimOptions[] | undefined,
  signal: AbortSignal | undefined,
): Promise<Signing | undefined> {
  if (dkim === undefined || signedMessages.has(prepared)) return undefined;
  const resolved = resolveDkim(dkim);
  if ('problem' in resolved)
    throw new SmtpProtocolError('ECONFIG', `invalid option dkim; dkim must be ${resolved.problem}`);
  const head = signableHead(prepared.head); // no From: refused before a stream is read
  const hashes = new Map<CanonicalizationKind, Hash>();
  for (const signer of resolved.signers) if (!hashes.has(signer.body)) hashes.set(signer.body, createHash('sha256'));
  const canonicalizers = [...hashes].map(([kind, hash]) => new BodyCanonicalizer(kind, hash));
  let unsigned = prepared;
  let dispose = async (): Promise<void> => {};
  if (Buffer.isBuffer(prepared.body)) {
    for (const canonicalizer of canonicalizers) canonicalizer.push(prepared.body);
  } else {
    const spooled = await spool(prepared.body, canonicalizers, signal);
    unsigned = derivePrepared(prepared, spooled.changes);
    dispose = spooled.dispose;
  }
  let fields: Buffer;
  try {
    for (const canonicalizer of canonicalizers) canonicalizer.end();
    const digests = new Map([...hashes].map(([kind, hash]) => [kind, hash.digest()]));
    fields = signatureFields(head, resolved.signers, digests, Math.floor(Date.now() / 1000));
  } catch (error) {
    await dispose();
    throw error;
  }
  const sendmailHead = unsigned.sendmailHead;
  const signed = derivePrepared(unsigned, {
    head: Buffer.concat([fields, unsigned.head]),
    sendmailHead: sendmailHead === undefined ? undefined : Buffer.concat([fields, sendmailHead]),
  });
  signedMessages.add(signed);
  return { signed, unsigned, dispose };
}

/**
 * Runs `send` with the message signed as `dkim` asks (or as it is), and removes the spool afterwards. For a caller
 * that has no use for the unsigned message.
 */
export async function withSignature<T>(
  prepared: Prepared,
  dkim: DkimOptions | readonly DkimOptions[] | undefined,
  signal: AbortSignal | undefined,
  send: (message: Prepared) => Promise<T>,
): Promise<T> {
  const signing = await signMessage(prepared, dkim, signal);
  try {
    return await send(signing?.signed ?? prepared);
  } finally {
    await signing?.dispose();
  }
}

interface Spooled {
  readonly changes: PreparedChanges;
  dispose(): Promise<void>;
}

/** Reads the body once, into the canonicalizers and into memory or a temporary file (see the module comment). */
async function spool(
  body: AsyncIterable<Buffer>,
  canonicalizers: readonly BodyCanonicalizer[],
  signal: AbortSignal | undefined,
): Promise<Spooled> {
  const iterator = body[Symbol.asyncIterator]();
  const meter = new LineEndMeter();
  const held: Buffer[] = [];
  let heldBytes = 0;
  let directory: string | undefined;
  let handle: FileHandle | undefined;
  const dispose = async (): Promise<void> => {
    await handle?.close().catch(() => {});
    handle = undefined;
    if (directory !== undefined) await fs.rm(directory, { recursive: true, force: true });
  };
  try {
    for (;;) {
      const next = await untilAborted(iterator.next(), signal);
      if (next.done === true) break;
      const chunk = next.value;
      meter.push(chunk);
      if (meter.nulAt !== -1) {
        throw new SmtpProtocolError('EINPUT', `the message contains a NUL byte (offset ${meter.nulAt} of its body)`);
      }
      for (const canonicalizer of canonicalizers) canonicalizer.push(chunk);
      if (handle !== undefined) {
        await handle.write(chunk);
        continue;
      }
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes <= MEMORY_BYTES) continue;
      directory = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-dkim-'));
      handle = await fs.open(path.join(directory, 'body'), 'wx', 0o600);
      await handle.write(Buffer.concat(held, heldBytes));
      held.length = 0;
    }
    if (handle === undefined) return { changes: { body: Buffer.concat(held, heldBytes), inMemory: true }, dispose };
    await handle.close();
    handle = undefined;
    const file = path.join(directory as string, 'body');
    // Each reading opens the file again: a retry before any of it was sent reads it from the start.
    const reread: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () =>
        createReadStream(file, { highWaterMark: READ_BLOCK_BYTES })[Symbol.asyncIterator]() as AsyncIterator<Buffer>,
    };
    return { changes: { body: reread, bodyWireSize: meter.size, bodyEightBit: meter.eightBit }, dispose };
  } catch (error) {
    void iterator.return?.()?.catch(() => {});
    await dispose();
    throw error;
  }
}

/** `promise`, unless `signal` aborts first (a stalled stream must not outlive the send's deadline). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

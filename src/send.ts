/**
 * `sendMail`, the facade: smtpmail-send-it for Node (its contract is the doc
 * comment on the function, where an editor shows it).
 */
import { totalMs, type SendProgress, type SendResult } from './client/client.js';
import { deliver, type DeliverOptions } from './client/deliver.js';
import { readFileStream } from './client/file-stream.js';
import { Deadline } from './deadline.js';
import { writeFcc } from './queue/mbox-copy.js';
import { abortError, SmtpProtocolError } from './errors.js';
import { prepareMessage, type MessageInput, type Prepared } from './message/prepare.js';
import type { QueueOptions } from './queue/store.js';
import { queueMessage, type QueuedMail } from './queue/write.js';
import { refuseLmtp, validateOptions } from './client/validate-options.js';
import { expandServerUrl } from './server-url.js';
import { refuseForQueue } from './client/delivery-requests.js';
import { forCommandLine, optionRef } from './option-names.js';
import { signMessage, type Signing } from './client/dkim-sign.js';

export interface SendOptions extends DeliverOptions, QueueOptions {
  /** smtpmail-queue-mail: see {@link QueueMailOptions}. */
  readonly queueMail?: false | undefined;
  /**
   * When sending fails in a way that may pass later (greylisting, a server
   * or network that is down: the error's `transient`), queue the message
   * instead and resolve with where it was queued and the error. Never after
   * the final dot was sent (the message may have been delivered), and not
   * for a streamed message whose content already went out.
   */
  readonly queueOnTransientFailure?: boolean | undefined;
  /**
   * Append a copy of the message to the files its `Fcc:` fields name, in
   * mbox format, before sending it (as Emacs does). Off by default: a program
   * sending messages it did not write must not append to files they name.
   * The Fcc field is never transmitted either way.
   */
  readonly honorFcc?: boolean | undefined;
}

/** smtpmail-queue-mail: the message is written to the queue instead of being sent (no network). */
export interface QueueMailOptions extends Omit<SendOptions, 'queueMail'> {
  readonly queueMail: true;
}

/**
 * Sending that may end in the queue: resolves with the server's answer, or with where the message was queued and why.
 */
export interface QueueOnFailureOptions extends SendOptions {
  readonly queueOnTransientFailure: true;
}

/** What the implementation of sendMail takes: any of its option shapes. */
type AnySendOptions = Omit<SendOptions, 'queueMail'> & { readonly queueMail?: boolean | undefined };

/**
 * Writes the message to the offline queue instead of sending it (smtpmail-queue-mail; no network): resolves with
 * where it was queued. `sendQueuedMail` sends it later. A message whose X-Message-SMTP-Method names a sendmail program
 * still goes to that program, as in Emacs: that program queues.
 *
 * @param message The message: text, bytes, or a readable stream (only its header block is read up front).
 * @throws {SmtpProtocolError} `ECONFIG` for an invalid option, or when the message cannot be written to the queue.
 */
export function sendMail(message: MessageInput, options: QueueMailOptions): Promise<QueuedMail>;
/**
 * Sends one message as {@link sendMail} does, and when sending fails in a way that may pass (the error's `transient`:
 * greylisting, a server or network that is down) queues it instead: resolves with the server's answer, or with where
 * the message was queued and the `error` that caused it. Never queued after the final dot was sent (the message may
 * have been delivered), nor for a stream already partly sent.
 *
 * @param message The message: text, bytes, or a readable stream (only its header block is read up front).
 * @throws {SmtpProtocolError} What could not be queued either: see the `code` (`ECONFIG`, `EAUTH`, `ERECIPIENT`, ...).
 */
export function sendMail(message: MessageInput, options: QueueOnFailureOptions): Promise<SendResult | QueuedMail>;
/**
 * Sends one message, as smtpmail-send-it does: prepares it (recipients from To, Cc and Bcc, or the Resent- fields;
 * the envelope sender; Bcc removed; a missing Date, Message-ID and From added), follows its X-Message-SMTP-Method
 * field, and sends it over one connection with retries, all within one deadline (`timeouts.total`, default 2
 * minutes). Resolves with what the server said; QUIT is sent without waiting for its reply.
 *
 * @param message The message: text, bytes, or a readable stream (only its header block is read up front; the body is
 *   sent with back-pressure, never held whole in memory).
 * @param options The server, port, TLS, credentials and message settings. Optional: the server defaults to the
 *   SMTPSERVER environment variable, credentials to ~/.authinfo, ~/.authinfo.gpg and ~/.netrc.
 * @throws {SmtpProtocolError} One error class; see its `code` (`ECONFIG` for an invalid option, before connecting;
 *   `EAUTH`, `ERECIPIENT` (every refused recipient listed), `EDATA`, `EUNKNOWN_DELIVERY` after the final dot, `EABORT`
 *   when `signal` aborts, ...), `transient`, `attempts` and `hint`.
 */
export function sendMail(message: MessageInput, options?: SendOptions): Promise<SendResult>;
/**
 * Sends one message, or queues it when `options.queueMail` is true at run time: resolves with the server's answer
 * ({@link SendResult}) or with where the message was queued ({@link QueuedMail}; test with `'queued' in result`).
 * This is the signature for a `queueMail` that is a `boolean` variable rather than a literal `true` or `false`.
 *
 * @param message The message: text, bytes, or a readable stream (only its header block is read up front).
 * @throws {SmtpProtocolError} See the `code`: `ECONFIG`, `EAUTH`, `ERECIPIENT`, `EDATA`, `EUNKNOWN_DELIVERY`, ...
 */
export function sendMail(
  message: MessageInput,
  options: SendOptions | QueueMailOptions,
): Promise<SendResult | QueuedMail>;
export async function sendMail(
  message: MessageInput,
  given: SendOptions | QueueMailOptions | QueueOnFailureOptions = {},
): Promise<SendResult | QueuedMail> {
  const options = expandServerUrl(given);
  validateOptions(options);
  if (options.queueMail === true) refuseLmtp(options, 'queueMail');
  if (options.queueOnTransientFailure === true) refuseLmtp(options, 'queueOnTransientFailure');
  if (options.queueMail === true) refuseForQueue(options, forCommandLine() ? '--queue' : 'the `queueMail` option');
  else if (options.queueOnTransientFailure === true) refuseForQueue(options, optionRef('queueOnTransientFailure'));
  if (options.signal?.aborted === true) throw abortError(options.signal);
  const deadline = new Deadline(totalMs(options), options.signal);
  let prepared: Prepared | undefined;
  let signing: Signing | undefined;
  try {
    prepared = await prepareWithin(message, options, deadline.signal);
    if (options.honorFcc === true) await writeFcc(prepared);
    // As in Emacs, a message for a sendmail program goes to it even when queueing: that program queues.
    if (options.queueMail === true && prepared.method?.kind !== 'sendmail')
      return await queueMessage(prepared, options);
    // Signed here, not by the client: a stream is read whole to sign it, and the queue keeps the unsigned message
    // (read again from the spool) to sign it when it is sent.
    if (options.dkim !== undefined) signing = await signMessage(prepared, options.dkim, deadline.signal);
    const unsigned = signing?.unsigned ?? prepared;
    const seen: SendProgress = { dataStarted: false };
    try {
      return await deliver(
        signing?.signed ?? prepared,
        { ...options, queueMail: undefined } as SendOptions,
        deadline,
        seen,
      );
    } catch (error) {
      if (!queueable(error, options, unsigned, seen)) throw error;
      return { ...(await queueMessage(unsigned, options)), error };
    }
  } finally {
    deadline.dispose();
    await signing?.dispose();
    await prepared?.dispose();
  }
}

/** queueOnTransientFailure applies: a failure that may pass, and a message that can still be read whole. */
function queueable(
  error: unknown,
  options: AnySendOptions,
  prepared: Prepared,
  seen: SendProgress,
): error is SmtpProtocolError {
  if (options.queueOnTransientFailure !== true || !(error instanceof SmtpProtocolError)) return false;
  if (!error.transient || error.code === 'EUNKNOWN_DELIVERY' || error.code === 'EABORT') return false;
  return prepared.inMemory || !seen.dataStarted;
}

/**
 * The message prepared, unless the deadline (or the caller's signal) comes first: a stream may never deliver its header
 * block.
 */
function prepareWithin(message: MessageInput, options: AnySendOptions, signal: AbortSignal): Promise<Prepared> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  const work = prepareMessage(readFileStream(message) ?? message, options);
  return new Promise<Prepared>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortError(signal));
      void work.then(
        (late) => late.dispose(),
        () => {},
      ); // prepared too late: nobody will read its stream
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

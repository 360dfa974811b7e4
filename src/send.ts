/**
 * `sendMail`: smtpmail-send-it for Node. Prepares the message (recipients,
 * envelope sender, Bcc, missing headers), follows X-Message-SMTP-Method, and
 * sends it over one connection with retries, or queues it (`queueMail`);
 * resolves with what the server said (or where the message was queued) or
 * rejects with SmtpProtocolError.
 */
import { SmtpClient, type ClientOptions, type SendResult } from './client.js';
import { abortError } from './errors.js';
import { routeByMethod } from './method.js';
import { prepareMessage, type MessageInput, type Prepared } from './prepare.js';
import type { QueueOptions } from './queue-store.js';
import { queueMessage, type QueuedMail } from './queue-write.js';
import { sendWithSendmail } from './sendmail.js';

export interface SendOptions extends ClientOptions, QueueOptions {
  /** The program for `X-Message-SMTP-Method: sendmail`; default `sendmail` (found on PATH). */
  readonly sendmailProgram?: string | undefined;
  /** smtpmail-queue-mail: see {@link QueueMailOptions}. */
  readonly queueMail?: false | undefined;
}

/** smtpmail-queue-mail: the message is written to the queue instead of being sent (no network). */
export interface QueueMailOptions extends Omit<SendOptions, 'queueMail'> {
  readonly queueMail: true;
}

export function sendMail(message: MessageInput, options: QueueMailOptions): Promise<QueuedMail>;
export function sendMail(message: MessageInput, options: SendOptions): Promise<SendResult>;
export async function sendMail(message: MessageInput, options: SendOptions | QueueMailOptions): Promise<SendResult | QueuedMail> {
  if (options.signal?.aborted === true) throw abortError(options.signal);
  const prepared = await prepareMessage(message, options);
  try {
    // As in Emacs, a message for a sendmail program goes to it even when queueing: that program queues.
    if (options.queueMail === true && prepared.method?.kind !== 'sendmail') return await queueMessage(prepared, options);
    return await deliverPrepared(prepared, { ...options, queueMail: undefined });
  } finally {
    await prepared.dispose();
  }
}

/** Sends a prepared message where its X-Message-SMTP-Method (or else the options) say, on a connection of its own. */
export async function deliverPrepared(prepared: Prepared, options: SendOptions): Promise<SendResult> {
  if (prepared.method?.kind === 'sendmail') return sendWithSendmail(prepared, options.sendmailProgram, options.signal);
  const client = new SmtpClient(routeByMethod(prepared.method, options));
  try {
    return await client.send(prepared);
  } finally {
    await client.quit();
  }
}

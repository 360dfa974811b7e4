/**
 * `sendMail`: smtpmail-send-it for Node. Prepares the message (recipients,
 * envelope sender, Bcc, missing headers), follows X-Message-SMTP-Method, and
 * sends it over one connection with retries; resolves with what the server
 * said or rejects with SmtpProtocolError.
 */
import { SmtpClient, type ClientOptions, type SendResult } from './client.js';
import { abortError } from './errors.js';
import { prepareMessage, type MessageInput, type Prepared } from './prepare.js';
import { sendWithSendmail } from './sendmail.js';

export interface SendOptions extends ClientOptions {
  /** The program for `X-Message-SMTP-Method: sendmail`; default `sendmail` (found on PATH). */
  readonly sendmailProgram?: string | undefined;
}

export async function sendMail(message: MessageInput, options: SendOptions): Promise<SendResult> {
  if (options.signal?.aborted === true) throw abortError(options.signal);
  const prepared = await prepareMessage(message, options);
  try {
    if (prepared.method?.kind === 'sendmail') return await sendWithSendmail(prepared, options.sendmailProgram, options.signal);
    const client = new SmtpClient(routed(prepared, options));
    try {
      return await client.send(prepared);
    } finally {
      await client.quit();
    }
  } finally {
    await prepared.dispose();
  }
}

/**
 * `X-Message-SMTP-Method: smtp HOST [PORT [USER]]`: this message goes to that
 * server (port 465 means implicit TLS). A `password` option given for the
 * configured server is not sent to another one: credentials for it come
 * from authinfo or promptCredentials.
 */
function routed(prepared: Prepared, options: SendOptions): SendOptions {
  const method = prepared.method;
  if (method?.kind !== 'smtp') return options;
  const sameHost = method.host === options.server;
  return {
    ...options,
    server: method.host,
    port: method.port ?? options.port,
    user: method.user ?? options.user,
    password: sameHost ? options.password : undefined,
    streamType: method.port === '465' ? 'ssl' : options.streamType,
  };
}

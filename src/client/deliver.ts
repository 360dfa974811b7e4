/**
 * One prepared message, delivered where its X-Message-SMTP-Method (or else
 * the options) say: to a sendmail program, or over an SMTP connection of its
 * own (ONEX allowed: it carries this one message), within one deadline.
 */
import {
  quitLater,
  sendWithin,
  SmtpClient,
  totalMs,
  type ClientOptions,
  type SendProgress,
  type SendResult,
} from './client.js';
import { Deadline } from '../deadline.js';
import { routeByMethod } from '../message/smtp-method.js';
import type { Prepared } from '../message/prepare.js';
import { sendWithSendmail } from './sendmail-program.js';
import { refuseForSendmail } from './delivery-requests.js';
import { withSignature } from './dkim-sign.js';

export interface DeliverOptions extends ClientOptions {
  /** The program for `X-Message-SMTP-Method: sendmail`; default `sendmail` (found on PATH). */
  readonly sendmailProgram?: string | undefined;
}

/** Sends a prepared message where its X-Message-SMTP-Method (or else the options) say, on a connection of its own. */
export async function deliverPrepared(prepared: Prepared, options: DeliverOptions): Promise<SendResult> {
  const deadline = new Deadline(totalMs(options), options.signal);
  try {
    return await deliver(prepared, options, deadline, { dataStarted: false });
  } finally {
    deadline.dispose();
  }
}

/** Under `deadline`, which the caller started; `seen` tells it whether message data started to flow. */
export async function deliver(
  prepared: Prepared,
  options: DeliverOptions,
  deadline: Deadline,
  seen: SendProgress,
): Promise<SendResult> {
  if (prepared.method?.kind === 'sendmail') {
    refuseForSendmail(options);
    const send = (message: Prepared): Promise<SendResult> =>
      sendWithSendmail(message, options.sendmailProgram, deadline.signal);
    return options.dkim === undefined ? send(prepared) : withSignature(prepared, options.dkim, deadline.signal, send);
  }
  const client = new SmtpClient(routeByMethod(prepared.method, options), { oneMessage: true });
  try {
    return await sendWithin(client, prepared, options, deadline, seen);
  } finally {
    quitLater(client, options.signal);
  }
}

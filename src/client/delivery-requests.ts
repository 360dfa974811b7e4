/**
 * What a message asks of its delivery besides its envelope: delivery status
 * notifications (`dsn`, RFC 3461) and REQUIRETLS (`requireTls`, RFC 8689),
 * checked against the message before connecting, then against the session,
 * and turned into MAIL and RCPT parameters.
 *
 * DSN is a request: a server that does not offer DSN gets the message
 * without the parameters, as sendmail and Postfix relay to such a server
 * (RFC 3461 §5.2.2 forbids sending them there), and the result's `dsn` says
 * `'not offered'`: the server's own default applies (a bounce on failure).
 * REQUIRETLS is a requirement: without TLS, a verified certificate and the
 * server's REQUIRETLS, nothing is sent (`EPOLICY`, before MAIL).
 */
import { SmtpProtocolError } from '../errors.js';
import { requireTlsUnmet, type RequireTlsGap } from '../hints.js';
import { forCommandLine, optionRef } from '../option-names.js';
import type { TlsOptions } from '../options.js';
import type { Prepared } from '../message/prepare.js';
import type { SmtpSession } from '../smtp/session.js';
import type { DsnOptions } from '../wire/dsn.js';
import type { MailParameters, RcptParameters } from '../wire/commands.js';

/** The per-message options this module reads. */
export interface DeliveryRequests {
  /** Delivery status notifications to ask for (RFC 3461), sent when the server offers DSN. */
  readonly dsn?: DsnOptions | undefined;
  /** Send `MAIL FROM:<...> REQUIRETLS` (RFC 8689), and nothing unless the session can carry it. */
  readonly requireTls?: boolean | undefined;
  readonly tls?: TlsOptions | undefined;
}

/** What became of the `dsn` request: its parameters sent, or left out because the server does not offer DSN. */
export type DsnOutcome = 'sent' | 'not offered';

/** How the command or the API names the DSN request in a message. */
function dsnName(): string {
  return forCommandLine() ? '-N, -R and -V' : 'the `dsn` option';
}

/**
 * Before connecting: an ORCPT names one recipient (RFC 3461 §4.2: on submission it is the address of that RCPT), and
 * requireTls contradicts a `TLS-Required: No` field (RFC 8689 §4.3: a sender who requires TLS says REQUIRETLS, one who
 * does not adds the field; the library will not pick one for the caller).
 */
export function checkRequests(prepared: Prepared, options: DeliveryRequests): void {
  const recipients = prepared.envelope.to.length;
  if (options.dsn?.orcpt !== undefined && recipients !== 1) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `the dsn orcpt names the original address of one recipient, and this message has ${recipients} (RFC 3461 ` +
        '§4.2: on submission the ORCPT is the address of its own RCPT): send it to one recipient at a time, or ' +
        'leave orcpt out',
    );
  }
  if (options.requireTls === true && prepared.tlsOptional) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `${optionRef('requireTls')} asks for REQUIRETLS and the message's "TLS-Required: No" field asks that TLS ` +
        'not be required (RFC 8689 §4.3: a sender chooses one): remove one of them',
    );
  }
}

/** The delivery requests given (DSN, REQUIRETLS), named as the options are. */
function askedRequests(options: DeliveryRequests): string[] {
  const asked: string[] = [];
  if (options.dsn !== undefined) asked.push(dsnName());
  if (options.requireTls === true) asked.push(optionRef('requireTls'));
  return asked;
}

/** A message for a sendmail program (X-Message-SMTP-Method: sendmail): neither request can be handed on. */
export function refuseForSendmail(options: DeliveryRequests): void {
  const asked = askedRequests(options);
  if (asked.length === 0) return;
  throw new SmtpProtocolError(
    'ECONFIG',
    `the message goes to a sendmail program (X-Message-SMTP-Method: sendmail), which cannot be handed ` +
      `${asked.join(' or ')}: send it over SMTP, or without them`,
  );
}

/** The offline queue (Emacs's format) keeps neither request: a flush would send without them. */
export function refuseForQueue(options: DeliveryRequests, queueing: string): void {
  const asked = askedRequests(options);
  if (asked.length === 0) return;
  throw new SmtpProtocolError(
    'ECONFIG',
    `${queueing} and ${asked.join(' and ')} cannot go together: the queue's files (Emacs's format) do not keep ` +
      'them, so the flush would send the message without; send it now, or give them to the flush (sendQueuedMail), ' +
      'which applies them to every message it sends',
  );
}

/**
 * MAIL FROM's RET, ENVID and REQUIRETLS for this session. REQUIRETLS (RFC 8689 §2, §4.2.1): TLS, a verified
 * certificate (not `rejectUnauthorized: false`) and REQUIRETLS in the EHLO reply after TLS, else EPOLICY before
 * anything of the message is written.
 */
export function requestedMailParameters(session: SmtpSession, options: DeliveryRequests): MailParameters {
  const caps = session.capabilities;
  const dsn = options.dsn !== undefined && caps.has('DSN') ? options.dsn : undefined;
  if (options.dsn !== undefined && dsn === undefined)
    session.connection.note('the server does not offer DSN: the message goes without RET, ENVID, NOTIFY and ORCPT');
  if (options.requireTls === true) {
    const gap = requireTlsGap(session, options);
    if (gap !== undefined) throw requireTlsError(gap);
  }
  return { ret: dsn?.ret, envid: dsn?.envid, requireTls: options.requireTls === true || undefined };
}

/** Every RCPT's NOTIFY and ORCPT, when DSN is asked for and offered. */
export function requestedRcptParameters(session: SmtpSession, options: DeliveryRequests): RcptParameters | undefined {
  const dsn = options.dsn;
  if (dsn === undefined || !session.capabilities.has('DSN')) return undefined;
  return { notify: dsn.notify, orcpt: dsn.orcpt };
}

/** The result's `dsn`: undefined when none was asked for. */
export function dsnOutcome(session: SmtpSession, options: DeliveryRequests): DsnOutcome | undefined {
  if (options.dsn === undefined) return undefined;
  return session.capabilities.has('DSN') ? 'sent' : 'not offered';
}

function requireTlsGap(session: SmtpSession, options: DeliveryRequests): RequireTlsGap | undefined {
  const tls = session.tls;
  if (tls === undefined) return 'clear text';
  if (!tls.authorized || options.tls?.rejectUnauthorized === false) return 'unverified';
  return session.capabilities.has('REQUIRETLS') ? undefined : 'not offered';
}

const GAPS: Readonly<Record<RequireTlsGap, string>> = {
  'clear text': 'the connection is not encrypted',
  unverified: "the server's certificate was not verified",
  'not offered': 'the server does not offer REQUIRETLS',
};

function requireTlsError(gap: RequireTlsGap): SmtpProtocolError {
  return new SmtpProtocolError(
    'EPOLICY',
    `the message requires TLS (REQUIRETLS, RFC 8689) and ${GAPS[gap]}: nothing was sent`,
    { hint: requireTlsUnmet(gap) },
  );
}

/**
 * `X-Message-SMTP-Method` (smtpmail, Emacs 27+): a per-message choice of how
 * to send. `smtp HOST [PORT [USER]]` overrides the server, port and user;
 * `sendmail` hands the message to a sendmail program. The header itself is
 * never transmitted.
 */
import { SmtpProtocolError } from './errors.js';

export const METHOD_HEADER = 'X-Message-SMTP-Method';

export type Method =
  | { readonly kind: 'smtp'; readonly host: string; readonly port: string | undefined; readonly user: string | undefined }
  | { readonly kind: 'sendmail' };

/** Parses the header's value; anything but the two forms is an error (ECONFIG). */
export function parseMethod(value: string): Method {
  const words = value.trim().split(/\s+/);
  const [kind, host, port, user, ...extra] = words;
  if (kind === 'sendmail' && words.length === 1) return { kind: 'sendmail' };
  if (kind === 'smtp' && host !== undefined && extra.length === 0 && (port === undefined || /^\d{1,5}$/.test(port))) {
    return { kind: 'smtp', host, port, user };
  }
  throw new SmtpProtocolError('ECONFIG', `${METHOD_HEADER}: expected "smtp HOST [PORT [USER]]" or "sendmail", got ${JSON.stringify(value.trim().slice(0, 80))}`);
}

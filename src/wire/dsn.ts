/**
 * Delivery status notifications (RFC 3461): the per-message `dsn` request, its
 * checks, and the encoding of its values for MAIL (`RET=`, `ENVID=`) and RCPT
 * (`NOTIFY=`, `ORCPT=`). Pure.
 *
 * ENVID and ORCPT values are xtext (RFC 3461 §4): every octet outside `!`..`~`,
 * and `+` and `=` themselves, become `+XX` (upper-case hex). Before encoding
 * they must be printable US-ASCII (§4.2, §4.4): text with CR, LF, NUL or another
 * control character, or a non-ASCII character, is `EINPUT` (an injection or a
 * value no DSN could carry), never encoded and sent.
 */
import { SmtpProtocolError } from '../errors.js';

/** When a DSN is asked for, per recipient (RFC 3461 §4.1). */
export type DsnNotifyEvent = 'SUCCESS' | 'FAILURE' | 'DELAY';

/** What the sender asks of delivery status notifications for one message (RFC 3461). */
export interface DsnOptions {
  /** `RET=`: a failure DSN returns the whole message (`FULL`) or only its header (`HDRS`) (§4.3). */
  readonly ret?: 'FULL' | 'HDRS' | undefined;
  /** `ENVID=`: an identifier of this transmission, returned in every DSN; printable ASCII, xtext-encoded (§4.4). */
  readonly envid?: string | undefined;
  /** `NOTIFY=` on every RCPT: `'NEVER'`, or the events that earn a DSN (§4.1). */
  readonly notify?: 'NEVER' | readonly ['NEVER'] | readonly DsnNotifyEvent[] | undefined;
  /**
   * `ORCPT=rfc822;...` (§4.2): the original recipient, as a bare address (the library adds `rfc822;` and encodes
   * it). One address, so a message with one recipient: on submission it is that recipient's address as the
   * sender wrote it.
   */
  readonly orcpt?: string | undefined;
}

/** RFC 3461 §4.4: the ENVID parameter may be up to 100 characters (here: once xtext-encoded, as it is sent). */
export const MAX_ENVID_LENGTH = 100;
/** RFC 3461 §4.2: the entire ORCPT parameter may be up to 500 characters. */
export const MAX_ORCPT_LENGTH = 500;

const DSN_KEYS = ['ret', 'envid', 'notify', 'orcpt'];
const RETS = ['FULL', 'HDRS'];
const EVENTS = ['SUCCESS', 'FAILURE', 'DELAY'];
const LINE_BREAK_OR_NUL = /[\r\n\0]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** xtext (RFC 3461 §4): `!`..`~` as themselves except `+` and `=`; every other octet (of the UTF-8 form) as `+XX`. */
export function xtext(value: string): string {
  let encoded = '';
  for (const octet of Buffer.from(value, 'utf8')) {
    encoded +=
      octet >= 0x21 && octet <= 0x7e && octet !== 0x2b && octet !== 0x3d
        ? String.fromCharCode(octet)
        : `+${octet.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/**
 * Checks a `dsn` option. Returns what it must be when its shape or a keyword is wrong (the caller makes that
 * `ECONFIG`); throws `EINPUT` for an ENVID or ORCPT that could not be sent as written (CR, LF, NUL, another
 * control character, a non-ASCII character).
 */
export function dsnProblem(value: unknown): string | undefined {
  const shape = `an object with ${DSN_KEYS.join(', ')} (at least one)`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return shape;
  const keys = Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined);
  const unknown = keys.find((key) => !DSN_KEYS.includes(key));
  if (unknown !== undefined) return `${shape}, not ${JSON.stringify(unknown).slice(0, 40)}`;
  if (keys.length === 0) return shape;
  const { ret, envid, notify, orcpt } = value as Record<string, unknown>;
  if (ret !== undefined && !(typeof ret === 'string' && RETS.includes(ret)))
    return "an object whose ret is 'FULL' or 'HDRS'";
  const notifying = notify === undefined ? undefined : notifyProblem(notify);
  if (notifying !== undefined) return `an object whose notify is ${notifying}`;
  if (envid !== undefined) {
    if (typeof envid !== 'string' || envid === '') return 'an object whose envid is a non-empty string';
    encodeEnvid(envid);
  }
  if (orcpt !== undefined) {
    if (typeof orcpt !== 'string' || orcpt === '') return 'an object whose orcpt is a non-empty string';
    if (orcpt.includes('<') || orcpt.includes('>')) return 'an object whose orcpt is a bare address, without < and >';
    encodeOrcpt(orcpt);
  }
  return undefined;
}

function notifyProblem(notify: unknown): string | undefined {
  const accepted = `'NEVER', or an array of ${EVENTS.map((e) => `'${e}'`).join(', ')}`;
  if (notify === 'NEVER') return undefined;
  if (!Array.isArray(notify) || notify.length === 0) return accepted;
  if (notify.length === 1 && notify[0] === 'NEVER') return undefined;
  if (notify.includes('NEVER')) return `${accepted} (NEVER cannot be combined with others: RFC 3461 §4.1)`;
  if (!notify.every((event) => typeof event === 'string' && EVENTS.includes(event))) return accepted;
  if (new Set(notify).size !== notify.length) return `${accepted}, each once`;
  return undefined;
}

/** The NOTIFY value (RFC 3461 §4.1): `NEVER`, or the events joined by commas. */
export function notifyValue(notify: NonNullable<DsnOptions['notify']>): string {
  return typeof notify === 'string' ? notify : notify.join(',');
}

/** The ENVID value as sent: checked (EINPUT, ECONFIG when too long) and xtext-encoded. */
export function encodeEnvid(envid: string): string {
  const encoded = xtext(checkPrintable(envid, 'ENVID', 'the dsn envid'));
  if (encoded.length > MAX_ENVID_LENGTH) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `invalid option dsn: its envid is ${encoded.length} characters once xtext-encoded; RFC 3461 §4.4 allows ` +
        `${MAX_ENVID_LENGTH}`,
    );
  }
  return encoded;
}

/** The ORCPT value as sent, `rfc822;` and the xtext of the address: checked (EINPUT, ECONFIG when too long). */
export function encodeOrcpt(address: string): string {
  const value = `rfc822;${xtext(checkPrintable(address, 'ORCPT', 'the dsn orcpt'))}`;
  if ('ORCPT='.length + value.length > MAX_ORCPT_LENGTH) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `invalid option dsn: its orcpt makes an ORCPT parameter of ${'ORCPT='.length + value.length} characters; ` +
        `RFC 3461 §4.2 allows ${MAX_ORCPT_LENGTH}`,
    );
  }
  return value;
}

/** RFC 3461 §4.2 and §4.4: printable US-ASCII before encoding; a line break or NUL is an injection. */
function checkPrintable(text: string, parameter: string, what: string): string {
  if (LINE_BREAK_OR_NUL.test(text)) throw new SmtpProtocolError('EINPUT', `${what} contains CR, LF or NUL`);
  if (!PRINTABLE_ASCII.test(text)) {
    throw new SmtpProtocolError(
      'EINPUT',
      `${what} must be printable US-ASCII (RFC 3461 requires it of ${parameter}): it holds a control or non-ASCII ` +
        `character`,
    );
  }
  return text;
}

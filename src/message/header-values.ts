/**
 * Values for the header fields smtpmail adds when they are missing (SPEC §6):
 * Date (RFC 5322 §3.3), Message-ID (§3.6.4) and From (§3.4, RFC 2047 for
 * names that are not ASCII). Pure, no I/O.
 */
import { randomBytes } from 'node:crypto';
import { SmtpProtocolError } from '../errors.js';

/**
 * UTF-8 bytes per RFC 2047 encoded word: 56 base64 characters, a 68-character word, so `From: ` plus one word fits 76.
 */
const ENCODED_WORD_BYTES = 42;
// RFC 5322 §3.2.3 atext, plus the spaces between the words of a phrase.
const ATEXT_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;
const PRINTABLE = /^[\x20-\x7e\t]+$/;
// RFC 5322 §3.6.4 id-right: dot-atom-text (atext widened by RFC 6532 §3.2) or no-fold-literal.
const DOT_ATOM =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10ffff}]+)*$/u;
const DOMAIN_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]*\]$/;
const CR_LF_NUL = /[\r\n\0]/;

const DAY_NAMES = 'SunMonTueWedThuFriSat';
const MONTH_NAMES = 'JanFebMarAprMayJunJulAugSepOctNovDec';

/** RFC 5322 §3.3 date-time in the local time zone of `date`: `Mon, 23 Nov 2026 10:52:05 +0100`. */
export function formatDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new SmtpProtocolError('EINPUT', 'invalid Date');
  const year = date.getFullYear();
  // §3.3: four-digit years, 1900 or later.
  if (year < 1900 || year > 9999) throw new SmtpProtocolError('EINPUT', `year ${year} out of range 1900-9999`);
  const offset = -Math.round(date.getTimezoneOffset()); // minutes east of UTC
  const zone = `${offset < 0 ? '-' : '+'}${pad2(Math.floor(Math.abs(offset) / 60))}${pad2(Math.abs(offset) % 60)}`;
  const day = DAY_NAMES.slice(date.getDay() * 3, date.getDay() * 3 + 3);
  const month = MONTH_NAMES.slice(date.getMonth() * 3, date.getMonth() * 3 + 3);
  const time = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${day}, ${pad2(date.getDate())} ${month} ${year} ${time} ${zone}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * `<unique@domain>` (RFC 5322 §3.6.4): unique = base36 time + '.' + 16 hex
 * characters of randomness; domain as given, or 'localhost.localdomain' when
 * empty or undefined. A domain that is not dot-atom-text or a domain literal
 * throws EINPUT.
 */
export function makeMessageId(domain: string | undefined): string {
  const right = domain === undefined || domain === '' ? 'localhost.localdomain' : domain;
  if (!DOT_ATOM.test(right) && !DOMAIN_LITERAL.test(right)) {
    throw new SmtpProtocolError('EINPUT', `invalid Message-ID domain: ${JSON.stringify(right)}`);
  }
  return `<${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${right}>`;
}

/**
 * A From: value `Name <address>` (RFC 5322 §3.4). The name (trimmed) is bare
 * when it is only atext and spaces (§3.2.5 phrase), else a quoted-string with
 * `"` and `\` escaped (§3.2.4); a name with non-ASCII or control characters
 * becomes RFC 2047 B encoded words of whole characters, at most 75 characters
 * each (§2, §5), separated by spaces. No name (or a blank one) → the address
 * alone. CR, LF or NUL in either argument throws EINPUT.
 */
export function formatFrom(address: string, name: string | undefined): string {
  if (address === '' || CR_LF_NUL.test(address) || (name !== undefined && CR_LF_NUL.test(name))) {
    throw new SmtpProtocolError('EINPUT', 'From: address empty, or CR, LF or NUL in the address or name');
  }
  const phrase = name?.trim() ?? '';
  if (phrase === '') return address;
  // A bare "=?...?=" would be decoded by readers as an encoded word; quoted it is not (RFC 2047 §5).
  if (ATEXT_PHRASE.test(phrase) && !phrase.includes('=?')) return `${phrase} <${address}>`;
  if (PRINTABLE.test(phrase)) return `"${phrase.replace(/["\\]/g, '\\$&')}" <${address}>`;
  return `${encodedWords(phrase).join(' ')} <${address}>`;
}

/** RFC 2047 §4.1 B encoding, split between characters (§5: an encoded word holds whole characters). */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk: Buffer[] = [];
  let bytes = 0;
  const flush = (): void => {
    words.push(`=?UTF-8?B?${Buffer.concat(chunk).toString('base64')}?=`);
    chunk = [];
    bytes = 0;
  };
  for (const char of text) {
    const encoded = Buffer.from(char, 'utf8');
    if (bytes + encoded.length > ENCODED_WORD_BYTES) flush();
    chunk.push(encoded);
    bytes += encoded.length;
  }
  if (bytes > 0) flush();
  return words;
}

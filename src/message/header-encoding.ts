/**
 * Non-ASCII header text encoded as Emacs's mail-encode-header does it (RFC
 * 2047, rfc2047-encode-message-header): raw UTF-8 in a header is allowed only
 * in an SMTPUTF8 transaction (RFC 6532), so a message that goes out without
 * one gets encoded words instead. Pure: strings in, strings out.
 *
 * - Unstructured fields (Subject, X-..., Comments): a run of consecutive
 *   words that each hold non-ASCII text is encoded as one text; ASCII words
 *   (`Re:`, keywords) stay readable.
 * - Address fields (From, To, Cc, Bcc, Reply-To, In-Reply-To, Sender,
 *   Mail-Followup-To, Mail-Copies-To, Approved, and their Resent- forms):
 *   display names word by word (a quoted one unquoted and encoded whole) and
 *   comments; never an address itself.
 * - Message-ID, Newsgroups and Followup-To are never encoded.
 *
 * Each encoded word is `=?utf-8?B?...?=` or `=?utf-8?Q?...?=`, whichever is
 * shorter (Emacs decides by the share of 8-bit characters; both decode to
 * the same text), at most 75 characters, never splitting a character; the
 * field is folded to lines of at most 76 characters where spaces allow.
 * Text that is already ASCII (encoded words included) is left alone.
 */
import { makeField, type HeaderField } from './header-block.js';

const NEVER = new Set(['message-id', 'newsgroups', 'followup-to']);
const ADDRESS_FIELD = /^(resent-)?(from|cc|to|bcc|(in-)?reply-to|sender|mail-followup-to|mail-copies-to|approved)$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** The field, encoded if it holds non-ASCII text that may be encoded; the same object otherwise. */
export function encodeField(field: HeaderField): HeaderField {
  const value = field.value;
  if (!NON_ASCII.test(value) || NEVER.has(field.key)) return field;
  const encoded = ADDRESS_FIELD.test(field.key) ? encodeAddressText(value) : encodeText(value, 'text');
  return encoded === value ? field : makeField(field.name, encoded);
}

/** Where an encoded word stands: its Q alphabet depends on it (RFC 2047 §5). */
type Context = 'text' | 'phrase' | 'comment';

/** Unstructured text: runs of words that all hold non-ASCII are each one encoded text. */
function encodeText(text: string, context: Context): string {
  const pieces = text.split(/([ \t]+)/); // words at even indexes, the blanks between them at odd ones
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const word = pieces[i] as string;
    if (!NON_ASCII.test(word)) {
      out.push(word, pieces[i + 1] ?? '');
      continue;
    }
    let end = i;
    while (end + 2 < pieces.length && NON_ASCII.test(pieces[end + 2] as string)) end += 2;
    out.push(encodedWords(pieces.slice(i, end + 1).join(''), context), pieces[end + 1] ?? '');
    i = end;
  }
  return out.join('');
}

/** One piece of an address list as written: kept as is unless it is display-name or comment text. */
interface Segment {
  readonly kind: 'space' | 'comment' | 'quoted' | 'literal' | 'special' | 'word';
  readonly text: string;
}

/** Display names and comments of an address list encoded; addresses, specials and spacing kept. */
function encodeAddressText(value: string): string {
  const out: string[] = [];
  let element: Segment[] = [];
  let inAngle = false;
  for (const segment of scan(value)) {
    const special = segment.kind === 'special' ? segment.text : '';
    if (special === '<') inAngle = true;
    else if (special === '>') inAngle = false;
    if (!inAngle && (special === ',' || special === ';' || special === ':')) {
      // Before a group's `:` stands its display name; before `,` or `;`, an address.
      out.push(encodeElement(element, special === ':' ? element.length : undefined), special);
      element = [];
    } else {
      element.push(segment);
    }
  }
  out.push(encodeElement(element, undefined));
  return out.join('');
}

/**
 * One address, or with `nameEnd` a group's name: words and quoted strings
 * before `<` are its display name; an address without `<` has none, and only
 * its comments are text.
 */
function encodeElement(segments: readonly Segment[], groupName: number | undefined): string {
  const angle = segments.findIndex((s) => s.kind === 'special' && s.text === '<');
  const nameEnd = groupName ?? (angle === -1 ? 0 : angle);
  const out: string[] = [];
  let i = 0;
  while (i < segments.length) {
    const segment = segments[i] as Segment;
    if (segment.kind === 'comment') {
      out.push(`(${encodeText(segment.text.slice(1, -1), 'comment')})`);
      i++;
      continue;
    }
    const inName = i < nameEnd && (segment.kind === 'word' || segment.kind === 'quoted');
    if (!inName || !NON_ASCII.test(segment.text)) {
      out.push(segment.text);
      i++;
      continue;
    }
    // A run of display-name words that hold non-ASCII (blanks between them kept inside the encoded text).
    const words: string[] = [];
    let end = i;
    for (let j = i; j < nameEnd; j++) {
      const item = segments[j] as Segment;
      if (item.kind === 'space') continue;
      if ((item.kind !== 'word' && item.kind !== 'quoted') || !NON_ASCII.test(item.text)) break;
      words.push(item.kind === 'quoted' ? unquote(item.text) : item.text);
      end = j;
    }
    out.push(encodedWords(words.join(' '), 'phrase'));
    i = end + 1;
  }
  return out.join('');
}

function unquote(quoted: string): string {
  return quoted.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Splits an address list into segments that give it back when joined: linear, never throws. */
function scan(value: string): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  while (i < value.length) {
    const char = value[i] as string;
    let end = i + 1;
    let kind: Segment['kind'];
    if (char === ' ' || char === '\t') {
      kind = 'space';
      while (end < value.length && (value[end] === ' ' || value[end] === '\t')) end++;
    } else if (char === '(') {
      kind = 'comment';
      for (let depth = 1; end < value.length && depth > 0; end++) {
        if (value[end] === '\\') end++;
        else if (value[end] === '(') depth++;
        else if (value[end] === ')') depth--;
      }
    } else if (char === '"' || char === '[') {
      kind = char === '"' ? 'quoted' : 'literal';
      const close = char === '"' ? '"' : ']';
      while (end < value.length && value[end] !== close) end += value[end] === '\\' ? 2 : 1;
      end = Math.min(end + 1, value.length);
    } else if ('<>@,;:.'.includes(char)) {
      kind = 'special';
    } else {
      kind = 'word';
      while (end < value.length && !' \t()"[<>@,;:.'.includes(value[end] as string)) end++;
    }
    // An unclosed comment or quote runs to the end: kept, and encoded no further than text.
    const text = value.slice(i, end);
    segments.push({ kind: kind === 'comment' && !text.endsWith(')') ? 'word' : kind, text });
    i = end;
  }
  return segments;
}

/** RFC 2047 §2: an encoded word has at most 75 characters. */
const MAX_WORD = 75;
const PREFIX_B = '=?utf-8?B?';
const PREFIX_Q = '=?utf-8?Q?';
/**
 * Characters Q may leave as they are (RFC 2047 §4.2, §5): in text, any printable but `=`, `?`, `_`; in a phrase or
 * comment, fewer.
 */
const Q_LITERAL: Readonly<Record<Context, RegExp>> = {
  text: /[!-<>@-^`-~]/,
  phrase: /[A-Za-z0-9!*+\-/]/,
  comment: /[A-Za-z0-9!*+\-/]/,
};

/** `text` as encoded words separated by spaces (which decoding drops), B or Q whichever is shorter. */
function encodedWords(text: string, context: Context): string {
  const b = split(text, (chunk) => Buffer.from(chunk, 'utf8').toString('base64'), PREFIX_B);
  const q = split(text, (chunk) => qEncode(chunk, context), PREFIX_Q);
  return (q.length <= b.length ? q : b).join(' ');
}

/**
 * Encoded words for `text`, each as long as it may be, cut between
 * characters (code points). Linear: each character is encoded once.
 */
function split(text: string, encode: (chunk: string) => string, prefix: string): string[] {
  const room = MAX_WORD - prefix.length - 2;
  const words: string[] = [];
  let chunk = '';
  for (const character of text) {
    const longer = chunk + character;
    if (chunk !== '' && encodedLength(longer, encode, prefix) > room) {
      words.push(`${prefix}${encode(chunk)}?=`);
      chunk = character;
    } else {
      chunk = longer;
    }
  }
  if (chunk !== '') words.push(`${prefix}${encode(chunk)}?=`);
  return words;
}

/**
 * The encoded length of `chunk`, computed without encoding it (a chunk stays under 75 characters, so this is cheap).
 */
function encodedLength(chunk: string, encode: (chunk: string) => string, prefix: string): number {
  if (prefix === PREFIX_B) return Math.ceil(Buffer.byteLength(chunk, 'utf8') / 3) * 4;
  return encode(chunk).length;
}

function qEncode(chunk: string, context: Context): string {
  let out = '';
  for (const byte of Buffer.from(chunk, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (byte === 0x20) out += '_';
    else if (byte < 0x80 && Q_LITERAL[context].test(char)) out += char;
    else out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Address lists as a mail sender needs them (RFC 5322 §3.4): the envelope
 * addresses behind To, Cc, Bcc, Resent-* and From. Pure functions over
 * strings; they never throw. Parsing is one linear pass (see
 * {@link AddressTokenizer}); an element that cannot be an address is skipped
 * and parsing goes on at the next `,` or `;`.
 */
import { AddressTokenizer, type Token } from './address-tokens.js';

/** One mailbox (RFC 5322 §3.4). */
export interface Mailbox {
  /**
   * The addr-spec (§3.4.1) as it goes into MAIL FROM / RCPT TO: `local@domain`,
   * the local part as written (a quoted one keeps its quotes: `"john doe"@x.org`),
   * the domain as written (a domain-literal too: `[192.0.2.1]`). A bare word
   * without `@` (a local user name such as `bob`) is a mailbox too, as in
   * Emacs and sendmail. Comments and folding whitespace removed; no angle brackets.
   */
  readonly address: string;
  /**
   * The display name (§3.4), unquoted (quoted-pairs resolved), whitespace
   * collapsed; `undefined` when there is none. RFC 2047 encoded words are left
   * as they are. A comment is not a display name: `a@x.org (Alice)` has none.
   */
  readonly name: string | undefined;
}

/**
 * Every mailbox in an address-list header value (§3.4 `address-list`, with
 * the obsolete forms of §4.4), in order, groups flattened, duplicates kept.
 *
 * Lenient where real mail is: `;` also separates addresses outside a group
 * (as Outlook writes them), a display name may hold unquoted `.` and `@`
 * (`a@x.org <a@x.org>`), a local part may hold empty dot-separated parts
 * (`a..b@x.jp`, seen in the wild), and obsolete routes
 * (`<@relay.org:a@x.org>`) are dropped. Strict where the envelope is: the
 * domain must be a dot-atom or a domain-literal, text after `>` or a control
 * character anywhere makes the element unusable.
 */
export function parseAddressList(value: string): Mailbox[] {
  return collect(value, Number.POSITIVE_INFINITY);
}

/** The first usable mailbox of a value (From:, RFC 5322 §3.6.2), or `undefined`. */
export function parseMailbox(value: string): Mailbox | undefined {
  return collect(value, 1)[0];
}

/**
 * True when `text` looks like an address usable as an envelope sender:
 * `local@domain` (RFC 5321 §4.1.2 Mailbox) with exactly one `@` outside
 * quotes, a non-empty local part and domain, quotes only in the local part and
 * closed, no whitespace, `<>()`, `,;` or `\` outside quotes, and no control
 * character anywhere.
 */
export function looksLikeAddress(text: string): boolean {
  let at = -1;
  let inQuote = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
    if (escaped) {
      escaped = false;
    } else if (inQuote) {
      if (code === BACKSLASH) escaped = true;
      else if (code === DQUOTE) inQuote = false;
    } else if (code === DQUOTE) {
      if (at !== -1) return false;
      inQuote = true;
    } else if (code === AT) {
      if (at !== -1) return false;
      at = i;
    } else if (FORBIDDEN_UNQUOTED.includes(text.charAt(i))) {
      return false;
    }
  }
  return !inQuote && !escaped && at > 0 && at < text.length - 1;
}

/**
 * The domain of an addr-spec: what follows the last `@` outside a quoted
 * local part (`"a@b.com x"@internal.example` gives `internal.example`), or
 * `undefined` when there is no such `@` or nothing follows it.
 */
export function domainOf(address: string): string | undefined {
  let at = -1;
  let inQuote = false;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (inQuote && code === BACKSLASH) i++;
    else if (code === DQUOTE) inQuote = !inQuote;
    else if (code === AT && !inQuote) at = i;
  }
  return at === -1 || at === address.length - 1 ? undefined : address.slice(at + 1);
}

const DQUOTE = 0x22;
const AT = 0x40;
const BACKSLASH = 0x5c;
const FORBIDDEN_UNQUOTED = ' <>(),;\\';

/**
 * Splits the token stream into list elements and parses each one. `,` and `;`
 * end an element, except inside an obsolete route (`<@a,@b:...>`); a `:`
 * outside angle brackets ends a group's display name (§3.4 `group`), which is
 * dropped. Only the current element's tokens are held, so memory stays
 * bounded by the longest element.
 */
function collect(value: string, limit: number): Mailbox[] {
  const tokens = new AddressTokenizer(value);
  const found: Mailbox[] = [];
  let element: Token[] = [];
  let inAngle = false;
  let inRoute = false;
  const finish = (): void => {
    const mailbox = parseElement(element);
    if (mailbox !== undefined) found.push(mailbox);
    element = [];
    inAngle = false;
    inRoute = false;
  };
  for (let token = tokens.next(); token !== undefined; token = tokens.next()) {
    const special = token.kind === 'special' ? token.text : '';
    if (inRoute && special !== ';' && special !== '>') {
      if (special === ':') inRoute = false;
    } else if (special === ',' || special === ';') {
      finish();
      if (found.length >= limit) return found;
      continue;
    } else if (inAngle) {
      if (special === '>') inAngle = inRoute = false;
      else if (special === '@' && isSpecial(element[element.length - 1], '<')) inRoute = true;
    } else if (special === ':') {
      element = [];
      continue;
    } else if (special === '<') {
      inAngle = true;
    }
    element.push(token);
  }
  finish();
  return found;
}

/** One element: `name-addr`, `addr-spec` or a bare local name (§3.4), or `undefined` for garbage. */
function parseElement(tokens: readonly Token[]): Mailbox | undefined {
  if (tokens.length === 0 || tokens.some((token) => token.kind === 'junk')) return undefined;
  const open = tokens.findIndex((token) => isSpecial(token, '<'));
  if (open === -1) {
    const address = addrSpec(tokens);
    return address === undefined ? undefined : { address, name: undefined };
  }
  const close = tokens.length - 1;
  if (!isSpecial(tokens[close], '>')) return undefined;
  let start = open + 1;
  if (isSpecial(tokens[start], '@')) {
    // obs-route (§4.4): `@domain *("," @domain) ":"`, ignored as RFC 5321 §C allows.
    while (start < close && !isSpecial(tokens[start], ':')) start++;
    start++;
  }
  const address = addrSpec(tokens.slice(start, close));
  if (address === undefined) return undefined;
  const nameTokens = tokens.slice(0, open);
  if (nameTokens.some((token) => token.kind === 'special' && token.text !== '.' && token.text !== '@')) {
    return undefined;
  }
  return { address, name: displayName(nameTokens) };
}

/** `local-part ["@" domain]` (§3.4.1, §4.4): CFWS between the parts is allowed and dropped. */
function addrSpec(tokens: readonly Token[]): string | undefined {
  const at = tokens.findIndex((token) => isSpecial(token, '@'));
  const local = localPart(at === -1 ? tokens : tokens.slice(0, at));
  if (local === undefined || at === -1) return local;
  const domainTokens = tokens.slice(at + 1);
  const domain = domainPart(domainTokens);
  return domain === undefined ? undefined : `${local}@${domain}`;
}

/** Words (atoms or quoted strings) and dots, at least one word, never two words side by side. */
function localPart(tokens: readonly Token[]): string | undefined {
  let words = 0;
  let lastWasWord = false;
  for (const token of tokens) {
    const isWord = token.kind === 'atom' || token.kind === 'quoted';
    if (!isWord && !isSpecial(token, '.')) return undefined;
    if (isWord && lastWasWord) return undefined;
    if (isWord) words++;
    lastWasWord = isWord;
  }
  return words === 0 ? undefined : tokens.map((token) => token.text).join('');
}

/** A domain-literal alone, or atoms joined by single dots (§3.4.1 `domain`). */
function domainPart(tokens: readonly Token[]): string | undefined {
  const [first] = tokens;
  if (first?.kind === 'literal') return tokens.length === 1 ? first.text : undefined;
  if (tokens.length % 2 === 0) return undefined;
  for (const [i, token] of tokens.entries()) {
    if (i % 2 === 0 ? token.kind !== 'atom' : !isSpecial(token, '.')) return undefined;
  }
  return tokens.map((token) => token.text).join('');
}

/** The phrase's words, one space where whitespace or a comment separated them, runs collapsed. */
function displayName(tokens: readonly Token[]): string | undefined {
  const parts: string[] = [];
  for (const token of tokens) {
    if (token.spaceBefore && parts.length > 0) parts.push(' ');
    parts.push(token.value);
  }
  const name = parts
    .join('')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return name === '' ? undefined : name;
}

function isSpecial(token: Token | undefined, char: string): boolean {
  return token !== undefined && token.kind === 'special' && token.text === char;
}

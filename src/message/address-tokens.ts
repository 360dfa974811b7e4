/**
 * The lexical layer of RFC 5322 §3.2 for address headers: one left-to-right
 * pass that turns a header value into atoms, quoted strings, domain literals
 * and single-character specials. Whitespace, folding (CRLF or a bare LF) and
 * comments are dropped, leaving only a `spaceBefore` flag on the next token.
 *
 * Linear in the input and never recursive: comments are skipped with a depth
 * counter, strings are built from slices. It never throws; what cannot be a
 * token becomes a `junk` token, which makes the address it belongs to unusable.
 */

/**
 * - `atom`: a run of atext (RFC 5322 §3.2.3), non-ASCII included (RFC 6532).
 * - `quoted`: a quoted-string (§3.2.4).
 * - `literal`: a domain-literal `[...]` (§3.4.1).
 * - `special`: one of `< > @ , ; : .`.
 * - `junk`: a control character, a stray `)`, `]` or `\`, a quoted-string or
 *   domain-literal holding a control character or never closed.
 */
export type TokenKind = 'atom' | 'quoted' | 'literal' | 'special' | 'junk';

export interface Token {
  readonly kind: TokenKind;
  /**
   * The token as it goes into an address: an atom or special as written; a
   * quoted-string with its quotes and backslashes but without CR/LF (unfolded);
   * a domain-literal with its brackets but without whitespace.
   */
  readonly text: string;
  /**
   * The token as it reads in a display name: a quoted-string's content with quoted-pairs resolved; otherwise `text`.
   */
  readonly value: string;
  /** True when whitespace or a comment came before this token. */
  readonly spaceBefore: boolean;
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DQUOTE = 0x22;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const OPEN_BRACKET = 0x5b;
const BACKSLASH = 0x5c;
const CLOSE_BRACKET = 0x5d;

const JUNK = 0;
const ATEXT = 1;
const SPACE = 2;
const SPECIAL = 3;
const COMMENT = 4;
const QUOTE = 5;
const LITERAL = 6;

/** Class of each ASCII code; anything from 0x80 up is atext (RFC 6532 §3.2). */
const CLASSES: readonly number[] = (() => {
  const classes = new Array<number>(128).fill(JUNK);
  const atext = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";
  for (const char of atext) classes[char.charCodeAt(0)] = ATEXT;
  for (const char of '<>@,;:.') classes[char.charCodeAt(0)] = SPECIAL;
  for (const code of [0x20, TAB, CR, LF]) classes[code] = SPACE;
  classes[OPEN_PAREN] = COMMENT;
  classes[DQUOTE] = QUOTE;
  classes[OPEN_BRACKET] = LITERAL;
  return classes;
})();

function classOf(code: number): number {
  return code < 0x80 ? (CLASSES[code] ?? JUNK) : ATEXT;
}

/** C0 controls and DEL, tab excepted (tab is whitespace). */
function isControl(code: number): boolean {
  return (code < 0x20 && code !== TAB) || code === 0x7f;
}

/** Pull-based tokenizer: call `next()` until it returns `undefined`. */
export class AddressTokenizer {
  readonly #text: string;
  #pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  next(): Token | undefined {
    const text = this.#text;
    let spaceBefore = false;
    while (this.#pos < text.length) {
      const start = this.#pos;
      const kind = classOf(text.charCodeAt(start));
      if (kind === SPACE) {
        this.#pos++;
        spaceBefore = true;
      } else if (kind === COMMENT) {
        this.#skipComment();
        spaceBefore = true;
      } else if (kind === ATEXT) {
        let end = start + 1;
        while (end < text.length && classOf(text.charCodeAt(end)) === ATEXT) end++;
        this.#pos = end;
        return token('atom', text.slice(start, end), spaceBefore);
      } else if (kind === QUOTE) {
        return this.#quoted(spaceBefore);
      } else if (kind === LITERAL) {
        return this.#literal(spaceBefore);
      } else {
        this.#pos++;
        return token(kind === SPECIAL ? 'special' : 'junk', text.charAt(start), spaceBefore);
      }
    }
    return undefined;
  }

  /** RFC 5322 §3.2.2 comments nest; an unclosed one runs to the end of the value. */
  #skipComment(): void {
    const text = this.#text;
    let depth = 0;
    let i = this.#pos;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === BACKSLASH) {
        i += 2;
        continue;
      }
      i++;
      if (code === OPEN_PAREN) depth++;
      else if (code === CLOSE_PAREN && --depth === 0) break;
    }
    this.#pos = Math.min(i, text.length);
  }

  /** A quoted-string (RFC 5322 §3.2.4): CRLF inside is folding and is removed. */
  #quoted(spaceBefore: boolean): Token {
    const text = this.#text;
    const start = this.#pos;
    const raw: string[] = [];
    const value: string[] = [];
    let broken = false;
    let segment = start + 1;
    let i = segment;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === DQUOTE) break;
      if (code === CR || code === LF) {
        raw.push(text.slice(segment, i));
        value.push(text.slice(segment, i));
        segment = i + 1;
      } else if (code === BACKSLASH) {
        value.push(text.slice(segment, i), text.charAt(i + 1));
        if (i + 1 >= text.length || isControl(text.charCodeAt(i + 1))) broken = true;
        raw.push(text.slice(segment, i + 2));
        i++;
        segment = i + 1;
      } else if (isControl(code)) {
        broken = true;
      }
    }
    this.#pos = Math.min(i + 1, text.length);
    if (i >= text.length) return token('junk', text.slice(start), spaceBefore);
    raw.push(text.slice(segment, i));
    value.push(text.slice(segment, i));
    const quoted = `"${raw.join('')}"`;
    return { kind: broken ? 'junk' : 'quoted', text: quoted, value: value.join(''), spaceBefore };
  }

  /** A domain-literal (RFC 5322 §3.4.1), whitespace inside removed; `[` inside or no `]` is junk. */
  #literal(spaceBefore: boolean): Token {
    const text = this.#text;
    const start = this.#pos;
    const parts: string[] = [];
    let broken = false;
    let segment = start;
    let i = start + 1;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code === CLOSE_BRACKET) break;
      if (classOf(code) === SPACE) {
        parts.push(text.slice(segment, i));
        segment = i + 1;
      } else if (code === BACKSLASH) {
        if (i + 1 >= text.length || isControl(text.charCodeAt(i + 1))) broken = true;
        i++;
      } else if (code === OPEN_BRACKET || isControl(code)) {
        broken = true;
      }
    }
    this.#pos = Math.min(i + 1, text.length);
    if (i >= text.length) return token('junk', text.slice(start), spaceBefore);
    parts.push(text.slice(segment, i + 1));
    return token(broken ? 'junk' : 'literal', parts.join(''), spaceBefore);
  }
}

function token(kind: TokenKind, text: string, spaceBefore: boolean): Token {
  return { kind, text, value: text, spaceBefore };
}

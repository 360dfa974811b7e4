/**
 * The service extensions a server advertised in its EHLO reply
 * (RFC 5321 §4.1.1.1): each keyword, upper-cased, with its parameters.
 *
 * Built from a parsed {@link Reply}, line by line, never by a regex over the
 * raw reply text: bytes injected ahead of a STARTTLS handshake must not turn
 * into trusted capabilities (RFC 3207 §4.2 says to forget them all after the
 * handshake; the session does so by building a new instance from the new EHLO).
 */
import type { Reply } from './reply.js';

export class Capabilities {
  readonly #params: ReadonlyMap<string, readonly string[]>;
  readonly #keywords: readonly string[];
  /** Read once: every message on the session asks. */
  readonly #sizeLimit: number | undefined;

  private constructor(params: ReadonlyMap<string, readonly string[]>) {
    this.#params = params;
    this.#sizeLimit = sizeLimit(params.get('SIZE')?.[0]);
    this.#keywords = Object.freeze([...params.keys()]);
  }

  /**
   * Parses an EHLO reply. The first line (the server's domain and greeting)
   * is skipped. Every other line is a keyword, upper-cased, then parameters
   * separated by spaces, kept with their case. Empty lines are ignored and
   * unknown keywords are kept.
   *
   * AUTH mechanisms are upper-cased, and the old form `AUTH=LOGIN PLAIN`
   * (still sent by some servers for old clients) counts as AUTH
   * with those mechanisms: both forms are merged, de-duplicated, under `AUTH`
   * (RFC 4954). For any other keyword advertised twice, the first line wins.
   */
  static fromEhlo(reply: Reply): Capabilities {
    const params = new Map<string, string[]>();
    for (const line of reply.lines.slice(1)) {
      const words = line.split(/[ \t]+/).filter((word) => word !== '');
      const first = words[0];
      if (first === undefined) continue;
      let keyword = first.toUpperCase();
      let rest = words.slice(1);
      if (keyword.startsWith('AUTH=')) {
        const mechanism = first.slice('AUTH='.length);
        rest = mechanism === '' ? rest : [mechanism, ...rest];
        keyword = 'AUTH';
      }
      if (keyword === 'AUTH') {
        const mechanisms = params.get('AUTH') ?? [];
        for (const mechanism of rest) {
          const upper = mechanism.toUpperCase();
          if (!mechanisms.includes(upper)) mechanisms.push(upper);
        }
        params.set('AUTH', mechanisms);
      } else if (!params.has(keyword)) {
        params.set(keyword, rest);
      }
    }
    return new Capabilities(params);
  }

  /** No extensions: the server answered HELO, not EHLO (RFC 5321 §4.1.1.1). */
  static none(): Capabilities {
    return new Capabilities(new Map());
  }

  /** Whether the keyword was advertised; case-insensitive. */
  has(keyword: string): boolean {
    // Keywords are kept upper-case; callers mostly ask in upper case already.
    return this.#params.has(keyword) || this.#params.has(keyword.toUpperCase());
  }

  /** The keyword's parameters (possibly none), or `undefined` when not advertised. */
  params(keyword: string): readonly string[] | undefined {
    const found = this.#params.get(keyword.toUpperCase());
    return found === undefined ? undefined : [...found];
  }

  /** Every keyword advertised, upper-cased, in the order first seen. */
  get keywords(): readonly string[] {
    return this.#keywords;
  }

  /**
   * The largest message the server accepts, in octets (RFC 1870 §4), or
   * `undefined` when it declared no limit: `SIZE` alone, `SIZE 0` (RFC 1870:
   * no fixed maximum) or a value that is not a positive integer.
   */
  get sizeLimit(): number | undefined {
    return this.#sizeLimit;
  }

  /** SASL mechanisms from AUTH and AUTH=, upper-cased, de-duplicated, in order first seen. */
  get authMechanisms(): readonly string[] {
    return [...(this.#params.get('AUTH') ?? [])];
  }
}

function sizeLimit(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const limit = Number(value);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

/**
 * SASLprep (RFC 4013), the stringprep profile (RFC 3454) SCRAM applies to user names and passwords (RFC 5802 §2.2,
 * §5.1): non-ASCII spaces become SPACE, the characters "commonly mapped to nothing" are removed, the result is
 * normalised to NFKC, and prohibited characters and bidirectional text that breaks RFC 3454 §6 are refused.
 *
 * Limits, on purpose: NFKC is Node's (the Unicode version of its ICU), not Unicode 3.2's; the two differ only for
 * characters unassigned in Unicode 3.2, which a stored string refuses anyway, and for the handful that later
 * corrigenda changed. The tables (saslprep-tables.ts) are RFC 3454's own.
 */
import { A1, B1, C12, D1, D2, PROHIBITED, type Ranges } from './saslprep-tables.js';

/**
 * `query` allows code points unassigned in Unicode 3.2 (a SCRAM user name, RFC 5802 §5.1); `stored` refuses them
 * (the password, RFC 5802 §2.2 "Normalize").
 */
export type SaslprepKind = 'query' | 'stored';

/** The prepared string, or why it cannot be prepared (never naming a character: the input may be a password). */
export type SaslprepResult =
  { readonly ok: true; readonly value: string } | { readonly ok: false; readonly why: string };

export function saslprep(input: string, kind: SaslprepKind): SaslprepResult {
  // Plain printable ASCII is its own preparation: the common case costs one test.
  if (/^[\x20-\x7e]*$/.test(input)) return { ok: true, value: input };
  let mapped = '';
  for (const char of input) {
    const point = char.codePointAt(0) as number;
    if (inRanges(C12, point)) mapped += ' ';
    else if (!inRanges(B1, point)) mapped += char;
  }
  const value = mapped.normalize('NFKC');
  let randAl = false;
  let left = false;
  for (const char of value) {
    const point = char.codePointAt(0) as number;
    if (inRanges(PROHIBITED, point)) return fail('a character SASLprep prohibits (RFC 4013 §2.3)');
    if (kind === 'stored' && inRanges(A1, point)) {
      return fail('a code point unassigned in Unicode 3.2 (RFC 4013 §2.5)');
    }
    randAl ||= inRanges(D1, point);
    left ||= inRanges(D2, point);
  }
  if (randAl) {
    const chars = [...value];
    const first = chars[0]?.codePointAt(0) as number;
    const last = chars[chars.length - 1]?.codePointAt(0) as number;
    if (left) return fail('right-to-left and left-to-right characters mixed (RFC 3454 §6)');
    if (!inRanges(D1, first) || !inRanges(D1, last))
      return fail('right-to-left text that does not start and end with a right-to-left character (RFC 3454 §6)');
  }
  return { ok: true, value };
}

function fail(why: string): SaslprepResult {
  return { ok: false, why };
}

/** Binary search over sorted, disjoint ranges. */
export function inRanges(ranges: Ranges, point: number): boolean {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [first, last] = ranges[middle] as readonly [number, number];
    if (point < first) high = middle - 1;
    else if (point > last) low = middle + 1;
    else return true;
  }
  return false;
}

/**
 * An SMTP reply as a value (RFC 5321 §4.2): code, enhanced status code, lines
 * of text. Pure, no imports: errors, the parser and every layer above share it.
 */

/** One SMTP reply (RFC 5321 §4.2), parsed. */
export interface Reply {
  /** The three-digit reply code, 200..599. */
  readonly code: number;
  /**
   * The enhanced status code (RFC 3463, RFC 2034), e.g. `'5.1.1'`, when the
   * first line's text starts with `class.subject.detail` followed by a space
   * or the end of the line, and the class digit equals the first digit of
   * `code`; otherwise `undefined`.
   */
  readonly enhancedCode: string | undefined;
  /**
   * The text of each line after `NNN-` / `NNN ` (empty for a bare `NNN`).
   * The enhanced code is not stripped from the text.
   */
  readonly lines: readonly string[];
}

/** The reply as one line of text: `'250 2.0.0 Ok queued as 123'`. */
export function replyText(reply: Reply): string {
  return `${reply.code} ${reply.lines.join(' ')}`.trimEnd();
}

/**
 * Control characters other than tab (ESC, BEL, BS, a bare CR, C1 controls
 * such as CSI): RFC 5321 reply text has none, and a terminal that printed
 * them raw could be retitled, cleared or made to type (issue #15).
 */
export const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const ALL_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/** Reply text with its control characters written as `\xNN`, so that no error, hint or transcript carries them raw. */
export function escapeControls(text: string): string {
  return text.replace(ALL_CONTROLS, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A message in memory that BDAT sends in two chunks, the first of 1 MiB (the encoder's block) and the header block,
 * the second the rest with LAST, and the fake server's script lines for the client's bytes of each (C: lines: every
 * chunk ends with a line end).
 */
const LINE = `${'x'.repeat(1022)}\r\n`;
const HEAD = 'Subject: big\r\n\r\n';
const FIRST = HEAD + LINE.repeat(1024);
const REST = LINE.repeat(3);

/** `text` (CRLF line ends, ending with one) as the script's C: lines. */
function asLines(text: string): string {
  return text
    .split('\r\n')
    .slice(0, -1)
    .map((line) => `C: ${line}`)
    .join('\n');
}

export const TWO_CHUNKS = {
  message: FIRST + REST,
  /** BDAT for the first chunk, then its bytes. */
  first: `C: BDAT ${FIRST.length}\n${asLines(FIRST)}`,
  /** BDAT LAST for the rest, then its bytes. */
  last: `C: BDAT ${REST.length} LAST\n${asLines(REST)}`,
} as const;

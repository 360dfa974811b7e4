/**
 * Standard input as sendmail reads it: without `-i`, a line that is a lone
 * "." ends the message (and the rest is not read); with `-i` everything up
 * to end of file is the message. Streamed: memory does not grow with the
 * message.
 */
const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** The message up to a lone "." line (LF or CRLF), which is not part of it. */
export async function* untilLoneDot(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let atLineStart = true;
  let held: Buffer | undefined; // "." or ".\r" at a line start, waiting to see what follows
  for await (const piece of source) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    if (chunk.length === 0) continue;
    const data = held === undefined ? chunk : Buffer.concat([held, chunk]);
    held = undefined;
    let start = atLineStart ? 0 : nextLineStart(data, 0);
    for (; start !== -1 && start < data.length; start = nextLineStart(data, start)) {
      if (data[start] !== DOT) continue;
      const verdict = loneDot(data, start);
      if (verdict === 'yes') {
        if (start > 0) yield data.subarray(0, start);
        return;
      }
      if (verdict === 'undecided') {
        held = data.subarray(start);
        break;
      }
    }
    const ready = held === undefined ? data : data.subarray(0, data.length - held.length);
    if (ready.length > 0) yield ready;
    atLineStart = data[data.length - 1] === LF;
  }
  // A "." (or ".\r") on the last line, without a line end, is a lone-dot line too: it ends the input.
}

function nextLineStart(data: Buffer, from: number): number {
  const lf = data.indexOf(LF, from);
  return lf === -1 ? -1 : lf + 1;
}

/** Whether the line at `start` (which begins with ".") is a lone dot, or the data ends too soon to tell. */
function loneDot(data: Buffer, start: number): 'yes' | 'no' | 'undecided' {
  const next = data[start + 1];
  if (next === undefined) return 'undecided';
  if (next === LF) return 'yes';
  if (next !== CR) return 'no';
  const after = data[start + 2];
  if (after === undefined) return 'undecided';
  return after === LF ? 'yes' : 'no';
}

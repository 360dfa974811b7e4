/**
 * The command's progress line: on standard error, only when it is a terminal (a pipe, a log file or cron gets
 * nothing), redrawn in place (carriage return, erase to the end of the line) at most every REDRAW_MS, and erased
 * when the work ends so that what follows starts on a clean line.
 */
import type { Writable } from 'node:stream';

const REDRAW_MS = 100;
/** A message from this size on shows how much of it has gone. */
export const LARGE_MESSAGE_BYTES = 4 * 1000 * 1000;

export class ProgressLine {
  readonly #stream: Writable;
  readonly #terminal: boolean;
  #shown = false;
  #last = 0;

  constructor(stream: Writable) {
    this.#stream = stream;
    this.#terminal = (stream as Partial<{ isTTY: boolean }>).isTTY === true;
  }

  /** Draws `text` (unless the last drawing was under REDRAW_MS ago and `force` is not set). */
  show(text: string, force = false): void {
    if (!this.#terminal) return;
    const now = Date.now();
    if (!force && this.#shown && now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#shown = true;
    this.#stream.write(`\r${text}\x1b[K`);
  }

  /** Erases the line, if one was drawn. */
  clear(): void {
    if (!this.#shown) return;
    this.#shown = false;
    this.#stream.write('\r\x1b[K');
  }
}

/** `12.3 MB` (10^6 octets, one decimal). */
export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

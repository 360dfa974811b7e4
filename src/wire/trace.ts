/**
 * The session transcript (smtpmail-debug-info): every line in each direction.
 * Secrets are redacted by state at the source (the session decides what a
 * line is shown as), never by pattern matching here.
 */

/** `client`: a line the client sent; `server`: a reply line; `info`: a note of the library's. */
export type TraceDirection = 'client' | 'server' | 'info';

export interface TraceEvent {
  readonly direction: TraceDirection;
  readonly line: string;
}

export type TraceListener = (event: TraceEvent) => void;

const MARKERS: Record<TraceDirection, string> = { client: 'C: ', server: 'S: ', info: '* ' };

/** One event as a transcript line: `C: EHLO host`, `S: 250 OK`, `* note`. */
export function formatTrace(event: TraceEvent): string {
  return MARKERS[event.direction] + event.line;
}

/**
 * Splits DATA content (CRLF lines, any chunking) into transcript lines, for
 * callers who asked to see the message in the transcript.
 */
export class DataTracer {
  readonly #listener: TraceListener;
  #partial = '';

  constructor(listener: TraceListener) {
    this.#listener = listener;
  }

  push(chunk: Buffer): void {
    const lines = (this.#partial + chunk.toString('utf8')).split('\r\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#listener({ direction: 'client', line });
  }

  end(): void {
    if (this.#partial !== '') this.#listener({ direction: 'client', line: this.#partial });
    this.#partial = '';
  }
}

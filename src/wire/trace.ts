/**
 * The session transcript (smtpmail-debug-info): every line in each direction.
 * Secrets are redacted by state at the source (the session decides what a
 * line is shown as), never by pattern matching here.
 */

/** `client`: a line the client sent; `server`: a reply line; `info`: a note of the library's. */
export type TraceDirection = 'client' | 'server' | 'info';

/**
 * What a structured event is about (its `fields` say the rest): `connect` (host, port, implicitTls; path and
 * implicitTls for a unix socket), `tls` (protocol, cipher, authorized), `auth` (mechanism, user, source), `retry`
 * (attempt, nextAttempt, waitMs, code), `reconnect` (previousConnection), `fallback` (from, to: BDAT refused, DATA from
 * now on).
 */
export type TraceKind = 'connect' | 'tls' | 'auth' | 'retry' | 'reconnect' | 'fallback';

/** The message a transaction's lines belong to. */
export interface TraceMessage {
  /** The send's number in this process (1, 2, ...), the same for every attempt. */
  readonly index: number;
  /** Its Message-ID, when it has one. */
  readonly id: string | undefined;
}

/** An event as the code that has it knows it; the connection (or client) stamps the rest. */
export interface TraceNote {
  readonly direction: TraceDirection;
  /** The line as shown (secrets already redacted), or the note's text. */
  readonly line: string;
  readonly kind?: TraceKind | undefined;
  readonly fields?: Readonly<Record<string, string | number | boolean | null>> | undefined;
}

export interface TraceEvent extends TraceNote {
  /** When it happened, in milliseconds since the epoch. */
  readonly time: number;
  /**
   * The connection it belongs to: an id unique within the process, the same for every event of one connection
   * (`connect` included). Undefined for a client's events outside a connection (a retry's wait).
   */
  readonly connection: number | undefined;
  /** Inside a transaction (its commands, their replies, its notes): the message. */
  readonly message?: TraceMessage | undefined;
}

export type TraceListener = (event: TraceEvent) => void;

/** `note` stamped with the time, its connection and message. */
export function stamp(note: TraceNote, connection: number | undefined, message?: TraceMessage): TraceEvent {
  return message === undefined
    ? { ...note, time: Date.now(), connection }
    : { ...note, time: Date.now(), connection, message };
}

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
  readonly #listener: (note: TraceNote) => void;
  #partial = '';

  constructor(listener: (note: TraceNote) => void) {
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

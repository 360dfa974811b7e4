/**
 * The raw ceiling: a pre-rendered, fully pipelined SMTP session on a bare
 * net.Socket. EHLO once, then for each message MAIL FROM, RCPT TO, DATA, the
 * dot-stuffed message and ".\r\n", written in big batches without waiting
 * for any reply (back-pressure only). Every message is answered by exactly
 * four reply lines (250, 250, 354, 250), so counting lines counts messages.
 */
import net from 'node:net';
import { once } from 'node:events';

const LF = 0x0a;
const DOT = 0x2e;
const NL_DOT = Buffer.from('\n.', 'latin1');
const BATCH_BYTES = 512 * 1024;
const REPLIES_PER_MESSAGE = 4;
const SETTLE_TIMEOUT_MS = 120_000;

/** RFC 5321 §4.5.2 transparency: one more "." before every line that starts with one. */
export function dotStuff(message: Buffer): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (message[0] === DOT) parts.push(Buffer.from('.'));
  for (let hit = message.indexOf(NL_DOT); hit >= 0; hit = message.indexOf(NL_DOT, hit + 1)) {
    parts.push(message.subarray(start, hit + 1), Buffer.from('.'));
    start = hit + 1;
  }
  parts.push(message.subarray(start));
  return Buffer.concat(parts);
}

export class RawSession {
  readonly #socket: net.Socket;
  /** The writes for one unit: `perUnit` messages, pre-rendered. */
  readonly #unit: readonly Buffer[];
  readonly perUnit: number;
  #lines = 0;
  /** The last chunk ended inside a reply line. */
  #midLine = false;
  #written = 0;
  #failure: Error | undefined;
  #waiter: (() => void) | undefined;

  private constructor(socket: net.Socket, message: Buffer, from: string, to: string) {
    this.#socket = socket;
    const envelope = Buffer.from(`MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nDATA\r\n`, 'latin1');
    const body = dotStuff(message);
    const end = Buffer.from('.\r\n', 'latin1');
    const one = envelope.length + body.length + end.length;
    this.perUnit = Math.max(1, Math.floor(BATCH_BYTES / one));
    this.#unit =
      this.perUnit === 1
        ? [envelope, body, end]
        : [Buffer.concat(Array.from({ length: this.perUnit }, () => [envelope, body, end]).flat())];
    socket.on('data', (chunk: Buffer) => this.#onReplies(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the connection closed')));
  }

  /** Connects, reads the greeting, sends EHLO and waits for its last line. */
  static async open(port: number, message: Buffer, from: string, to: string): Promise<RawSession> {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    let text = '';
    socket.write('EHLO bench.local\r\n');
    while (!/^250 [^\n]*\n/m.test(text)) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      text += chunk.toString('latin1');
      if (/^[45]\d\d/m.test(text)) throw new Error(`raw session refused: ${text}`);
    }
    socket.pause();
    const session = new RawSession(socket, message, from, to);
    socket.resume();
    return session;
  }

  get completed(): number {
    return Math.floor(this.#lines / REPLIES_PER_MESSAGE);
  }

  /** Writes whole units while `more()` says so; returns the messages written. */
  async write(more: (written: number) => boolean): Promise<number> {
    let count = 0;
    while (this.#failure === undefined && more(count)) {
      let flowing = true;
      for (const part of this.#unit) flowing = this.#socket.write(part);
      count += this.perUnit;
      this.#written += this.perUnit;
      if (!flowing) await this.#drain();
    }
    if (this.#failure !== undefined) throw this.#failure;
    return count;
  }

  /** Waits until every message written so far has its final reply. */
  async settle(): Promise<void> {
    const deadline = setTimeout(
      () => this.#fail(new Error('the raw session timed out waiting for replies')),
      SETTLE_TIMEOUT_MS,
    );
    try {
      while (this.#failure === undefined && this.completed < this.#written) {
        await new Promise<void>((resolve) => (this.#waiter = resolve));
      }
    } finally {
      clearTimeout(deadline);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  async quit(): Promise<void> {
    this.#socket.removeAllListeners('close');
    this.#socket.on('close', () => undefined);
    this.#socket.end('QUIT\r\n');
    this.#socket.destroySoon();
  }

  #drain(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  #onReplies(chunk: Buffer): void {
    // Only a line that starts in this chunk has its code checked (the first byte: 2xx or 3xx expected).
    let lineStart = this.#midLine ? -1 : 0;
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
      const code = lineStart < 0 ? undefined : chunk[lineStart];
      if (code !== undefined && code !== 0x32 && code !== 0x33)
        this.#fail(new Error(`unexpected reply: ${chunk.toString('latin1', lineStart, lf)}`));
      this.#lines++;
      lineStart = lf + 1;
    }
    this.#midLine = chunk[chunk.length - 1] !== LF;
    if (this.completed >= this.#written) this.#wake();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}

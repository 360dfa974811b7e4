/**
 * The raw ceiling: the least a Node client must do per message. EHLO once on a bare net.Socket; then each message
 * is one write of its pre-rendered transaction (MAIL FROM, RCPT TO and `BDAT n LAST` with the message: the fewest
 * bytes and round trips SMTP allows, as this library sends by default), with up to `window` messages in flight and
 * the socket's back-pressure respected; replies are only counted. Every message is answered by exactly three reply
 * lines (250, 250, 250), so counting lines counts messages.
 */
import net from 'node:net';
import { once } from 'node:events';

const LF = 0x0a;
const REPLIES_PER_MESSAGE = 3;
const SETTLE_TIMEOUT_MS = 120_000;

export class RawSession {
  readonly #socket: net.Socket;
  /** One message's whole transaction, written as it is for every message. */
  readonly #transaction: Buffer;
  #lines = 0;
  /** The last chunk ended inside a reply line. */
  #midLine = false;
  #written = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket, message: Buffer, from: string, to: string) {
    this.#socket = socket;
    const commands = `MAIL FROM:<${from}>\r\nRCPT TO:<${to}>\r\nBDAT ${message.length} LAST\r\n`;
    this.#transaction = Buffer.concat([Buffer.from(commands, 'latin1'), message]);
    socket.on('data', (chunk: Buffer) => this.#onReplies(chunk));
    socket.on('drain', () => this.#wakeUp());
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
    if (!/^250[ -]CHUNKING/im.test(text)) throw new Error('the raw ceiling needs a sink that offers CHUNKING');
    socket.pause();
    const session = new RawSession(socket, message, from, to);
    socket.resume();
    return session;
  }

  get completed(): number {
    return Math.floor(this.#lines / REPLIES_PER_MESSAGE);
  }

  /**
   * Writes messages while `more(written)` says so, keeping at most `window` without their final reply; resolves
   * once every message written has its reply, with the number written.
   */
  async send(more: (written: number) => boolean, window: number): Promise<number> {
    const start = this.#written;
    const deadline = setTimeout(
      () => this.#fail(new Error('the raw session timed out waiting for replies')),
      SETTLE_TIMEOUT_MS,
    );
    try {
      for (;;) {
        if (this.#failure !== undefined) throw this.#failure;
        const go = more(this.#written - start);
        // Corked: the messages written here leave in one writev, as a client that batches its writes sends them.
        this.#socket.cork();
        while (go && this.#written - this.completed < window && !this.#socket.writableNeedDrain) {
          this.#socket.write(this.#transaction);
          this.#written++;
          if (!more(this.#written - start)) break;
        }
        this.#socket.uncork();
        if (!go && this.completed >= this.#written) return this.#written - start;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        deadline.refresh();
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  async quit(): Promise<void> {
    this.#socket.removeAllListeners('close');
    this.#socket.on('close', () => undefined);
    this.#socket.end('QUIT\r\n');
    this.#socket.destroySoon();
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
    this.#wakeUp();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * A connected byte stream seen as SMTP lines: commands out, parsed replies in,
 * in order. Replies are queued as they arrive and taken one at a time by
 * `read()`, so pipelined replies (RFC 2920) are matched by order alone.
 * They are matched by count too: each command written (and the greeting, and
 * the final dot) is owed one reply, and a reply nobody is owed (a stray
 * `250` after MAIL, anything on an idle connection) fails the connection
 * with EPROTOCOL, its queued replies dropped, rather than being taken as
 * the answer to the next command. A 421 is the one reply a server may send
 * unasked (it is closing).
 *
 * Once anything goes wrong (malformed reply, timeout, drop, error) the
 * connection is failed for good: the stream is destroyed and every later
 * read or write rejects with the same error. Nothing is left open.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Deadline } from '../deadline.js';
import { SmtpProtocolError } from '../errors.js';
import type { Part } from '../wire/buffer-pool.js';
import { ReplyParser } from '../wire/reply-parser.js';
import { replyText, type Reply } from '../wire/reply.js';
import { stamp, type TraceListener, type TraceMessage, type TraceNote } from '../wire/trace.js';
import type { TlsOptions } from '../options.js';
import { isLoopback, upgrade, type Opened, type TlsBinding, type TlsInfo } from './transport.js';
import { WriteBatcher } from './write-batcher.js';

const NONE: readonly never[] = [];

/** A command line whose transcript form differs (what the client sends while SASL is in progress). */
export interface Redacted {
  readonly line: string;
  readonly shown: string;
}

/** A command line (with its CRLF), as written and traced, or Redacted. */
export type Command = string | Redacted;

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: SmtpProtocolError) => void;
}

let lastConnectionId = 0;

/** A new connection id (unique within the process), for the trace events of one connection. */
export function newConnectionId(): number {
  return ++lastConnectionId;
}

export class Connection {
  /** Unique within the process: every trace event of this connection carries it. */
  readonly id: number;
  /** The transaction writing now (set while it holds the write turn): its lines and notes are traced with it. */
  message: TraceMessage | undefined;
  /** While tracing: the message each reply owed belongs to, in the order the replies are due (the greeting first). */
  readonly #replyMessages: (TraceMessage | undefined)[] = [undefined];
  #stream: Duplex;
  /** unref() was called: timers started from now on do not keep the process alive either. */
  #unref = false;
  #tls: TlsInfo | undefined;
  #binding: TlsBinding | undefined;
  readonly #remoteAddress: string | undefined;
  /** A unix socket or a loopback address: the peer is on this host. */
  readonly #local: boolean;
  #parser = new ReplyParser(() => this.note('the server sent an empty line: skipped'));
  readonly #replies: Reply[] = [];
  readonly #trace: TraceListener | undefined;
  #failure: SmtpProtocolError | undefined;
  /** Whoever waits for a reply or for `drain`; at most one of each at a time. */
  #replyWaiter: Waiter | undefined;
  #drainWaiter: Waiter | undefined;
  readonly #failureListeners = new Set<(error: SmtpProtocolError) => void>();
  /** Writes of this event-loop turn leave together, in one writev (a few, for a turn of more than 32 KiB). */
  readonly #writer: WriteBatcher;
  /** Whether the server has sent anything at all (a port that waits for TLS sends nothing). */
  #heard = false;
  /** Replies owed: the greeting, one per command written, one per final dot. */
  #owed = 1;

  constructor(opened: Opened, trace: TraceListener | undefined, id = newConnectionId()) {
    this.id = id;
    this.#stream = opened.stream;
    this.#tls = opened.tls;
    this.#binding = opened.binding;
    this.#remoteAddress = opened.remoteAddress;
    this.#local = opened.local === true || isLoopback(opened.remoteAddress);
    this.#trace = trace;
    this.#writer = new WriteBatcher(opened.stream);
    this.#attach();
  }

  /** TLS details when the stream is encrypted. */
  get tls(): TlsInfo | undefined {
    return this.#tls;
  }

  /** What channel binding needs of the TLS session (SCRAM -PLUS), when the stream is encrypted. */
  get tlsBinding(): TlsBinding | undefined {
    return this.#binding;
  }

  /** The peer's IP address, as connected. */
  get remoteAddress(): string | undefined {
    return this.#remoteAddress;
  }

  /**
   * True when the peer is on this host: a loopback address or a unix socket (the only peers a password may go to
   * without TLS by default).
   */
  get loopbackPeer(): boolean {
    return this.#local;
  }

  get failure(): SmtpProtocolError | undefined {
    return this.#failure;
  }

  /**
   * `promise`, or the connection's failure if that comes first: for waits on
   * other things (a message stream). The listener is removed once either
   * settles, so nothing accumulates over a long message.
   */
  orFailure<T>(promise: Promise<T>): Promise<T> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<T>((resolve, reject) => {
      const listeners = this.#failureListeners;
      listeners.add(reject);
      promise.then(
        (value) => {
          listeners.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          listeners.delete(reject);
          reject(error);
        },
      );
    });
  }

  /** True once any byte has come from the server. */
  get heard(): boolean {
    return this.#heard;
  }

  /** Bytes or replies received and not yet read: must be none before a TLS upgrade. */
  get hasUnreadInput(): boolean {
    return this.#replies.length > 0 || this.#parser.buffered > 0;
  }

  /** True when someone listens to the transcript: build trace text only then. */
  get tracing(): boolean {
    return this.#trace !== undefined;
  }

  /** Traces `note` as an event of this connection (and of the transaction writing now, if any). */
  trace(note: TraceNote): void {
    this.#trace?.(stamp(note, this.id, this.message));
  }

  note(line: string): void {
    this.#trace?.(stamp({ direction: 'info', line }, this.id, this.message));
  }

  /**
   * Writes commands, each owed one reply and traced as written (or, for a
   * Redacted one, as its `shown` form), then `payload`: one segment with
   * everything else written in this turn.
   */
  send(commands: readonly Command[], payload: readonly Part[] = NONE): void {
    this.#throwIfFailed();
    let text = '';
    for (const command of commands) {
      const line = typeof command === 'string' ? command : command.line;
      if (this.#trace !== undefined) {
        this.trace({ direction: 'client', line: typeof command === 'string' ? line.slice(0, -2) : command.shown });
        this.#replyMessages.push(this.message);
      }
      text += line;
    }
    this.#owed += commands.length;
    this.#writer.put(text, payload);
  }

  /** Writes message bytes; waits for `drain` when the stream asks for it. */
  async write(part: Part, timeoutMs: number, what: string): Promise<void> {
    this.#throwIfFailed();
    const room = this.#writer.put('', [part]);
    if (!room) await this.#wait('drain', timeoutMs, what);
  }

  /**
   * The final dot of DATA is about to be written: it is owed a reply, as a command is. LMTP (RFC 2033 §4.2): the
   * final dot, or BDAT LAST, is owed one reply per recipient accepted; `count` more replies are owed.
   */
  expectReplies(count = 1): void {
    for (let i = 0; i < count; i++) if (this.#trace !== undefined) this.#replyMessages.push(this.message);
    this.#owed += count;
  }

  /**
   * `count` of the replies owed to the last command written will not come after all: LMTP's BDAT LAST written
   * before the RCPT replies said how many recipients it has. The caller has held the write turn since, so those
   * are the last replies owed; more of them already here than are now owed is a stray reply.
   */
  cancelReplies(count: number): void {
    if (count <= 0) return;
    this.#throwIfFailed();
    if (this.#owed < count) {
      this.#stray('a reply for a recipient the server had refused');
      this.#throwIfFailed();
    }
    this.#owed -= count;
    if (this.#trace !== undefined) this.#replyMessages.splice(-count, count);
  }

  /** Waits until the stream has room again, when it asked for a pause. */
  async drained(timeoutMs: number, what: string): Promise<void> {
    this.#throwIfFailed();
    if (this.#stream.writableNeedDrain) await this.#wait('drain', timeoutMs, what);
  }

  /** The next reply when it is already here (taken), else undefined: for a hot path that need not wait. */
  tryRead(): Reply | undefined {
    return this.#replies.shift();
  }

  /** The next reply, in order of arrival. `what` names it in a timeout error. */
  async read(timeoutMs: number, what: string): Promise<Reply> {
    const queued = this.#replies.shift();
    if (queued !== undefined) return queued;
    this.#throwIfFailed();
    await this.#wait('reply', timeoutMs, what);
    const reply = this.#replies.shift();
    if (reply === undefined) throw new SmtpProtocolError('EPROTOCOL', 'internal error: woken without a reply');
    return reply;
  }

  /**
   * Fails the connection when one send's deadline passes or its caller
   * aborts, until the returned function is called (one operation on a
   * longer-lived connection).
   */
  watch(deadline: Deadline): () => void {
    return deadline.watch((reason) => this.fail(reason));
  }

  /** STARTTLS: hands the socket to TLS, then reads replies from the encrypted stream. */
  async upgrade(host: string, options: TlsOptions | undefined, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.#throwIfFailed();
    if (this.hasUnreadInput) {
      // RFC 3207 §5 (and CVE-2011-0411): bytes sent before the handshake must not be trusted.
      this.fail(
        new SmtpProtocolError(
          'EPROTOCOL',
          'the server sent data after its reply to STARTTLS, before TLS began (possible response injection)',
        ),
      );
      this.#throwIfFailed();
    }
    this.#writer.endTurn(); // anything written before STARTTLS goes out in the clear now, not into TLS
    this.#detach();
    let opened: Opened;
    try {
      opened = await upgrade(this.#stream, host, options, timeoutMs, signal);
    } catch (error) {
      this.#failure = error as SmtpProtocolError;
      this.#stream.destroy();
      throw error;
    }
    this.#writer.replace(opened.stream);
    this.#stream = opened.stream;
    this.#tls = opened.tls;
    this.#binding = opened.binding;
    this.#parser = new ReplyParser(() => this.note('the server sent an empty line: skipped'));
    this.#attach();
  }

  /** Fails the connection for good: destroys the stream and wakes every waiter. */
  fail(error: SmtpProtocolError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#writer.close();
    this.#stream.destroy();
    for (const listener of this.#failureListeners) listener(error);
    this.#failureListeners.clear();
    const waiters = [this.#replyWaiter, this.#drainWaiter];
    this.#replyWaiter = this.#drainWaiter = undefined;
    for (const waiter of waiters) waiter?.reject(error);
  }

  /**
   * Lets the process exit while this connection is still open (its socket and its timers no longer keep the event
   * loop alive): for a QUIT whose reply nobody waits for.
   */
  unref(): void {
    this.#unref = true;
    (this.#stream as Partial<Pick<Socket, 'unref'>>).unref?.();
  }

  /** Closes the stream (idempotent). Later reads and writes reject. */
  close(): void {
    this.fail(new SmtpProtocolError('ECONNECTION', 'the connection was closed', { transient: true }));
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  #wait(kind: 'reply' | 'drain', timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(
          new SmtpProtocolError('ETIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, { transient: true }),
        );
      }, timeoutMs);
      if (this.#unref) timer.unref();
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (kind === 'reply') this.#replyWaiter = waiter;
      else this.#drainWaiter = waiter;
    });
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#heard = true;
    let replies: Reply[];
    try {
      replies = this.#parser.push(chunk);
    } catch (error) {
      this.fail(error as SmtpProtocolError);
      return;
    }
    let closing: Reply | undefined;
    for (const reply of replies) {
      this.#traceReply(reply);
      if (this.#owed === 0 && reply.code !== 421) {
        this.#stray(replyText(reply));
        return;
      }
      if (this.#owed > 0) this.#owed--;
      this.#replies.push(reply);
      if (reply.code === 421) closing ??= reply;
    }
    // Bytes of a reply that nobody is owed: an idle connection reads nothing.
    if (this.#owed === 0 && this.#parser.buffered > 0) {
      this.#stray('the start of an unasked reply');
      return;
    }
    if (this.#replies.length > 0 && this.#replyWaiter !== undefined) {
      const waiter = this.#replyWaiter;
      this.#replyWaiter = undefined;
      waiter.resolve();
    }
    // RFC 5321 §3.8: after 421 the server closes the channel. Replies already here can still be read;
    // nothing more is written (no further RCPT, no RSET, no QUIT) and nothing more is waited for.
    if (closing !== undefined)
      this.fail(
        new SmtpProtocolError('ECONNECTION', `the server is closing the connection: ${replyText(closing)}`, {
          reply: closing,
          transient: true,
        }),
      );
  };

  /** A reply nobody asked for: the replies queued can no longer be matched to commands. */
  #stray(what: string): void {
    this.#replies.length = 0;
    const shown = what.length > 80 ? `${what.slice(0, 80)}...` : what;
    this.fail(
      new SmtpProtocolError(
        'EPROTOCOL',
        `the server sent a reply that no command asked for (${shown}; a desynchronised server or response ` +
          `injection): the connection was closed`,
      ),
    );
  }

  readonly #onDrain = (): void => {
    const waiter = this.#drainWaiter;
    this.#drainWaiter = undefined;
    waiter?.resolve();
  };

  readonly #onEnd = (): void => {
    this.fail(new SmtpProtocolError('ECONNECTION', 'the server closed the connection', { transient: true }));
  };

  readonly #onError = (error: Error): void => {
    this.fail(
      new SmtpProtocolError('ECONNECTION', `connection error: ${error.message}`, { cause: error, transient: true }),
    );
  };

  #traceReply(reply: Reply): void {
    const trace = this.#trace;
    if (trace === undefined) return;
    // A stray reply (none owed) belongs to no message.
    const message = this.#owed > 0 ? this.#replyMessages.shift() : undefined;
    const last = reply.lines.length - 1;
    reply.lines.forEach((text, i) => {
      const line = `${reply.code}${i < last ? '-' : ' '}${text}`;
      trace(
        stamp({ direction: 'server', line: i === last && text === '' ? String(reply.code) : line }, this.id, message),
      );
    });
  }

  #attach(): void {
    this.#stream.on('data', this.#onData);
    this.#stream.on('drain', this.#onDrain);
    this.#stream.on('end', this.#onEnd);
    this.#stream.on('close', this.#onEnd);
    this.#stream.on('error', this.#onError);
  }

  #detach(): void {
    this.#stream.off('data', this.#onData);
    this.#stream.off('drain', this.#onDrain);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('error', this.#onError);
  }
}

/**
 * One SMTP session: one async method per verb, each stating the reply it
 * expects (Go net/smtp style). The message transaction itself, with
 * PIPELINING, lives in transaction.ts.
 */
import { Capabilities } from '../wire/capabilities.js';
import * as commands from '../wire/commands.js';
import { Connection, newConnectionId } from '../net/connection.js';
import { SmtpProtocolError, withDetails, withHint, type SmtpErrorCode } from '../errors.js';
import { lmtpRefused, starttlsUnavailable, tlsExpected } from '../hints.js';
import { setting } from '../option-names.js';
import type { StreamType, Target, Timeouts } from '../options.js';
import { replyText, type Reply } from '../wire/reply.js';
import { stamp, type TraceListener, type TraceNote } from '../wire/trace.js';
import { connect, type Dial, type TlsInfo } from '../net/transport.js';
import { connectThroughProxy, parseProxy } from '../net/proxy.js';
import { Turn, Turns } from './pipeline-turns.js';

/** How long to wait for the reply to QUIT: the work is done, don't hang on it. */
const QUIT_REPLY_TIMEOUT_MS = 10_000;

/**
 * The reply a command expects: a full code (250), or a prefix of one, as in
 * Go's textproto (2 = any 2xx, 25 = any 25x).
 */
export type Expect = number;

export function matches(reply: Reply, expect: Expect): boolean {
  const digits = String(expect).length;
  return Math.floor(reply.code / 10 ** (3 - digits)) === expect;
}

export class SmtpSession {
  readonly connection: Connection;
  readonly target: Target;
  #capabilities = Capabilities.none();
  /** Write and read turns shared by the transactions on this session (pipeline-turns.ts). */
  readonly #writes = new Turns();
  readonly #reads = new Turns();
  /** A refused transaction may have left state behind: RSET before the next MAIL. */
  needsReset = false;

  /** A session over a connection already open (SmtpSession.open opens one); nothing is exchanged yet. */
  constructor(connection: Connection, target: Target) {
    this.connection = connection;
    this.target = target;
  }

  /** Opens the transport (no bytes exchanged yet); the caller reads the greeting. */
  static async open(target: Target, trace: TraceListener | undefined, signal?: AbortSignal): Promise<SmtpSession> {
    const id = newConnectionId();
    const connecting: TraceNote =
      target.path === undefined
        ? {
            direction: 'info',
            line: `connecting to ${target.host} port ${target.port}${target.implicitTls ? ' (TLS)' : ''}`,
            kind: 'connect',
            fields: { host: target.host, port: target.port, implicitTls: target.implicitTls },
          }
        : {
            direction: 'info',
            line: `connecting to unix socket ${target.path}`,
            kind: 'connect',
            fields: { path: target.path, implicitTls: false },
          };
    trace?.(stamp(connecting, id));
    const opened = await connect({
      host: target.host,
      port: target.port,
      path: target.path,
      implicitTls: target.implicitTls,
      tls: target.tls,
      timeoutMs: target.timeouts.connect,
      signal,
      dial: dialFor(target),
      localAddress: target.localAddress,
      family: target.family,
    });
    const connection = new Connection(opened, trace, id);
    if (opened.tls !== undefined) connection.trace(tlsNote(opened.tls));
    return new SmtpSession(connection, target);
  }

  get timeouts(): Timeouts {
    return this.target.timeouts;
  }

  /** What the last EHLO advertised; nothing after HELO or after STARTTLS. */
  get capabilities(): Capabilities {
    return this.#capabilities;
  }

  get tls(): TlsInfo | undefined {
    return this.connection.tls;
  }

  /** A transaction's turn (pipeline-turns.ts), once the transactions before it have written. */
  turn(): Promise<Turn> {
    return Turn.take(this.#writes, this.#reads);
  }

  /** The turn at once when no transaction is writing (the usual case on a busy connection), else undefined. */
  tryTurn(): Turn | undefined {
    return Turn.tryTake(this.#writes, this.#reads);
  }

  /** Runs `work` alone on the session: after every transaction already under way, before any later one. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const turn = await this.turn();
    try {
      await turn.reads();
      return await work();
    } finally {
      turn.release();
    }
  }

  /**
   * RFC 5321 §3.1: 220 to go on; 554 (or any refusal) ends the session. A
   * greeting that never comes (silence, then a timeout or a close) is not a
   * passing fault: on a plain port it usually means the port speaks TLS from
   * the first byte, which the hint says.
   */
  async greeting(): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await this.connection.read(this.timeouts.greeting, 'the greeting');
    } catch (error) {
      const failure = error as SmtpProtocolError;
      const code = failure.code;
      const noGreeting = (code === 'ETIMEOUT' || code === 'ECONNECTION') && !this.connection.heard;
      if (!noGreeting && code !== 'EPROTOCOL') throw failure;
      // Silence, or bytes that are no reply, where a greeting belongs: a port that waits for a TLS handshake.
      const hint =
        this.target.implicitTls || this.target.path !== undefined
          ? undefined
          : tlsExpected(this.target.port, noGreeting ? 'silence' : 'binary');
      throw withHint(withDetails(failure, { transient: false }), hint);
    }
    if (reply.code === 220) return reply;
    await this.quit();
    throw new SmtpProtocolError('EGREETING', `Connection not allowed: ${replyText(reply)}`, { reply });
  }

  /**
   * EHLO, and HELO when EHLO is refused (RFC 5321 §3.2); after HELO no extensions. LMTP: LHLO, whose reply is read as
   * EHLO's, and no fallback (RFC 2033 §4.1: LMTP has no HELO).
   */
  async hello(name: string): Promise<Capabilities> {
    this.#capabilities = Capabilities.none();
    if (this.target.lmtp) {
      const lhlo = commands.lhlo(name);
      const reply = await this.#command(lhlo);
      if (!matches(reply, 2))
        throw SmtpProtocolError.fromReply('ECOMMAND', reply, shown(lhlo), { hint: lmtpRefused() });
      this.#capabilities = Capabilities.fromEhlo(reply);
      return this.#capabilities;
    }
    const reply = await this.#command(commands.ehlo(name));
    if (matches(reply, 2)) {
      this.#capabilities = Capabilities.fromEhlo(reply);
      return this.#capabilities;
    }
    await this.#expect(commands.helo(name), 250, 'ECOMMAND');
    return this.#capabilities;
  }

  /**
   * STARTTLS per `streamType` (RFC 3207). Opportunistic (undefined): upgrade
   * when offered, go on in clear text when not offered or refused.
   * `'starttls'`: required, an error when not offered or refused. After the
   * handshake the capabilities are forgotten and EHLO is sent again.
   */
  async secure(streamType: StreamType | undefined, name: string, signal?: AbortSignal): Promise<void> {
    if (this.tls !== undefined || streamType === 'plain') return;
    const required = streamType === 'starttls';
    if (!this.#capabilities.has('STARTTLS')) {
      if (required) {
        throw new SmtpProtocolError(
          'ETLS',
          `the server does not offer STARTTLS on port ${this.target.port}, and ${setting('streamType', 'starttls')} ` +
            `requires it`,
          {
            hint: starttlsUnavailable(this.target.port, false),
          },
        );
      }
      this.connection.note('STARTTLS not offered: continuing without TLS');
      return;
    }
    const command = commands.starttls();
    const reply = await this.#command(command);
    if (reply.code !== 220) {
      if (required)
        throw SmtpProtocolError.fromReply('ETLS', reply, 'STARTTLS', {
          hint: starttlsUnavailable(this.target.port, true),
        });
      this.connection.note('STARTTLS refused: continuing without TLS');
      return;
    }
    this.#capabilities = Capabilities.none();
    await this.connection.upgrade(this.target.host, this.target.tls, this.timeouts.connect, signal);
    if (this.tls !== undefined) this.connection.trace(tlsNote(this.tls));
    await this.hello(name);
  }

  async mail(command: string): Promise<Reply> {
    return this.#expect(command, 250, 'ESENDER');
  }

  /** RCPT: the reply is returned, not thrown: the caller collects refusals. */
  async rcpt(command: string): Promise<Reply> {
    return this.#command(command);
  }

  async data(): Promise<Reply> {
    return this.#expect(commands.data(), 354, 'EDATA');
  }

  async rset(): Promise<Reply> {
    this.needsReset = false;
    return this.#expect(commands.rset(), 250, 'ECOMMAND');
  }

  /** The reply to an RSET sent at the head of a pipelined group. */
  async resetReply(): Promise<void> {
    this.needsReset = false;
    const reply = await this.connection.read(this.timeouts.command, 'the reply to RSET');
    if (!matches(reply, 250)) {
      const error = SmtpProtocolError.fromReply('ECOMMAND', reply, 'RSET');
      this.connection.fail(error); // the rest of the group can no longer be trusted
      throw error;
    }
  }

  async noop(): Promise<Reply> {
    return this.#expect(commands.noop(), 250, 'ECOMMAND');
  }

  /**
   * After AUTH, what smtpmail sends before MAIL, in its order: ONEX when
   * offered (ONEX or XONE) and the connection carries one message; VERB
   * when asked (smtpmail-debug-verb) and offered (VERB or XVRB); XUSR when
   * offered. A refusal ends the session, as in smtpmail.
   */
  async extensions(oneMessage: boolean, verb: boolean): Promise<void> {
    const caps = this.#capabilities;
    if (oneMessage && (caps.has('ONEX') || caps.has('XONE'))) await this.#expect(commands.onex(), 2, 'ECOMMAND');
    if (verb && (caps.has('VERB') || caps.has('XVRB'))) await this.#expect(commands.verb(), 2, 'ECOMMAND');
    if (caps.has('XUSR')) await this.#expect(commands.xusr(), 2, 'ECOMMAND');
  }

  /**
   * QUIT and close. Never throws: it runs after success and after failures,
   * whenever the connection still works; the socket is closed either way.
   */
  async quit(): Promise<void> {
    try {
      if (this.connection.failure === undefined) {
        this.connection.send([commands.quit()]);
        await this.connection.read(Math.min(this.timeouts.command, QUIT_REPLY_TIMEOUT_MS), 'the reply to QUIT');
      }
    } catch {
      // The message's fate is already decided; a server that drops the line at QUIT changes nothing.
    } finally {
      this.connection.close();
    }
  }

  /** Sends one command and reads its reply. */
  async #command(command: string): Promise<Reply> {
    this.connection.send([command]);
    return this.connection.read(this.timeouts.command, `the reply to ${shown(command)}`);
  }

  async #expect(command: string, expect: Expect, code: SmtpErrorCode): Promise<Reply> {
    const reply = await this.#command(command);
    if (!matches(reply, expect)) throw SmtpProtocolError.fromReply(code, reply, shown(command));
    return reply;
  }
}

/** A command as shown in errors and the transcript: without its CRLF. */
export function shown(command: string): string {
  return command.endsWith('\r\n') ? command.slice(0, -2) : command;
}

/** The caller's connect factory, or the proxy, when one is set (the options were checked: at most one). */
function dialFor(target: Target): Dial | undefined {
  if (target.connect !== undefined) return target.connect;
  if (target.proxy === undefined) return undefined;
  const proxy = parseProxy(target.proxy);
  return (to) => connectThroughProxy(proxy, { ...to, timeoutMs: target.timeouts.connect });
}

function tlsNote(tls: TlsInfo): TraceNote {
  return {
    direction: 'info',
    line:
      `TLS established: ${tls.protocol ?? 'unknown protocol'}, ` +
      `${tls.cipher}${tls.authorized ? ', certificate verified' : ', certificate NOT verified'}`,
    kind: 'tls',
    fields: { protocol: tls.protocol, cipher: tls.cipher, authorized: tls.authorized },
  };
}

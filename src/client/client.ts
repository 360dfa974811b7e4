/**
 * SmtpClient: many messages over one connection (`sendMail` is the one-shot
 * form). Sends run one after another; a failed transaction is followed by
 * RSET; after a 421 or a dropped connection the next attempt reconnects.
 * Retries follow retry.ts.
 */
import { Authorizer } from '../auth/authorizer.js';
import * as commands from '../wire/commands.js';
import { CredentialGate } from '../auth/credential-gate.js';
import { has8bit } from '../wire/data-encoder.js';
import { Deadline } from '../deadline.js';
import { explainFailure, refusesBdat } from './diagnose.js';
import { SmtpProtocolError, withAttempts, type RefusedRecipient } from '../errors.js';
import { smtputf8Missing } from '../hints.js';
import {
  DEFAULT_TIMEOUTS,
  resolveTarget,
  type AuthMechanism,
  type AuthOptions,
  type ConnectionOptions,
  type PasswordFunction,
  type PromptedCredentials,
  type Target,
} from '../options.js';
import {
  isBytes,
  isPrepared,
  prepareBytes,
  prepareMessage,
  type Envelope,
  type MessageInput,
  type Prepared,
  type PrepareOptions,
} from '../message/prepare.js';
import type { Reply } from '../wire/reply.js';
import {
  DEFAULT_RETRIES,
  freshProgress,
  isRetryable,
  retryDelay,
  sleep,
  type Progress,
  type RetryOptions,
} from './retry.js';
import type { SmtpSession } from '../smtp/session.js';
import { ehloName, openSession } from '../smtp/session-open.js';
import type { TransactionResult } from '../smtp/plan.js';
import { transact } from '../smtp/transaction.js';
import type { TlsInfo } from '../net/transport.js';
import { validateOptions } from './validate-options.js';
import {
  checkRequests,
  dsnOutcome,
  requestedMailParameters,
  requestedRcptParameters,
  type DeliveryRequests,
  type DsnOutcome,
} from './delivery-requests.js';
import type { DsnOptions } from '../wire/dsn.js';
import { signMessage, type Signing } from './dkim-sign.js';
import { readFileStream } from './file-stream.js';
import type { DkimOptions } from '../message/dkim-options.js';
import { stamp, type TraceNote } from '../wire/trace.js';
import { expandServerUrl } from '../server-url.js';

/** What may change from one message to the next. */
export interface MessageOptions extends Omit<PrepareOptions, 'localDomain'> {
  /** Deliver to the accepted recipients even when others are refused. */
  readonly partial?: boolean | undefined;
  /** Cancels this send (and the connection it uses) when it fires. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Told as the message data goes out: `bytes` of the message written so far, after each block (once for a message
   * in memory that goes in one write: BDAT with one recipient), `total` when the message is in memory. Called again
   * by a retry.
   */
  readonly onProgress?: ((progress: SendProgressReport) => void) | undefined;
  /**
   * Delivery status notifications to ask for (RFC 3461): `RET` and `ENVID` on MAIL, `NOTIFY` and `ORCPT` on every
   * RCPT, sent when the server offers DSN (the result's `dsn` says whether it did).
   */
  readonly dsn?: DsnOptions | undefined;
  /**
   * Send `MAIL FROM:<...> REQUIRETLS` (RFC 8689): every relay must then use TLS or return the message. Nothing is
   * sent (EPOLICY) unless the connection is TLS with a verified certificate and the server offers REQUIRETLS.
   */
  readonly requireTls?: boolean | undefined;
  /**
   * Sign each message with DKIM (RFC 6376; Ed25519, RFC 8463): one signature, or several (RSA and Ed25519 side by
   * side), over the message exactly as it is sent. A streamed message is spooled (to a temporary file past 1 MiB)
   * while its body is hashed, then sent.
   */
  readonly dkim?: DkimOptions | readonly DkimOptions[] | undefined;
}

/** What `onProgress` is told. */
export interface SendProgressReport {
  /** Octets of the message (as given: before line-end normalisation and dot-stuffing) written so far. */
  readonly bytes: number;
  /** The message's octets, when it is in memory. */
  readonly total: number | undefined;
}

export interface ClientOptions extends ConnectionOptions, AuthOptions, RetryOptions, MessageOptions, PrepareOptions {
  /** BDAT (RFC 3030) when the server offers CHUNKING (the default); `false`: always DATA. */
  readonly chunking?: boolean | undefined;
  /** A connection unused for this long (ms) is checked with NOOP before it is used again; default 30 s. */
  readonly noopAfterIdle?: number | undefined;
}

const NOOP_AFTER_IDLE_MS = 30_000;
/** onProgress as a transaction calls it (octets so far), or undefined. */
function progressOf(
  prepared: Prepared,
  onProgress: ((progress: SendProgressReport) => void) | undefined,
): ((bytes: number) => void) | undefined {
  if (onProgress === undefined) return undefined;
  const total = Buffer.isBuffer(prepared.body) ? prepared.head.length + prepared.body.length : undefined;
  return (bytes) => onProgress({ bytes, total });
}

/** Sends started in this process: each send's number in the trace. */
let lastMessageIndex = 0;
const NON_ASCII = /[^\x00-\x7f]/;

export interface SendResult {
  readonly envelope: Envelope;
  /** Recipients the server accepted; LMTP: those the message was delivered to. */
  readonly accepted: readonly string[];
  /**
   * Refused recipients (only with `partial: true`; otherwise a refusal is an error); LMTP: refused at RCPT or after
   * the message.
   */
  readonly rejected: readonly RefusedRecipient[];
  /** The reply to the final dot, e.g. `250 2.0.0 Ok: queued as 4Xy`; LMTP: the first delivered recipient's. */
  readonly reply: Reply;
  /** True when the message went over TLS. */
  readonly secure: boolean;
  readonly tls: TlsInfo | undefined;
  /** The SASL mechanism used (its name in upper case, e.g. `'SCRAM-SHA-256'`), when the session authenticated. */
  readonly authMechanism: Uppercase<AuthMechanism> | undefined;
  /** Attempts made, this one included. */
  readonly attempts: number;
  /** Octets of the message as sent (before line-end normalisation and dot-stuffing). */
  readonly size: number;
  /** The Message-ID the message went out with (given, or added), e.g. `<x@example.org>`; undefined when none. */
  readonly messageId: string | undefined;
  /**
   * With `dsn`: `'sent'` when the server offers DSN and got the parameters, `'not offered'` when it does not (the
   * message went without them; the server's own notifications apply). Undefined without `dsn`.
   */
  readonly dsn: DsnOutcome | undefined;
}

/** Credentials given to a client or pool after it was created. */
export interface NewCredentials {
  readonly user: string;
  /** A password (or OAuth token), or a function returning one (see PasswordContext). */
  readonly password: string | PasswordFunction;
}

/** What a pool shares with its clients (not part of the public API). */
export interface ClientLinks {
  /** One gate for every client of a pool: credentials refused on one connection are not tried on the others. */
  readonly gate?: CredentialGate | undefined;
  /** Called when a connection of this client has been opened, secured and authenticated. */
  readonly onEstablished?: (() => void) | undefined;
  /** The connection carries one message (sendMail): ONEX may be sent. */
  readonly oneMessage?: boolean | undefined;
}

/**
 * Internal: a send that runs under a deadline the caller already started
 * (sendMail starts it before reading the message). Not part of the public API.
 */
export let sendWithin: (
  client: SmtpClient,
  message: Prepared,
  options: ClientOptions,
  deadline: Deadline,
  seen: SendProgress,
) => Promise<SendResult>;

/**
 * Internal: QUIT without waiting for its reply (sendMail, once its message is decided). The connection closes on the
 * 221, on the server's close or after the QUIT timeout, and keeps no process alive meanwhile.
 */
export let quitLater: (client: SmtpClient, signal: AbortSignal | undefined) => void;

/**
 * What a caller of sendWithin learns of a failed send: whether message data started to flow (a stream is then spent).
 */
export interface SendProgress {
  dataStarted: boolean;
}

export class SmtpClient {
  readonly #options: ClientOptions;
  readonly #target: Target;
  readonly #name: string;
  readonly #gate: CredentialGate;
  readonly #authorizer: Authorizer;
  readonly #onEstablished: (() => void) | undefined;
  readonly #oneMessage: boolean;
  #session: SmtpSession | undefined;
  /** The connection being opened, shared by every send that needs it. */
  #opening: Promise<SmtpSession> | undefined;
  /** Sends under way, and who waits for there to be none. */
  #pending = 0;
  readonly #idleWaiters: (() => void)[] = [];
  /** When the session last finished something (ms since the epoch). */
  #lastUsed = 0;
  /** The server offered CHUNKING and refused BDAT as a command: later messages go by DATA. */
  #bdatRefused = false;
  /** The id of the last connection this client opened (a new one is traced as a reconnection). */
  #lastConnection: number | undefined;

  /** @param links Internal: what a pool shares with its clients. */
  constructor(given: ClientOptions = {}, links?: ClientLinks) {
    const options = expandServerUrl(given);
    validateOptions(options);
    this.#options = options;
    this.#target = resolveTarget(options);
    this.#name = ehloName(options);
    this.#gate = links?.gate ?? new CredentialGate();
    this.#onEstablished = links?.onEstablished;
    this.#oneMessage = links?.oneMessage === true;
    this.#authorizer = new Authorizer(options, this.#target, this.#gate);
  }

  /** Connects, greets, secures and authenticates now (otherwise the first send does). */
  static async connect(options: ClientOptions = {}): Promise<SmtpClient> {
    const client = new SmtpClient(options);
    const deadline = new Deadline(totalMs(options), options.signal);
    try {
      await client.#ensureSession(freshProgress(false), deadline);
    } finally {
      deadline.dispose();
    }
    return client;
  }

  /**
   * Sends one message on this client's connection. Concurrent sends share it:
   * with PIPELINING their transactions overlap (RFC 2920), without it they
   * run one after another. `options` may change what belongs to one message
   * (envelope, recipients, partial, signal, ...), not the connection.
   */
  send(message: MessageInput | Prepared, options?: MessageOptions): Promise<SendResult> {
    if (options === undefined) return this.#send(message, this.#options, undefined);
    try {
      validateOptions(options, 'message options');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(message, { ...this.#options, ...options }, undefined);
  }

  /**
   * New credentials for the sessions opened from now on (after the server
   * refused the old ones, every send fails at once until this is called).
   */
  setCredentials(credentials: NewCredentials): void {
    validateOptions({ user: credentials.user, password: credentials.password });
    if (typeof credentials.user !== 'string' || credentials.password === undefined) {
      throw new SmtpProtocolError('ECONFIG', 'setCredentials needs a user and a password');
    }
    this.#gate.set({ user: credentials.user, password: credentials.password, source: 'setCredentials', save: false });
  }

  /** Sends under way on this client. */
  get pending(): number {
    return this.#pending;
  }

  /** Closes at once, without QUIT (sends under way fail). */
  close(): void {
    this.#session?.connection.close();
    this.#session = undefined;
  }

  /** Waits for the sends under way, then QUIT and close. */
  async quit(): Promise<void> {
    while (this.#pending > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await this.#opening?.catch(() => undefined);
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    await session.exclusive(() => session.quit());
  }

  /** The caller's signal still closes the connection at once. */
  #quitLater(signal: AbortSignal | undefined): void {
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined) return;
    session.connection.unref();
    const close = (): void => session.connection.close();
    signal?.addEventListener('abort', close, { once: true });
    void session.exclusive(() => session.quit()).finally(() => signal?.removeEventListener('abort', close));
  }

  async #send(
    message: MessageInput | Prepared,
    options: ClientOptions,
    outer: Deadline | undefined,
    seen?: SendProgress,
  ): Promise<SendResult> {
    this.#pending++;
    const deadline = outer ?? new Deadline(totalMs(options), options.signal);
    let prepared: Prepared | undefined;
    let signing: Signing | undefined;
    try {
      prepared = isPrepared(message)
        ? message
        : isBytes(message)
          ? prepareBytes(message, options)
          : await prepareMessage(readFileStream(message) ?? message, options);
      if (prepared.method !== undefined) checkMethod(prepared, this.#target);
      checkRequests(prepared, options);
      // CR/LF/NUL refused before anything is written
      commands.mailFrom(prepared.envelope.from, { ret: options.dsn?.ret, envid: options.dsn?.envid });
      for (const to of prepared.envelope.to)
        commands.rcptTo(to, { notify: options.dsn?.notify, orcpt: options.dsn?.orcpt });
      if (options.dkim !== undefined) signing = await signMessage(prepared, options.dkim, deadline.signal);
      return await this.#attempts(signing?.signed ?? prepared, options, deadline, seen);
    } finally {
      if (outer === undefined) deadline.dispose();
      // No await (a turn of the microtask queue) and no new array when there is nothing to do: this runs once per
      // message.
      if (signing !== undefined) await signing.dispose();
      if (prepared !== undefined && !prepared.inMemory && prepared !== message) await prepared.dispose();
      this.#lastUsed = Date.now();
      if (--this.#pending === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  /** Attempts until one succeeds, a failure that retrying cannot cure, `retries`, or the deadline. */
  async #attempts(
    prepared: Prepared,
    options: ClientOptions,
    deadline: Deadline,
    seen: SendProgress | undefined,
  ): Promise<SendResult> {
    const attempts = options.retries ?? DEFAULT_RETRIES;
    const index = ++lastMessageIndex;
    for (let attempt = 1; ; attempt++) {
      const progress = freshProgress(this.#session !== undefined);
      let attemptConnection: number | undefined;
      try {
        if (deadline.reason !== undefined) throw deadline.reason;
        if (this.#gate.refusal !== undefined) await this.#gate.pass(this.#askAgain(options));
        const session = this.#ready() ?? (await this.#ensureSession(progress, deadline));
        // Checked before the connection is touched: a deadline that passed while waiting must not fail a shared
        // session.
        if (deadline.reason !== undefined) throw deadline.reason;
        const unwatch = session.connection.watch(deadline);
        let outcome: TransactionResult;
        try {
          attemptConnection = session.connection.id;
          outcome = await this.#transact(session, prepared, options, progress, index);
        } finally {
          unwatch();
        }
        return this.#result(prepared, outcome, attempt, dsnOutcome(session, options));
      } catch (error) {
        if (seen !== undefined && progress.dataStarted) seen.dataStarted = true;
        this.#afterFailure(error);
        const explained = this.#explain(error);
        if (!(explained instanceof SmtpProtocolError)) throw explained;
        if (!this.#bdatRefused && refusesBdat(explained)) {
          this.#bdatRefused = true;
          this.#trace(attemptConnection, {
            direction: 'info',
            line: 'BDAT refused as a command: DATA from now on',
            kind: 'fallback',
            fields: { from: 'BDAT', to: 'DATA' },
          });
        }
        const replayable = prepared.inMemory || !progress.dataStarted;
        if (attempt >= attempts || !isRetryable(error, progress, replayable)) throw withAttempts(explained, attempt);
        const wait = retryDelay(options, attempt + 1);
        if (deadline.wouldPass(wait)) {
          throw withAttempts(explained, attempt, `another attempt would pass timeouts.total (${deadline.totalMs} ms)`);
        }
        this.#trace(attemptConnection, {
          direction: 'info',
          line: `attempt ${attempt} failed (${explained.message}); trying again in ${wait} ms`,
          kind: 'retry',
          fields: { attempt, nextAttempt: attempt + 1, waitMs: wait, code: explained.code },
        });
        try {
          await sleep(wait, deadline);
        } catch (stopped) {
          throw withAttempts(stopped as SmtpProtocolError, attempt);
        }
      }
    }
  }

  /** After refused credentials: promptCredentials, asked again for new ones (when given). */
  #askAgain(options: ClientOptions): (() => Promise<PromptedCredentials | undefined>) | undefined {
    const ask = options.promptCredentials;
    if (ask === undefined) return undefined;
    return () => ask({ host: this.#target.host, port: this.#target.service, user: options.user });
  }

  /** One attempt on `session` (the caller watches the deadline meanwhile). */
  #transact(
    session: SmtpSession,
    prepared: Prepared,
    options: ClientOptions,
    progress: Progress,
    index: number,
  ): Promise<TransactionResult> {
    const authorizer = this.#authorizer;
    return transact(session, prepared.envelope, prepared, {
      message: this.#options.onTrace === undefined ? undefined : { index, id: prepared.messageId },
      params: (size) => mailParameters(session, prepared, size, options),
      rcptParams: requestedRcptParameters(session, options),
      partial: options.partial === true,
      traceData: options.traceData === true,
      onProgress: progressOf(prepared, options.onProgress),
      chunking: this.#bdatRefused ? false : options.chunking,
      progress,
      recover:
        authorizer.mechanism === undefined && session.capabilities.has('AUTH')
          ? (error: unknown) => authorizer.recover(session, error)
          : undefined,
    });
  }

  /** The open session when it can be used at once: working, and not idle long enough to need a NOOP first. */
  #ready(): SmtpSession | undefined {
    const session = this.#session;
    return session === undefined || session.connection.failure !== undefined || this.#idleTooLong()
      ? undefined
      : session;
  }

  /** The session sat unused long enough that the server may have dropped it (never while other sends use it). */
  #idleTooLong(): boolean {
    if (this.#pending > 1 || this.#lastUsed === 0) return false;
    return Date.now() - this.#lastUsed >= (this.#options.noopAfterIdle ?? NOOP_AFTER_IDLE_MS);
  }

  /** The open session, or a new one (one at a time, shared by concurrent sends). */
  async #ensureSession(progress: Progress, deadline: Deadline): Promise<SmtpSession> {
    const current = this.#session;
    if (current !== undefined && current.connection.failure === undefined && (await this.#stillThere(current))) {
      progress.connected = progress.greeted = true;
      return current;
    }
    this.#session = undefined;
    this.#opening ??= this.#open(deadline, progress).finally(() => (this.#opening = undefined));
    const session = await this.#opening;
    progress.connected = progress.greeted = true;
    return session;
  }

  /** After a long idle time, NOOP first: the server may have dropped the connection meanwhile. */
  async #stillThere(session: SmtpSession): Promise<boolean> {
    if (!this.#idleTooLong()) return true;
    this.#lastUsed = Date.now();
    try {
      await session.exclusive(() => session.noop());
      return true;
    } catch {
      session.connection.close();
      return false;
    }
  }

  /**
   * Connects: greeting, EHLO, STARTTLS (smtp/session-open.ts), then AUTH and ONEX/VERB/XUSR. `progress` is the starting
   * send's.
   */
  async #open(deadline: Deadline, progress: Progress): Promise<SmtpSession> {
    // Once per connection: connecting and TLS take an AbortSignal.
    const session = await openSession(this.#target, this.#name, this.#options.onTrace, deadline, deadline.signal, {
      connected: () => (progress.connected = true),
      greeted: () => (progress.greeted = true),
    });
    const previous = this.#lastConnection;
    this.#lastConnection = session.connection.id;
    if (previous !== undefined) {
      session.connection.trace({
        direction: 'info',
        line: `reconnected: connection ${session.connection.id} replaces connection ${previous}`,
        kind: 'reconnect',
        fields: { previousConnection: previous },
      });
    }
    const unwatch = session.connection.watch(deadline);
    try {
      await this.#authorizer.start(session);
      await session.extensions(this.#oneMessage, this.#options.verb === true);
    } catch (error) {
      await session.quit();
      throw error;
    } finally {
      unwatch();
    }
    this.#session = session;
    this.#lastUsed = Date.now();
    this.#onEstablished?.();
    return session;
  }

  /** A client's own event (a retry, a fallback): stamped with the connection of the attempt, if it had one. */
  #trace(connection: number | undefined, note: TraceNote): void {
    this.#options.onTrace?.(stamp(note, connection));
  }

  #explain(error: unknown): unknown {
    const session = this.#session;
    return explainFailure(error, {
      host: this.#target.host,
      service: this.#target.service,
      user: this.#options.user,
      offersAuth: session?.capabilities.has('AUTH') === true,
      authenticated: this.#authorizer.mechanism !== undefined,
      searched: this.#authorizer.searched,
      sizeLimit: session?.capabilities.sizeLimit,
    });
  }

  /** Drops a broken or closing session; a working one goes on (the transaction sent RSET). */
  #afterFailure(error: unknown): void {
    const session = this.#session;
    if (session === undefined) return;
    if (session.connection.failure !== undefined || (error instanceof SmtpProtocolError && error.reply?.code === 421)) {
      session.connection.close();
      this.#session = undefined;
    }
  }

  #result(prepared: Prepared, outcome: TransactionResult, attempts: number, dsn: DsnOutcome | undefined): SendResult {
    const session = this.#session;
    return {
      envelope: prepared.envelope,
      accepted: outcome.accepted,
      rejected: outcome.rejected,
      reply: outcome.reply,
      secure: session?.tls !== undefined,
      tls: session?.tls,
      authMechanism: this.#authorizer.mechanism,
      attempts,
      size: outcome.bytesIn,
      messageId: prepared.messageId,
      dsn,
    };
  }

  static {
    sendWithin = (client, message, options, deadline, seen) => client.#send(message, options, deadline, seen);
    quitLater = (client, signal) => client.#quitLater(signal);
  }
}

/** `timeouts.total` of these options: the overall deadline of one send (0: none). */
export function totalMs(options: ConnectionOptions): number {
  return options.timeouts?.total ?? DEFAULT_TIMEOUTS.total;
}

/**
 * SIZE (RFC 1870), BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531), as the
 * server allows, then what the message asks (delivery-requests.ts: RET, ENVID,
 * REQUIRETLS). `size` is the message size on the wire (line ends CRLF), which the
 * transaction measures for a message in memory; a stream's size is not known.
 */
function mailParameters(
  session: SmtpSession,
  prepared: Prepared,
  size: number | undefined,
  requests: DeliveryRequests,
): commands.MailParameters {
  const caps = session.capabilities;
  const body = prepared.body;
  const inMemory = Buffer.isBuffer(body);
  const limit = caps.sizeLimit;
  if (size !== undefined && limit !== undefined && size > limit) {
    throw new SmtpProtocolError(
      'ESIZE',
      `the message is ${size} octets, more than the ${limit} octets the server accepts (SIZE ${limit})`,
    );
  }
  const { from, to } = prepared.envelope;
  const needsUtf8 = NON_ASCII.test(from) || to.some((address) => NON_ASCII.test(address));
  if (needsUtf8 && !caps.has('SMTPUTF8')) {
    throw new SmtpProtocolError(
      'EPOLICY',
      'an envelope address is not ASCII and the server does not offer SMTPUTF8 (RFC 6531)',
      { hint: smtputf8Missing() },
    );
  }
  // A stream not measured beforehand may hold 8-bit octets: declared when the server offers 8BITMIME (harmless for
  // 7-bit text, RFC 6152); without it, the writer stops at the first 8-bit octet (smtp/message-data.ts).
  const eightBit = has8bit(prepared.head) || (inMemory ? has8bit(body) : (prepared.bodyEightBit ?? true));
  return {
    size: caps.has('SIZE') ? size : undefined,
    body: eightBit && caps.has('8BITMIME') ? '8BITMIME' : undefined,
    smtputf8: needsUtf8 || undefined,
    ...requestedMailParameters(session, requests),
  };
}

/** On a client, X-Message-SMTP-Method may only name the server it is connected to. */
function checkMethod(prepared: Prepared, target: Target): void {
  const method = prepared.method;
  if (method === undefined) return;
  if (
    method.kind === 'smtp' &&
    method.host === target.host &&
    (method.port === undefined || Number(method.port) === target.port)
  )
    return;
  throw new SmtpProtocolError(
    'ECONFIG',
    'X-Message-SMTP-Method names another server or sendmail: use sendMail() for such messages, not an SmtpClient',
  );
}

/**
 * `createPool`: several SmtpClients behind one `send`, sharing one
 * credential gate (auth/credential-gate.ts). The contract is the doc comment
 * on the function, where an editor shows it.
 */
import { SmtpClient, type ClientOptions, type MessageOptions, type NewCredentials, type SendResult } from './client.js';
import { CredentialGate } from '../auth/credential-gate.js';
import { SmtpProtocolError } from '../errors.js';
import type { MessageInput } from '../message/prepare.js';
import { expandServerUrl } from '../server-url.js';
import { RateLimiter, type RateLimit } from './rate-limit.js';

export interface PoolOptions extends ClientOptions {
  /** Connections open at once; default 5. */
  readonly maxConnections?: number | undefined;
  /** Messages per connection before it is replaced; default 100. */
  readonly maxMessagesPerConnection?: number | undefined;
  /** Close a connection unused for this long (ms); default 30 s. */
  readonly idleTimeout?: number | undefined;
  /** At most `messages` sends start in any `perMs` ms, evenly spaced (providers that throttle); default none. */
  readonly rateLimit?: RateLimit | undefined;
}

export interface SmtpPool {
  send(message: MessageInput, options?: MessageOptions): Promise<SendResult>;
  /**
   * New credentials for the connections opened from now on (after a refusal, sends fail at once until this is called).
   */
  setCredentials(credentials: NewCredentials): void;
  /** Waits for the messages under way, then QUIT on every connection. */
  close(): Promise<void>;
}

const DEFAULT_MAX_CONNECTIONS = 5;
const DEFAULT_MAX_MESSAGES = 100;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

interface Member {
  readonly client: SmtpClient;
  /** Messages given to this connection so far. */
  used: number;
  /** Messages given to it and not finished. */
  active: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * A pool of connections to one server: messages spread over up to `maxConnections` connections (an idle one first,
 * else a new one, else the least busy one with room, where they pipeline), a connection retired after
 * `maxMessagesPerConnection` messages (never more, however many sends arrive at once: the others wait for its
 * replacement), closed after `idleTimeout` ms unused, checked with NOOP before reuse after a pause (`noopAfterIdle`).
 * A broken or 421-closed connection is replaced by the retry of the message that found it so.
 *
 * Accounts are protected: the first connection must open (TLS and AUTH included) before the pool opens more, so a
 * wrong password costs one connection; once the server refused the credentials every send fails at once with that
 * `EAUTH`, without connecting, until `setCredentials`.
 *
 * Nothing connects until the first `send`. `close()` takes no new sends, waits for those under way, then sends QUIT.
 *
 * @param options The connection, credentials and message settings of every connection, and the pool's limits.
 *   Optional: the server defaults to the SMTPSERVER environment variable.
 * @throws {SmtpProtocolError} `ECONFIG` at once for an invalid option or no server.
 */
export function createPool(given: PoolOptions = {}): SmtpPool {
  const options = expandServerUrl(given);
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const maxMessages = options.maxMessagesPerConnection ?? DEFAULT_MAX_MESSAGES;
  const idleTimeout = options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_MS;
  const gate = new CredentialGate();
  const template = new SmtpClient(options, { gate }); // validates the options now, not at the first send
  const members: Member[] = [];
  const retiring = new Set<Promise<void>>();
  /** Sends accepted and not finished (close() waits for them). */
  const sending = new Set<Promise<unknown>>();
  /** Sends waiting for a connection with room (woken whenever a send ends, a member goes, or a connection opens). */
  const waiting: (() => void)[] = [];
  /** True once a connection of this pool opened (secured, authenticated): from then on several may open at once. */
  let proven = false;
  let closed = false;

  const wake = (): void => {
    for (const resume of waiting.splice(0)) resume();
  };
  const established = (): void => {
    proven = true;
    wake();
  };

  const retire = (member: Member): void => {
    clearTimeout(member.idleTimer);
    members.splice(members.indexOf(member), 1);
    const quitting = member.client.quit().catch(() => undefined);
    retiring.add(quitting);
    void quitting.then(() => retiring.delete(quitting));
    wake();
  };

  /** A member with room for one more message now, or undefined when the send must wait. */
  const pick = (): Member | undefined => {
    const open = members.filter((m) => m.used < maxMessages);
    const idle = open.find((m) => m.active === 0);
    if (idle !== undefined) return idle;
    if (members.length < maxConnections) {
      // Until one connection has opened, a second would only repeat its failure (and its login attempts).
      if (members.length > 0 && !proven) return undefined;
      const member: Member = {
        client: new SmtpClient(options, { gate, onEstablished: established }),
        used: 0,
        active: 0,
        idleTimer: undefined,
      };
      members.push(member);
      return member;
    }
    // The pool is full and every connection busy: the least busy one with room (overlapping sends pipeline there).
    return open.length === 0 ? undefined : open.reduce((a, b) => (b.active < a.active ? b : a));
  };

  /** A member with room, taken (counted) at once so that sends started together spread out. */
  const acquire = async (): Promise<Member> => {
    for (;;) {
      const member = pick();
      if (member !== undefined) {
        clearTimeout(member.idleTimer);
        member.used++;
        member.active++;
        return member;
      }
      await new Promise<void>((resume) => waiting.push(resume));
    }
  };

  const limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit);
  const sendOn = async (message: MessageInput, perMessage: MessageOptions | undefined): Promise<SendResult> => {
    if (limiter !== undefined) await limiter.slot();
    const member = await acquire();
    try {
      return await member.client.send(message, perMessage);
    } finally {
      member.active--;
      if (member.active === 0 && members.includes(member)) {
        if (member.used >= maxMessages) retire(member);
        else {
          member.idleTimer = setTimeout(() => retire(member), idleTimeout);
          member.idleTimer.unref();
        }
      }
      wake();
    }
  };

  const send = (message: MessageInput, perMessage?: MessageOptions): Promise<SendResult> => {
    if (closed) return Promise.reject(new SmtpProtocolError('ECONFIG', 'the pool is closed'));
    const sent = sendOn(message, perMessage);
    const settled = sent.catch(() => undefined);
    sending.add(settled);
    void settled.then(() => sending.delete(settled));
    return sent;
  };

  /** No new sends; those already accepted (waiting for a connection or under way) finish first. */
  const close = async (): Promise<void> => {
    closed = true;
    limiter?.close(); // sends still waiting for their slot are not under way: they fail now
    while (sending.size > 0) await Promise.allSettled([...sending]);
    for (const member of [...members]) retire(member);
    while (retiring.size > 0) await Promise.allSettled([...retiring]);
  };

  const setCredentials = (credentials: NewCredentials): void => template.setCredentials(credentials);

  return { send, setCredentials, close };
}

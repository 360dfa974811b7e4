/**
 * A pool of SmtpClients: messages spread over up to `maxConnections`
 * connections (the least busy first), a connection retired after
 * `maxMessagesPerConnection` messages, closed after `idleTimeout` ms unused,
 * checked with NOOP before reuse after a pause (SmtpClient's
 * `noopAfterIdle`). A broken or 421-closed connection is replaced by the
 * client's own retry on a new connection.
 */
import { SmtpClient, type ClientOptions, type MessageOptions, type SendResult } from './client.js';
import { SmtpProtocolError } from './errors.js';
import type { MessageInput } from './prepare.js';

export interface PoolOptions extends ClientOptions {
  /** Connections open at once; default 5. */
  readonly maxConnections?: number | undefined;
  /** Messages per connection before it is replaced; default 100. */
  readonly maxMessagesPerConnection?: number | undefined;
  /** Close a connection unused for this long (ms); default 30 s. */
  readonly idleTimeout?: number | undefined;
}

export interface SmtpPool {
  send(message: MessageInput, options?: MessageOptions): Promise<SendResult>;
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
  idleTimer: NodeJS.Timeout | undefined;
}

export function createPool(options: PoolOptions): SmtpPool {
  const maxConnections = positive(options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, 'maxConnections');
  const maxMessages = positive(options.maxMessagesPerConnection ?? DEFAULT_MAX_MESSAGES, 'maxMessagesPerConnection');
  const idleTimeout = positive(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeout');
  new SmtpClient(options); // validates the options now, not at the first send
  const members: Member[] = [];
  const retiring = new Set<Promise<void>>();
  let closed = false;

  const retire = (member: Member): void => {
    clearTimeout(member.idleTimer);
    members.splice(members.indexOf(member), 1);
    const quitting = member.client.quit().catch(() => undefined);
    retiring.add(quitting);
    void quitting.then(() => retiring.delete(quitting));
  };

  const pick = (): Member => {
    const open = members.filter((m) => m.used < maxMessages);
    const idle = open.find((m) => m.client.pending === 0);
    if (idle !== undefined) return idle;
    if (members.length < maxConnections) {
      const member: Member = { client: new SmtpClient(options), used: 0, idleTimer: undefined };
      members.push(member);
      return member;
    }
    // All busy and the pool is full: the least busy one (overlapping sends pipeline there).
    return (open.length > 0 ? open : members).reduce((a, b) => (b.client.pending < a.client.pending ? b : a));
  };

  const send = async (message: MessageInput, perMessage: MessageOptions = {}): Promise<SendResult> => {
    if (closed) throw new SmtpProtocolError('ECONFIG', 'the pool is closed');
    const member = pick();
    clearTimeout(member.idleTimer);
    member.used++;
    try {
      return await member.client.send(message, perMessage);
    } finally {
      if (member.used >= maxMessages && members.includes(member)) retire(member);
      else if (member.client.pending === 0 && members.includes(member)) {
        member.idleTimer = setTimeout(() => retire(member), idleTimeout);
        member.idleTimer.unref();
      }
    }
  };

  const close = async (): Promise<void> => {
    closed = true;
    for (const member of [...members]) retire(member);
    while (retiring.size > 0) await Promise.allSettled([...retiring]);
  };

  return { send, close };
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new SmtpProtocolError('ECONFIG', `${name} must be a positive number`);
  return value;
}

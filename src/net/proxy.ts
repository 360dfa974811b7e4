/**
 * Reaching the server through a proxy: SOCKS5 (RFC 1928, user and password by RFC 1929) and HTTP CONNECT (RFC 9110
 * §9.3.6, Basic credentials). `socks5://` resolves the mail server's name here and sends the proxy an address;
 * `socks5h://` sends the name for the proxy to resolve. The result is a connected socket carrying the server's bytes;
 * TLS (implicit or STARTTLS) happens on top of it as on a direct connection.
 *
 * A proxy that refuses or fails is ECONNECTION naming the proxy and what it said; its password never appears in an
 * error (the URL is quoted with `***` in its place).
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Duplex } from 'node:stream';
import { SmtpProtocolError } from '../errors.js';
import { redacted } from '../server-url.js';

export interface Proxy {
  readonly kind: 'socks5' | 'socks5h' | 'http';
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** The URL with its password hidden, for messages. */
  readonly shown: string;
}

export interface Destination {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

const DEFAULT_PORTS = { socks5: 1080, socks5h: 1080, http: 8080 } as const;
/** Most bytes of an HTTP proxy's reply head read before giving up. */
const MAX_HTTP_HEAD = 16 * 1024;

const SOCKS_REPLIES: Readonly<Record<number, string>> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/** A proxy URL: `socks5://[user:password@]host[:port]`, `socks5h://...` or `http://[user:password@]host[:port]`. */
export function parseProxy(text: string): Proxy {
  const shown = redacted(text);
  const bad = (problem: string): SmtpProtocolError =>
    new SmtpProtocolError('ECONFIG', `invalid proxy URL ${shown}: ${problem}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('it cannot be parsed');
  }
  const kind = url.protocol.slice(0, -1).toLowerCase();
  if (kind !== 'socks5' && kind !== 'socks5h' && kind !== 'http') {
    throw bad(`the scheme must be socks5, socks5h or http, not ${kind}`);
  }
  if (url.hostname === '') throw bad('it names no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw bad('a path or parameters mean nothing here');
  }
  const decode = (part: string): string | undefined => {
    if (part === '') return undefined;
    try {
      return decodeURIComponent(part);
    } catch {
      throw bad('its credentials are not valid percent-encoding');
    }
  };
  return {
    kind,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? DEFAULT_PORTS[kind] : Number(url.port),
    user: decode(url.username),
    password: decode(url.password),
    shown,
  };
}

/** A socket to `to` through `proxy`, ready for SMTP (or TLS) bytes. */
export async function connectThroughProxy(proxy: Proxy, to: Destination): Promise<Duplex> {
  const socket = net.connect({ host: proxy.host, port: proxy.port, autoSelectFamily: true });
  socket.setNoDelay(true);
  const reader = new Reader(socket, proxy, to);
  try {
    await reader.connected();
    if (proxy.kind === 'http') await httpConnect(socket, reader, proxy, to);
    else await socksConnect(socket, reader, proxy, to);
    reader.done();
    return socket;
  } catch (error) {
    reader.done();
    socket.destroy();
    throw error;
  }
}

async function socksConnect(socket: net.Socket, reader: Reader, proxy: Proxy, to: Destination): Promise<void> {
  const credentials = proxy.user !== undefined;
  socket.write(Buffer.from(credentials ? [5, 2, 0, 2] : [5, 1, 0]));
  const [version, method] = await reader.bytes(2);
  if (version !== 5) throw reader.failure('it does not speak SOCKS5');
  if (method === 0xff) throw reader.failure('it accepts none of our methods (credentials needed?)');
  if (method === 2) {
    if (!credentials) throw reader.failure('it asked for credentials and the proxy URL has none');
    const user = Buffer.from(proxy.user ?? '', 'utf8');
    const password = Buffer.from(proxy.password ?? '', 'utf8');
    if (user.length > 255 || password.length > 255) throw reader.failure('user or password longer than 255 octets');
    socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([password.length]), password]));
    const [, status] = await reader.bytes(2);
    if (status !== 0) throw reader.failure('it refused the user and password (RFC 1929)');
  } else if (method !== 0) {
    throw reader.failure(`it chose an authentication method we did not offer (${method})`);
  }
  socket.write(await socksRequest(proxy, to.host, to.port));
  const [replyVersion, reply, , addressType] = await reader.bytes(4);
  if (replyVersion !== 5) throw reader.failure('malformed reply to CONNECT');
  if (reply !== 0) {
    throw reader.failure(`it could not connect to ${to.host} port ${to.port}: ${SOCKS_REPLIES[reply ?? 1] ?? reply}`);
  }
  const length = addressType === 1 ? 4 : addressType === 4 ? 16 : addressType === 3 ? (await reader.bytes(1))[0] : -1;
  if (length === undefined || length < 0) throw reader.failure('malformed address in its reply');
  await reader.bytes(length + 2); // the bound address and port: not needed
}

async function socksRequest(proxy: Proxy, host: string, port: number): Promise<Buffer> {
  const portBytes = Buffer.from([port >> 8, port & 0xff]);
  let address: Buffer;
  if (proxy.kind === 'socks5h' && net.isIP(host) === 0) {
    const name = Buffer.from(host, 'utf8');
    if (name.length > 255) throw new SmtpProtocolError('ECONFIG', `server name too long for SOCKS5: ${host}`);
    address = Buffer.concat([Buffer.from([3, name.length]), name]);
  } else {
    const ip = net.isIP(host) === 0 ? (await lookup(host)).address : host;
    address = net.isIPv4(ip)
      ? Buffer.from([1, ...ip.split('.').map(Number)])
      : Buffer.concat([Buffer.from([4]), ipv6(ip)]);
  }
  return Buffer.concat([Buffer.from([5, 1, 0]), address, portBytes]);
}

function ipv6(ip: string): Buffer {
  const socketAddress = new net.SocketAddress({ address: ip, family: 'ipv6' });
  const [head = '', tail = ''] = socketAddress.address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

async function httpConnect(socket: net.Socket, reader: Reader, proxy: Proxy, to: Destination): Promise<void> {
  const authority = net.isIPv6(to.host) ? `[${to.host}]:${to.port}` : `${to.host}:${to.port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.user !== undefined) {
    const token = Buffer.from(`${proxy.user}:${proxy.password ?? ''}`, 'utf8').toString('base64');
    lines.push(`Proxy-Authorization: Basic ${token}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const head = await reader.until(Buffer.from('\r\n\r\n'), MAX_HTTP_HEAD);
  const status = /^HTTP\/1\.[01] (\d{3})([^\r\n]*)/.exec(head.toString('latin1'));
  if (status === null) throw reader.failure('its reply is not HTTP');
  if (status[1] !== '200') {
    const said = `${status[1]}${status[2]}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    throw reader.failure(`it refused CONNECT to ${authority}: ${said}`);
  }
}

/** Reads the proxy's replies, bounded by the connect timeout and the caller's signal. */
class Reader {
  readonly #socket: net.Socket;
  readonly #proxy: Proxy;
  #buffer = Buffer.alloc(0);
  #failure: SmtpProtocolError | undefined;
  #wake: (() => void) | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #signal: AbortSignal | undefined;

  constructor(socket: net.Socket, proxy: Proxy, to: Destination) {
    this.#socket = socket;
    this.#proxy = proxy;
    this.#signal = to.signal;
    this.#timer = setTimeout(() => this.#fail(`no answer within ${to.timeoutMs} ms`), to.timeoutMs);
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    to.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (to.signal?.aborted === true) this.#onAbort();
  }

  connected(): Promise<void> {
    if (!this.#socket.connecting) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#failure !== undefined) reject(this.#failure);
        else if (!this.#socket.connecting) resolve();
        else this.#wake = check;
      };
      this.#socket.once('connect', () => this.#notify());
      check();
    });
  }

  async bytes(count: number): Promise<Buffer> {
    await this.#waitFor(() => this.#buffer.length >= count);
    const taken = this.#buffer.subarray(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return taken;
  }

  async until(end: Buffer, limit: number): Promise<Buffer> {
    await this.#waitFor(() => {
      if (this.#buffer.indexOf(end) !== -1) return true;
      if (this.#buffer.length > limit) this.#fail(`its reply head is longer than ${limit} octets`);
      return false;
    });
    const at = this.#buffer.indexOf(end) + end.length;
    const head = this.#buffer.subarray(0, at);
    this.#buffer = this.#buffer.subarray(at);
    return head;
  }

  /** A proxy error: ECONNECTION naming the proxy, with a hint. */
  failure(problem: string): SmtpProtocolError {
    return new SmtpProtocolError('ECONNECTION', `the proxy ${this.#proxy.shown} failed: ${problem}`, {
      hint: `check the proxy option (${this.#proxy.shown}): the proxy, not the mail server, answered this`,
    });
  }

  /** Stops listening; bytes the server sent early go back to the socket for whoever reads next. */
  done(): void {
    clearTimeout(this.#timer);
    this.#socket.off('data', this.#onData);
    this.#socket.off('error', this.#onError);
    this.#socket.off('close', this.#onClose);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#buffer.length > 0 && this.#failure === undefined) this.#socket.unshift(this.#buffer);
    this.#buffer = Buffer.alloc(0);
  }

  #waitFor(ready: () => boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#failure !== undefined) reject(this.#failure);
        else if (ready()) resolve();
        else if (this.#failure !== undefined) reject(this.#failure);
        else this.#wake = check;
      };
      check();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(problem: string): void {
    this.#failure ??= this.failure(problem);
    this.#notify();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#notify();
  };

  readonly #onError = (error: Error): void => this.#fail(`connecting to it failed: ${error.message}`);
  readonly #onClose = (): void => this.#fail('it closed the connection');
  readonly #onAbort = (): void => this.#fail('aborted');
}

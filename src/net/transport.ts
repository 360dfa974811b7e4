/**
 * The byte stream under an SMTP session: plain TCP, implicit TLS, plain TCP
 * upgraded by STARTTLS (RFC 3207), or a unix socket (LMTP's usual transport).
 * The only module that imports node:net and node:tls, so that everything
 * above it can be tested over any Duplex.
 *
 * Certificates are verified by default (chain and host name). Turning that off
 * takes an explicit `rejectUnauthorized: false` in the `tls` option.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { abortError, SmtpProtocolError, withHint } from '../errors.js';
import type { TlsOptions } from '../options.js';
import {
  certificateProblem,
  connectFailed,
  plainTextOnTlsPort,
  unixSocketMissing,
  type CertificateSummary,
} from '../hints.js';
import { optionRef } from '../option-names.js';
import { escapeControls } from '../wire/reply.js';

/** What the session learns of a TLS connection. */
export interface TlsInfo {
  readonly protocol: string | null;
  readonly cipher: string;
  /** True when the certificate was verified; false only with `rejectUnauthorized: false`. */
  readonly authorized: boolean;
  /** The server's certificate: names, issuer, expiry. */
  readonly certificate: CertificateSummary | undefined;
}

/**
 * What SCRAM-SHA-256-PLUS needs of a TLS session to bind the login to it (auth/channel-binding.ts): the protocol,
 * the keying material exporter (RFC 5705, RFC 8446 §7.5) and the server's certificate (DER).
 */
export interface TlsBinding {
  readonly protocol: string | null;
  exportKeyingMaterial(length: number, label: string): Buffer;
  certificate(): Buffer | undefined;
}

export interface Opened {
  readonly stream: Duplex;
  /** Present when the stream is encrypted. */
  readonly tls: TlsInfo | undefined;
  /** Present when the stream is encrypted: for channel binding. */
  readonly binding?: TlsBinding | undefined;
  /** The peer's IP address: where the bytes really go, whatever name was given. */
  readonly remoteAddress: string | undefined;
  /** A unix socket: the peer is on this host (a password may go to it without TLS, as to loopback). */
  readonly local?: boolean | undefined;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** A unix socket's path: connects there instead of host and port (never with implicit TLS). */
  readonly path?: string | undefined;
  /** Implicit TLS from the first byte (`streamType` 'ssl' / 'tls'). */
  readonly implicitTls: boolean;
  readonly tls: TlsOptions | undefined;
  /** Covers the TCP connection and, with implicit TLS, the handshake. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Instead of a TCP connection of our own: a stream to the server from elsewhere (a proxy, the caller's factory). */
  readonly dial?: Dial | undefined;
  /** The local address to connect from, and the address family (4 or 6; default: both, happy eyeballs). */
  readonly localAddress?: string | undefined;
  readonly family?: 4 | 6 | undefined;
}

/** Where a stream to the server comes from when it is not our own TCP connection. */
export type Dial = (to: {
  readonly host: string;
  readonly port: number;
  readonly signal: AbortSignal;
}) => Promise<Duplex>;

/**
 * Opens a TCP connection (IPv6 and IPv4, happy eyeballs, unless a family is given), with TLS when asked, a unix
 * socket (`path`), or a stream from `dial`.
 */
export function connect(options: ConnectOptions): Promise<Opened> {
  const { host, port } = options;
  if (options.path !== undefined) return connectSocket(options.path, options.timeoutMs, options.signal);
  const what = `connecting to ${host} port ${port}`;
  if (options.dial !== undefined) return dialed(options.dial, options, what);
  const tcp = {
    host,
    port,
    ...(options.family === undefined ? { autoSelectFamily: true } : { family: options.family }),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  };
  if (options.implicitTls) {
    // One timer covers the TCP connection and the handshake.
    return secure(tcp, host, options.tls, options.timeoutMs, what, options.signal, port);
  }
  const socket = net.connect(tcp);
  socket.setNoDelay(true);
  const explain = (error: SmtpProtocolError): SmtpProtocolError => withHint(error, connectHint(error, host, port));
  return waitFor(socket, 'connect', options.timeoutMs, what, options.signal, explain).then(() => ({
    stream: socket,
    tls: undefined,
    remoteAddress: socket.remoteAddress,
  }));
}

/**
 * A stream from `dial` (within the connect timeout), with implicit TLS on top when asked. Its peer address is not
 * known (a proxy's is not the server's), so it never counts as loopback for the rule on passwords in clear text.
 */
async function dialed(dial: Dial, options: ConnectOptions, what: string): Promise<Opened> {
  const controller = new AbortController();
  const stop = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', stop, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new SmtpProtocolError('ETIMEOUT', `${what}: no answer within ${options.timeoutMs} ms`, { transient: true }),
      );
    }, options.timeoutMs);
  });
  let stream: Duplex;
  try {
    stream = await Promise.race([dial({ host: options.host, port: options.port, signal: controller.signal }), timeout]);
  } catch (error) {
    if (error instanceof SmtpProtocolError) throw error;
    if (options.signal?.aborted === true) throw abortError(options.signal);
    throw new SmtpProtocolError('ECONNECTION', `${what} failed: ${(error as Error).message}`, {
      cause: error,
      transient: true,
    });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', stop);
  }
  (stream as Partial<net.Socket>).setNoDelay?.(true);
  if (!options.implicitTls) return { stream, tls: undefined, remoteAddress: undefined };
  const opened = await secure(
    { socket: stream, host: options.host },
    options.host,
    options.tls,
    options.timeoutMs,
    what,
    options.signal,
    options.port,
  );
  return { ...opened, remoteAddress: undefined };
}

/** Opens a unix socket (AF_UNIX): no TLS, no name to resolve. */
function connectSocket(path: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Opened> {
  const socket = net.connect({ path });
  const explain = (error: SmtpProtocolError): SmtpProtocolError => withHint(error, socketHint(error, path));
  return waitFor(socket, 'connect', timeoutMs, `connecting to unix socket ${path}`, signal, explain).then(() => ({
    stream: socket,
    tls: undefined,
    remoteAddress: undefined,
    local: true,
  }));
}

/** Upgrades a connected plain stream after `220` to STARTTLS. */
export function upgrade(
  stream: Duplex,
  host: string,
  options: TlsOptions | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Opened> {
  return secure({ socket: stream, host }, host, options, timeoutMs, `TLS handshake with ${host}`, signal);
}

/** With `socket`, `host` only names the peer for certificate verification. */
type Underlying =
  | { socket: Duplex; host: string }
  | { host: string; port: number; autoSelectFamily?: boolean; family?: 4 | 6; localAddress?: string };

function secure(
  under: Underlying,
  host: string,
  options: TlsOptions | undefined,
  timeoutMs: number,
  what: string,
  signal: AbortSignal | undefined,
  implicitPort?: number,
): Promise<Opened> {
  const servername = options?.servername ?? host;
  // Verified below, after the handshake and before a byte is read or written, so that a refused
  // certificate can still be described (Node discards it when it rejects during the handshake).
  const verify = options?.rejectUnauthorized ?? true;
  const secured = tls.connect({
    ...under,
    // SNI only for names: RFC 6066 §3 forbids IP literals as server names.
    ...(net.isIP(servername) === 0 ? { servername } : {}),
    ...(options?.ca !== undefined ? { ca: options.ca as string | Buffer | (string | Buffer)[] } : {}),
    ...(options?.cert !== undefined ? { cert: options.cert } : {}),
    ...(options?.key !== undefined ? { key: options.key } : {}),
    ...(options?.minVersion !== undefined ? { minVersion: options.minVersion } : {}),
    rejectUnauthorized: false,
  });
  secured.setNoDelay(true);
  const explain = (error: SmtpProtocolError): SmtpProtocolError =>
    implicitPort === undefined ? error : withHint(error, implicitTlsHint(error, host, implicitPort));
  return waitFor(secured, 'secureConnect', timeoutMs, what, signal, explain).then(() => {
    if (verify && !secured.authorized) {
      const error = refusedCertificate(secured, servername, what);
      secured.destroy();
      throw error;
    }
    return {
      stream: secured,
      remoteAddress: secured.remoteAddress,
      binding: {
        protocol: secured.getProtocol(),
        // RFC 9266 §2: an empty context (the same as none in TLS 1.3, the only version tls-exporter is used with).
        exportKeyingMaterial: (length, label) => secured.exportKeyingMaterial(length, label, Buffer.alloc(0)),
        certificate: () => {
          const raw: unknown = secured.getPeerCertificate().raw;
          return Buffer.isBuffer(raw) ? raw : undefined;
        },
      },
      tls: {
        protocol: secured.getProtocol(),
        cipher: secured.getCipher().name,
        authorized: secured.authorized,
        certificate: certificateOf(secured),
      },
    };
  });
}

/** The error for a certificate that failed verification (chain or name), with what it was for and who issued it. */
function refusedCertificate(socket: tls.TLSSocket, servername: string, what: string): SmtpProtocolError {
  const code = String(socket.authorizationError ?? 'CERT_UNTRUSTED');
  const identity =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? tls.checkServerIdentity(servername, socket.getPeerCertificate())
      : undefined;
  const reason = identity?.message ?? `${VERIFY_ERRORS[code] ?? 'the certificate was not accepted'} (${code})`;
  return new SmtpProtocolError('ETLS', `${what} failed: ${reason}`, {
    cause: identity ?? Object.assign(new Error(reason), { code }),
    hint: certificateProblem(code, servername, certificateOf(socket)),
  });
}

const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
};

/** Resolves on `event`; on error, early close, timeout or abort it destroys the socket and rejects. */
function waitFor(
  socket: net.Socket,
  event: 'connect' | 'secureConnect',
  timeoutMs: number,
  what: string,
  signal: AbortSignal | undefined,
  explain: (error: SmtpProtocolError) => SmtpProtocolError,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (error: SmtpProtocolError): void => {
      cleanup();
      const explained = explain(error);
      socket.destroy();
      reject(explained);
    };
    const onError = (error: Error): void => fail(classify(error, what));
    const onClose = (): void =>
      fail(
        new SmtpProtocolError(
          event === 'connect' ? 'ECONNECTION' : 'ETLS',
          `${what}: connection closed by the server`,
          { transient: true },
        ),
      );
    const onDone = (): void => {
      cleanup();
      resolve();
    };
    const timer = setTimeout(
      () => fail(new SmtpProtocolError('ETIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { transient: true })),
      timeoutMs,
    );
    const onAbort = (): void => fail(abortError(signal as AbortSignal));
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off(event, onDone);
    };
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.once(event, onDone);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|HOSTNAME_MISMATCH)/;

function classify(error: Error, what: string): SmtpProtocolError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (TLS_ERROR.test(code) || error.message.includes('SSL routines')) {
    return new SmtpProtocolError('ETLS', `${what} failed: ${error.message.trim()}`, { cause: error });
  }
  return new SmtpProtocolError('ECONNECTION', `${what} failed: ${error.message}`, { cause: error, transient: true });
}

const CANNOT_CONNECT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET']);

/** A TCP connection that failed or timed out: which port to try, or to check the name. */
function connectHint(error: SmtpProtocolError, host: string, port: number): string | undefined {
  const cause = (error.cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (cause === 'ENOTFOUND' || cause === 'EAI_AGAIN') return `the name ${host} does not resolve: check the server name`;
  if (error.code === 'ETIMEOUT' || CANNOT_CONNECT.has(cause))
    return connectFailed(host, port, error.code === 'ETIMEOUT' || cause === 'ETIMEDOUT');
  return undefined;
}

/** A unix socket that could not be opened: missing, nobody listening, or not ours to open. */
function socketHint(error: SmtpProtocolError, path: string): string | undefined {
  const cause = (error.cause as NodeJS.ErrnoException | undefined)?.code ?? '';
  return SOCKET_PROBLEMS[cause]?.(path);
}

const SOCKET_PROBLEMS: Readonly<Record<string, (path: string) => string>> = {
  ENOENT: unixSocketMissing,
  ECONNREFUSED: (path) =>
    `nothing listens on ${path} (a socket left by a server that stopped, or a file that is no socket): start the ` +
    `server, or check ${optionRef('path')}`,
  EACCES: (path) =>
    `this user may not open ${path}: the socket's mode or group must allow it (Dovecot: unix_listener lmtp's ` +
    `mode, user and group)`,
};

/**
 * Implicit TLS: a handshake that read plain text means a plain SMTP port; a failed connection, the usual port advice.
 */
function implicitTlsHint(error: SmtpProtocolError, host: string, port: number): string | undefined {
  const cause = error.cause as Error | undefined;
  if (
    error.code === 'ETLS' &&
    /wrong version number|packet length too long|unknown protocol|http request/i.test(cause?.message ?? '')
  ) {
    return plainTextOnTlsPort(port);
  }
  return connectHint(error, host, port);
}

function certificateOf(socket: tls.TLSSocket): CertificateSummary | undefined {
  const cert = socket.getPeerCertificate();
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return undefined;
  // Names from the server's certificate are shown in hints and --check output: no raw control characters.
  const first = (value: string | string[] | undefined): string | undefined => {
    const text = Array.isArray(value) ? value[0] : value;
    return text === undefined ? undefined : escapeControls(text);
  };
  return {
    subject: first(cert.subject?.CN),
    altNames: (cert.subjectaltname ?? '')
      .split(', ')
      .filter((name) => name !== '')
      .map((name) => escapeControls(name.replace(/^(DNS|IP Address):/, ''))),
    issuer: first(cert.issuer?.CN) ?? first(cert.issuer?.O),
    validTo: cert.valid_to,
  };
}

/**
 * True for loopback addresses (127.0.0.0/8, ::1, and IPv4-mapped 127.x):
 * the only peers to which a password may go without TLS by default.
 */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return (net.isIPv4(v4) && v4.startsWith('127.')) || address === '::1';
}

/** True for an IPv4 or IPv6 address (for checking `localAddress`). */
export function isIpAddress(text: string): boolean {
  return net.isIP(text) !== 0;
}

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

export interface Opened {
  readonly stream: Duplex;
  /** Present when the stream is encrypted. */
  readonly tls: TlsInfo | undefined;
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
}

/** Opens a TCP connection (IPv6 and IPv4, happy eyeballs), with TLS when asked, or a unix socket (`path`). */
export function connect(options: ConnectOptions): Promise<Opened> {
  const { host, port } = options;
  if (options.path !== undefined) return connectSocket(options.path, options.timeoutMs, options.signal);
  const what = `connecting to ${host} port ${port}`;
  if (options.implicitTls) {
    // One timer covers the TCP connection and the handshake.
    return secure(
      { host, port, autoSelectFamily: true },
      host,
      options.tls,
      options.timeoutMs,
      what,
      options.signal,
      port,
    );
  }
  const socket = net.connect({ host, port, autoSelectFamily: true });
  socket.setNoDelay(true);
  const explain = (error: SmtpProtocolError): SmtpProtocolError => withHint(error, connectHint(error, host, port));
  return waitFor(socket, 'connect', options.timeoutMs, what, options.signal, explain).then(() => ({
    stream: socket,
    tls: undefined,
    remoteAddress: socket.remoteAddress,
  }));
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

/** Upgrades a connected plain socket after `220` to STARTTLS. */
export function upgrade(
  stream: Duplex,
  host: string,
  options: TlsOptions | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Opened> {
  if (!(stream instanceof net.Socket)) {
    return Promise.reject(new SmtpProtocolError('ETLS', 'STARTTLS needs a TCP socket to upgrade'));
  }
  return secure({ socket: stream, host }, host, options, timeoutMs, `TLS handshake with ${host}`, signal);
}

/** With `socket`, `host` only names the peer for certificate verification. */
type Underlying = { socket: net.Socket; host: string } | { host: string; port: number; autoSelectFamily: true };

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

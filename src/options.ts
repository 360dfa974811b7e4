/**
 * Options (smtpmail variables, SPEC §2) and their defaults. Options objects are
 * never mutated: resolving them builds a new, complete settings value.
 */
import { SmtpProtocolError } from './errors.js';
import { describeValue, optionRef } from './option-names.js';
import type { TraceListener } from './wire/trace.js';
import type { Duplex } from 'node:stream';

/**
 * smtpmail-stream-type. `undefined`: opportunistic STARTTLS (upgrade when
 * offered, else clear text, reported as `secure: false`); `'starttls'`:
 * required, never falls back to clear text; `'plain'`: never; `'ssl'` /
 * `'tls'`: implicit TLS from the first byte (RFC 8314).
 */
export const STREAM_TYPES = ['plain', 'starttls', 'ssl', 'tls'] as const;
export type StreamType = (typeof STREAM_TYPES)[number];

/**
 * The SASL mechanisms this library implements (auth/sasl.ts), as servers advertise them; kept in this leaf so that the
 * option types below can name them.
 */
export const AUTH_MECHANISMS = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'CRAM-MD5',
  'PLAIN',
  'LOGIN',
  'XOAUTH2',
  'OAUTHBEARER',
] as const;

/**
 * A SASL mechanism for `authMechanisms` and `authMechanism`: `'SCRAM-SHA-256-PLUS'`, `'SCRAM-SHA-256'`,
 * `'SCRAM-SHA-1'`, `'CRAM-MD5'`, `'PLAIN'`, `'LOGIN'`, `'XOAUTH2'` or `'OAUTHBEARER'`, in upper or lower case (names
 * are compared ASCII case-insensitively, and Emacs's smtpmail-auth-supported writes them in lower case). Any other name
 * is ECONFIG at run time.
 */
export type AuthMechanism = (typeof AUTH_MECHANISMS)[number] | Lowercase<(typeof AUTH_MECHANISMS)[number]>;

/** The TLS settings a caller may give; everything else stays at Node's secure defaults. */
export interface TlsOptions {
  /** Trusted CA certificates (PEM) instead of Node's bundled roots. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key (PEM), for servers that ask for one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The name to verify the certificate against and to send as SNI; defaults to the host. */
  readonly servername?: string;
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Explicit opt-out of certificate verification. Never the default. */
  readonly rejectUnauthorized?: boolean;
}

/** Named timeouts in milliseconds (RFC 5321 §4.5.3.2 values by default). */
export interface Timeouts {
  /** TCP connection, and the handshake with implicit TLS. */
  readonly connect: number;
  /** The server's 220 greeting (RFC: 5 minutes). */
  readonly greeting: number;
  /** Each command's reply (RFC: MAIL 5 min, RCPT 5 min, DATA 2 min). */
  readonly command: number;
  /** Each block of message data written (RFC: 3 minutes). */
  readonly dataBlock: number;
  /** The reply to the final dot (RFC: 10 minutes). */
  readonly dataEnd: number;
  /**
   * One deadline for a whole send, its retries and their delays included
   * (default 2 minutes); 0: none. No combination of retries and the timeouts
   * above runs past it.
   */
  readonly total: number;
}

const MINUTE_MS = 60_000;

export const DEFAULT_TIMEOUTS: Timeouts = {
  connect: 30_000,
  greeting: 5 * MINUTE_MS,
  command: 5 * MINUTE_MS,
  dataBlock: 3 * MINUTE_MS,
  dataEnd: 10 * MINUTE_MS,
  total: 2 * MINUTE_MS,
};

/** How the library reaches the server. */
export interface ConnectionOptions {
  /** smtpmail-smtp-server; default: environment variable SMTPSERVER. */
  readonly server?: string | undefined;
  /**
   * smtpmail-smtp-service: a number or `smtp`, `submission`, `smtps`, `submissions`;
   * default 25 (465 with implicit TLS). Port 465 (`smtps`) without a `streamType` means implicit TLS.
   */
  readonly port?: number | string | undefined;
  readonly streamType?: StreamType | undefined;
  /**
   * LMTP (RFC 2033, nodemailer's name) instead of SMTP: LHLO instead of EHLO, and after the message one reply per
   * recipient, so that each recipient is delivered or refused on its own. LMTP has no port of its own: `port` (24 is
   * usual) or `path` is required.
   */
  readonly lmtp?: boolean | undefined;
  /**
   * A unix socket to connect to instead of `server` and `port` (Dovecot's `/run/dovecot/lmtp`). Local: no TLS (a
   * `streamType` other than `'plain'` is ECONFIG), and a password may go over it as over loopback.
   */
  readonly path?: string | undefined;
  readonly tls?: TlsOptions | undefined;
  readonly timeouts?: Partial<Timeouts> | undefined;
  /**
   * Through a proxy: `socks5://[user:password@]host[:port]` (the server's name resolved here), `socks5h://...`
   * (resolved by the proxy) or `http://[user:password@]host[:port]` (HTTP CONNECT).
   */
  readonly proxy?: string | undefined;
  /** Instead of a TCP connection: a connected stream to the server (TLS and STARTTLS still happen on top of it). */
  readonly connect?: ((to: ConnectTo) => Promise<Duplex>) | undefined;
  /** The local address to connect from. */
  readonly localAddress?: string | undefined;
  /** The address family to connect with; default: both (IPv6 and IPv4, happy eyeballs). */
  readonly family?: 4 | 6 | undefined;
  /** The EHLO/HELO argument; default: this host's name (IP literals bracketed). */
  readonly clientName?: string | undefined;
  /** smtpmail-local-domain: the EHLO name becomes `hostname.localDomain`. */
  readonly localDomain?: string | undefined;
  /** smtpmail-debug-verb: send VERB when the server offers it. */
  readonly verb?: boolean | undefined;
  /** smtpmail-debug-info: receives every transcript line. */
  readonly onTrace?: TraceListener | undefined;
  /** Also show the message content in the transcript. */
  readonly traceData?: boolean | undefined;
}

/** What `promptCredentials` answers; `save: true` stores them in the first authinfo file after AUTH succeeds. */
export interface PromptedCredentials {
  readonly user: string;
  readonly password: string;
  readonly save?: boolean | undefined;
}

export interface CredentialRequest {
  readonly host: string;
  readonly port: string;
  readonly user: string | undefined;
}

/**
 * What a `password` function is told each time it is called: once per connection (`attempt` 1), and once more on
 * that connection (`attempt` 2, with `previousError`) when the server refused an XOAUTH2 or OAUTHBEARER token, so
 * that an OAuth token provider can refresh the token. A function that takes no argument ignores it.
 */
export interface PasswordContext {
  readonly user: string;
  /** The server and port connected to. */
  readonly server: string;
  readonly port: number;
  /** 1 for the first call on a connection, 2 for the call after the server refused the token. */
  readonly attempt: number;
  /** The EAUTH error of the refused exchange (with the server's decoded JSON error); undefined on the first call. */
  readonly previousError: SmtpProtocolError | undefined;
}

/** A password (or OAuth 2 access token) computed when needed: a keychain, a token provider. */
export type PasswordFunction = (context: PasswordContext) => string | Promise<string>;

/** Authentication (SPEC §4, §5). */
export interface AuthOptions {
  /** smtpmail-smtp-user: with `password`, the credentials; alone, restricts the authinfo lookup. */
  readonly user?: string | undefined;
  /**
   * A password (or XOAUTH2 / OAUTHBEARER token), or a function returning one (keychains, OAuth token providers),
   * called per connection and once more, with the error, when the server refuses a token (see PasswordContext).
   */
  readonly password?: string | PasswordFunction | undefined;
  /** auth-sources: files tried in order; default ~/.authinfo, ~/.authinfo.gpg, ~/.netrc. */
  readonly authSources?: readonly string[] | undefined;
  /**
   * smtpmail-auth-supported: preference order; default SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5,
   * PLAIN, LOGIN (XOAUTH2 and OAUTHBEARER only when listed or forced).
   */
  readonly authMechanisms?: readonly AuthMechanism[] | undefined;
  /** Forces one mechanism (as the authinfo key `smtp-auth` does). */
  readonly authMechanism?: AuthMechanism | undefined;
  /** Allow PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER without TLS to a host that is not loopback. */
  readonly allowInsecureAuth?: boolean | undefined;
  /** smtpmail-servers-requiring-authorization: authenticate up front; credentials required. */
  readonly serversRequiringAuthorization?: RegExp | undefined;
  /** Asked when no stored credentials fit (or an entry has no password). */
  readonly promptCredentials?: ((request: CredentialRequest) => Promise<PromptedCredentials | undefined>) | undefined;
  /** Opt-in: `port smtp` matches 25, `submission` 587, `smtps`/`submissions` 465. */
  readonly serviceAliases?: boolean | undefined;
  /** Opt-in: host names in authinfo compared case-insensitively. */
  readonly caseInsensitiveHosts?: boolean | undefined;
}

/** Service names and their ports (IANA; `submissions` is RFC 8314's name for 465). */
export const SERVICES: Readonly<Record<string, number>> = { smtp: 25, submission: 587, smtps: 465, submissions: 465 };

/** The implicit-TLS submission port (RFC 8314 §3.3). */
export const IMPLICIT_TLS_PORT = 465;

/** The connection settings with every default filled in. */
/** What a `connect` factory is given. */
export interface ConnectTo {
  readonly host: string;
  readonly port: number;
  /** Aborted when the connect timeout passes or the send is cancelled. */
  readonly signal: AbortSignal;
}

export interface Target {
  readonly proxy: string | undefined;
  readonly connect: ((to: ConnectTo) => Promise<Duplex>) | undefined;
  readonly localAddress: string | undefined;
  readonly family: 4 | 6 | undefined;
  /** The server; for a unix socket, its path (as authinfo's `machine` names it). */
  readonly host: string;
  /** The TCP port; 0 for a unix socket. */
  readonly port: number;
  /**
   * The service as configured, for authinfo matching: `'587'`, or `'submission'` when so given; `''` for a unix
   * socket (only entries without a port match).
   */
  readonly service: string;
  /** A unix socket's path, instead of host and port. */
  readonly path: string | undefined;
  /** LMTP (RFC 2033) instead of SMTP. */
  readonly lmtp: boolean;
  readonly implicitTls: boolean;
  readonly streamType: StreamType | undefined;
  readonly tls: TlsOptions | undefined;
  readonly timeouts: Timeouts;
}

/**
 * The settings with their defaults. Values are checked by client/validate-options.ts
 * at each entry point; what reaches here is known to be well formed, except
 * the server, which may come from the environment.
 */
export function resolveTarget(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): Target {
  if (options.path !== undefined) return socketTarget(options, options.path);
  const host = options.server ?? env['SMTPSERVER'];
  if (host === undefined || host === '') {
    throw new SmtpProtocolError(
      'ECONFIG',
      `no SMTP server configured: set ${optionRef('server')} or the SMTPSERVER environment variable`,
    );
  }
  if (options.proxy !== undefined && options.connect !== undefined) {
    throw new SmtpProtocolError('ECONFIG', `give ${optionRef('proxy')} or ${optionRef('connect')}, not both`);
  }
  const port = portNumber(options.port);
  if (options.port !== undefined && port === undefined)
    throw new SmtpProtocolError('ECONFIG', portProblem(options.port));
  const lmtp = options.lmtp === true;
  if (lmtp && port === undefined) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `LMTP has no default port: set ${optionRef('port')} (24 is usual; Dovecot's inet_listener lmtp says which) or ` +
        `${optionRef('path')} for a unix socket`,
    );
  }
  if (lmtp && port === 25) {
    throw new SmtpProtocolError('ECONFIG', `LMTP must not be used on port 25 (RFC 2033 §5): port 25 speaks SMTP`);
  }
  // Port 465 speaks TLS from the first byte: with no streamType, plain text there would only wait for a greeting that
  // never comes.
  const implicitTls =
    options.streamType === 'ssl' ||
    options.streamType === 'tls' ||
    (options.streamType === undefined && port === IMPLICIT_TLS_PORT);
  const resolvedPort = port ?? (implicitTls ? IMPLICIT_TLS_PORT : 25);
  return {
    host: stripBrackets(host),
    port: resolvedPort,
    service: String(options.port ?? resolvedPort),
    path: undefined,
    lmtp,
    implicitTls,
    streamType: options.streamType,
    tls: options.tls,
    timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
    proxy: options.proxy,
    connect: options.connect,
    localAddress: options.localAddress,
    family: options.family,
  };
}

/**
 * A unix socket instead of a server and port: local, so no TLS (the socket's permissions decide who can connect). The
 * SMTPSERVER environment variable is not consulted; `server` or `port` given as well is an error, not a choice.
 */
function socketTarget(options: ConnectionOptions, path: string): Target {
  const other =
    options.server !== undefined
      ? 'server'
      : options.port !== undefined
        ? 'port'
        : (['proxy', 'connect', 'localAddress', 'family'] as const).find((name) => options[name] !== undefined);
  if (other !== undefined) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `${optionRef('path')} (a unix socket) replaces server and port (and a proxy or factory): ` +
        `give ${optionRef('path')} or ${optionRef(other)}, not both`,
    );
  }
  if (options.streamType !== undefined && options.streamType !== 'plain') {
    throw new SmtpProtocolError(
      'ECONFIG',
      `streamType '${options.streamType}' with ${optionRef('path')}: a unix socket is local and takes no TLS ` +
        `(leave streamType unset, or 'plain')`,
    );
  }
  return {
    host: path,
    port: 0,
    service: '',
    path,
    lmtp: options.lmtp === true,
    implicitTls: false,
    streamType: 'plain',
    tls: options.tls,
    timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
    proxy: undefined,
    connect: undefined,
    localAddress: undefined,
    family: undefined,
  };
}

/**
 * A port number 1..65535 or a service name (case-insensitive) as its number; undefined when it is neither (or not
 * given).
 */
export function portNumber(port: unknown): number | undefined {
  const value =
    typeof port === 'number'
      ? port
      : typeof port === 'string'
        ? (SERVICES[port.toLowerCase()] ?? (/^\d{1,5}$/.test(port) ? Number(port) : NaN))
        : NaN;
  return Number.isInteger(value) && value >= 1 && value <= 65535 ? value : undefined;
}

export function portProblem(port: unknown): string {
  return (
    `invalid ${optionRef('port')} ${describeValue(port)}: use 1-65535 or one of ` +
    `${Object.keys(SERVICES).join(', ')}`
  );
}

/** `[::1]` → `::1`: an IPv6 literal may be written as in a URL. */
function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

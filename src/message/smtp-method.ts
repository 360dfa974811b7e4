/**
 * `X-Message-SMTP-Method` (smtpmail, Emacs 27+): a per-message choice of how
 * to send. `smtp HOST [PORT [USER]]` overrides the server, port and user;
 * `sendmail` hands the message to a sendmail program. The header itself is
 * never transmitted.
 */
import { SmtpProtocolError } from '../errors.js';
import { portNumber, type StreamType } from '../options.js';

export const METHOD_HEADER = 'X-Message-SMTP-Method';

export type Method =
  | {
      readonly kind: 'smtp';
      readonly host: string;
      readonly port: string | undefined;
      readonly user: string | undefined;
    }
  | { readonly kind: 'sendmail' };

/** Parses the header's value; anything but the two forms is an error (ECONFIG). */
export function parseMethod(value: string): Method {
  const words = value.trim().split(/\s+/);
  const [kind, host, port, user, ...extra] = words;
  if (kind === 'sendmail' && words.length === 1) return { kind: 'sendmail' };
  if (
    kind === 'smtp' &&
    host !== undefined &&
    extra.length === 0 &&
    (port === undefined || (/^\d+$/.test(port) && portNumber(port) !== undefined))
  ) {
    return { kind: 'smtp', host, port, user };
  }
  throw new SmtpProtocolError(
    'ECONFIG',
    `${METHOD_HEADER}: expected "smtp HOST [PORT [USER]]" or "sendmail", got ` +
      `${JSON.stringify(value.trim().slice(0, 80))}`,
  );
}

/** The options that say where a message goes, as X-Message-SMTP-Method can change them. */
export interface Routing {
  readonly server?: string | undefined;
  readonly port?: number | string | undefined;
  readonly user?: string | undefined;
  readonly password?: unknown;
  readonly streamType?: StreamType | undefined;
  readonly lmtp?: boolean | undefined;
  readonly path?: string | undefined;
}

/**
 * `X-Message-SMTP-Method: smtp HOST [PORT [USER]]`: this message goes to that
 * server (port 465 means implicit TLS), by SMTP even when the options say
 * LMTP or a unix socket. A `password` option given for the configured
 * server is not sent to another one: credentials for it come from authinfo
 * or promptCredentials.
 */
export function routeByMethod<T extends Routing>(method: Method | undefined, options: T): T {
  if (method?.kind !== 'smtp') return options;
  return {
    ...options,
    server: method.host,
    port: method.port ?? options.port,
    user: method.user ?? options.user,
    password: passwordFor(method.host, options),
    streamType: method.port === '465' ? 'ssl' : options.streamType,
    lmtp: undefined,
    path: undefined,
  };
}

/**
 * The `password` option only for the server it was given for: never sent to another one (credentials then come from
 * authinfo).
 */
export function passwordFor<P>(
  server: string | undefined,
  options: { readonly server?: string | undefined; readonly password?: P },
): P | undefined {
  return server === options.server ? options.password : undefined;
}

/**
 * Connection URLs where a server name goes (`server`, `--server`, the configuration file, SMTPSERVER):
 *
 *   smtp://[user[:password]@]host[:port][?starttls=required|opportunistic|never]
 *   smtps://[user[:password]@]host[:port]
 *   lmtp://[user[:password]@]host:port[?starttls=...]     (LMTP, RFC 2033: `lmtp: true`; the port is required)
 *
 * `smtp` keeps the library's defaults (port 25, STARTTLS when offered) unless the URL says otherwise; `smtps` is
 * implicit TLS (port 465 unless given). User and password are percent-decoded. What a URL sets must not also be given
 * as an option with another value (ECONFIG naming both), and anything else in it (a path, an unknown parameter, another
 * scheme) is ECONFIG: nothing is silently dropped. The password is a secret from the moment it is read: errors quote
 * the URL with it replaced by `***`, and it goes on as the `password` option, which traces never show.
 */
import { SmtpProtocolError } from './errors.js';
import type { StreamType } from './options.js';

/** What a URL can set. */
interface UrlSettings {
  readonly server?: string | undefined;
  readonly port?: number | string | undefined;
  readonly streamType?: StreamType | undefined;
  readonly user?: string | undefined;
  readonly password?: unknown;
  readonly lmtp?: boolean | undefined;
}

const STARTTLS_VALUES: Readonly<Record<string, StreamType | undefined>> = {
  required: 'starttls',
  opportunistic: undefined,
  never: 'plain',
};

/** True when `server` is written as a URL (a scheme and `://`). */
export function isServerUrl(server: unknown): server is string {
  return typeof server === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(server);
}

/**
 * `options` with its server URL (in `server`, or in SMTPSERVER when `server` is not given) spelled out as server,
 * port, streamType, user and password; `options` itself when there is no URL.
 */
export function expandServerUrl<T extends UrlSettings>(options: T, env: NodeJS.ProcessEnv = process.env): T {
  const source = options.server ?? (isServerUrl(env['SMTPSERVER']) ? env['SMTPSERVER'] : undefined);
  if (!isServerUrl(source)) return options;
  const settings = parseServerUrl(source);
  const merged: Record<string, unknown> = { ...(options as Record<string, unknown>) };
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined) continue;
    const given = (options as Record<string, unknown>)[name];
    if (name !== 'server' && given !== undefined && given !== value && String(given) !== String(value)) {
      throw new SmtpProtocolError(
        'ECONFIG',
        `the server URL ${redacted(source)} sets ${name}, and the ${name} option gives another value: give it once`,
      );
    }
    merged[name] = value;
  }
  return merged as T;
}

/** The settings a server URL spells. */
export function parseServerUrl(text: string): UrlSettings {
  const shown = redacted(text);
  const bad = (problem: string): SmtpProtocolError =>
    new SmtpProtocolError('ECONFIG', `invalid server URL ${shown}: ${problem}`);
  if (/[\0-\x20\x7f]/.test(text)) throw bad('it contains a space or a control character');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('it cannot be parsed');
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  if (scheme !== 'smtp' && scheme !== 'smtps' && scheme !== 'lmtp') {
    throw bad(`the scheme must be smtp, smtps or lmtp, not ${scheme}`);
  }
  if (scheme === 'lmtp' && url.port === '') throw bad('LMTP has no standard port: give one (24 is usual)');
  if (url.hostname === '') throw bad('it names no host');
  if (url.pathname !== '' && url.pathname !== '/') throw bad('a path means nothing here');
  if (url.hash !== '') throw bad('a fragment means nothing here');
  let streamType: StreamType | undefined = scheme === 'smtps' ? 'ssl' : undefined;
  for (const [key, value] of url.searchParams) {
    if (key !== 'starttls' || scheme === 'smtps' || !(value in STARTTLS_VALUES)) {
      throw bad(
        `unknown parameter ${key}=${value} (smtp:// and lmtp:// take starttls=required, opportunistic or never)`,
      );
    }
    streamType = STARTTLS_VALUES[value];
  }
  return {
    server: url.hostname,
    port: url.port === '' ? (scheme === 'smtps' ? 465 : undefined) : Number(url.port),
    streamType,
    user: url.username === '' ? undefined : decode(url.username, 'user', bad),
    password: url.password === '' ? undefined : decode(url.password, 'password', bad),
    lmtp: scheme === 'lmtp' ? true : undefined,
  };
}

function decode(text: string, what: string, bad: (problem: string) => SmtpProtocolError): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(`its ${what} is not valid percent-encoding`);
  }
}

/**
 * The URL as errors may quote it: everything from the first ':' after `scheme://` to the last '@' replaced by `***`
 * (a password written with a raw '@' or '/' in it is covered too; a '@' further on only hides more).
 */
export function redacted(text: string): string {
  const start = text.indexOf('://') + 3;
  const at = text.lastIndexOf('@');
  const colon = text.indexOf(':', start);
  if (start < 3 || at < start || colon === -1 || colon > at) return text;
  return `${text.slice(0, colon + 1)}***${text.slice(at)}`;
}

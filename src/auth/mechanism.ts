/**
 * What every SASL mechanism (RFC 4422) of this library is: a pure object that turns challenges into responses and
 * never touches a socket (Go net/smtp's `Auth`), with the helpers the mechanisms share. The mechanisms are in
 * sasl.ts (CRAM-MD5, PLAIN, LOGIN), scram.ts (SCRAM) and oauth.ts (XOAUTH2, OAUTHBEARER).
 */
import { SmtpProtocolError } from '../errors.js';
import type { AUTH_MECHANISMS } from '../options.js';
import type { ChannelBinding } from './channel-binding.js';

export type MechanismName = (typeof AUTH_MECHANISMS)[number];

export interface SaslCredentials {
  readonly user: string;
  /** The password, or for XOAUTH2 and OAUTHBEARER the OAuth 2 access token. */
  readonly secret: string;
}

/** What a mechanism may need to know of the session besides the credentials. */
export interface MechanismContext {
  /** The TLS session's channel binding (SCRAM -PLUS), when the session is encrypted and it can be computed. */
  readonly channelBinding?: ChannelBinding | undefined;
  /** The server advertised a -PLUS mechanism: SCRAM without binding must then say `n`, never `y` (RFC 5802 §6). */
  readonly serverBinds?: boolean | undefined;
  /** The server's name and port, which OAUTHBEARER sends (RFC 7628 §3.1). */
  readonly host?: string | undefined;
  readonly port?: number | undefined;
}

export interface SaslMechanism {
  readonly name: MechanismName;
  /**
   * The initial response (RFC 4954 §4) to send with AUTH, or undefined to wait for the first 334 challenge. An empty
   * Buffer means an empty initial response (sent as '=').
   */
  start(): Buffer | undefined;
  /**
   * The response to one 334 challenge (already base64-decoded). Throws SmtpProtocolError('EAUTH', ...) when the
   * challenge makes no sense for this mechanism (the caller then cancels with '*'). Never puts the secret in an error
   * message.
   */
  step(challenge: Buffer): Buffer | Promise<Buffer>;
  /**
   * Called when the server answered 235: throws EAUTH when the mechanism authenticates the server too and the server
   * has not proved itself (SCRAM's server signature, RFC 5802 §5).
   */
  finish(): void;
  /**
   * XOAUTH2, OAUTHBEARER: the error the server explained in a 334 challenge (`status 401, scope ...`, or the raw JSON
   * text when it cannot be parsed); SCRAM: its `e=` error; else undefined.
   */
  readonly serverError: string | undefined;
  /**
   * Why the server is not to be trusted with the password (SCRAM: a wrong server signature), once `step` or `finish`
   * found out; then no other mechanism is tried.
   */
  readonly untrusted: string | undefined;
}

const SERVER_TEXT_LIMIT = 200;

/** Server text made safe for an error message: control characters shown as `?`, length capped. */
export function sanitise(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > SERVER_TEXT_LIMIT ? `${clean.slice(0, SERVER_TEXT_LIMIT)}...` : clean;
}

/** ECONFIG when `value` contains `separator` (shown as `shown`): names the field, never its value. */
export function refuse(mechanism: MechanismName, field: string, value: string, separator: string, shown: string): void {
  if (value.includes(separator)) {
    throw new SmtpProtocolError('ECONFIG', `the ${mechanism} ${field} contains a ${shown} character`);
  }
}

export function authError(message: string): SmtpProtocolError {
  return new SmtpProtocolError('EAUTH', message);
}

/** RFC 5802 §5.1 `saslname`, also OAUTHBEARER's authzid (RFC 7628 §3.1): `,` and `=` escaped as `=2C` and `=3D`. */
export function saslName(name: string): string {
  return name.replace(/[=,]/g, (char) => (char === '=' ? '=3D' : '=2C'));
}

// Padded base64 only (RFC 4954 §4 uses RFC 4648 base64, as Go's StdEncoding does).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True for padded RFC 4648 base64 (the empty string included). */
export function isBase64(text: string): boolean {
  return BASE64.test(text);
}

/**
 * SASL mechanisms (RFC 4422) for SMTP AUTH (RFC 4954) as pure objects: they
 * turn challenges into responses and never touch a socket (the model is Go
 * net/smtp's `Auth`). Challenges and responses are raw bytes; the caller
 * base64-encodes them for the wire with {@link encodeBase64} and
 * {@link decodeBase64}, bounds the rounds, and cancels with `*` when `step`
 * throws.
 */
import { createHmac } from 'node:crypto';
import { SmtpProtocolError } from '../errors.js';
import { AUTH_MECHANISMS } from '../options.js';

/** The mechanisms implemented here (the list lives in options.ts, a leaf, so that the option types can name it). */
export const MECHANISMS = AUTH_MECHANISMS;
export type MechanismName = (typeof MECHANISMS)[number];

/** Tried in this order when the caller states no preference (smtpmail-auth-supported). */
export const DEFAULT_MECHANISMS: readonly MechanismName[] = ['CRAM-MD5', 'PLAIN', 'LOGIN'];

/** PLAIN, LOGIN and XOAUTH2 put the secret on the wire in a reversible form: never in clear text to a remote host. */
export function sendsSecretInClear(name: MechanismName): boolean {
  return name !== 'CRAM-MD5';
}

export interface SaslCredentials {
  readonly user: string;
  /** The password, or for XOAUTH2 the OAuth 2 access token. */
  readonly secret: string;
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
  step(challenge: Buffer): Buffer;
  /**
   * XOAUTH2: the error the server explained in a 334 challenge (`status 401, scope ...`, or the raw JSON text when it
   * cannot be parsed), else undefined.
   */
  readonly serverError: string | undefined;
}

/**
 * The mechanism for `name` (ASCII case-insensitive). An unknown name throws
 * `ECONFIG`; credentials that cannot be framed by the mechanism (NUL in PLAIN,
 * ^A in XOAUTH2, CR, LF or NUL in any) throw `ECONFIG` naming the field, never its value.
 */
export function createMechanism(name: string, credentials: SaslCredentials): SaslMechanism {
  const mechanism = mechanismName(name);
  // For every mechanism: a line break or NUL in what goes into the exchange is a misconfiguration (a password read
  // with its newline) or an injection (`alice\r\nRSET`), never something to encode and send.
  refuseBreaks(mechanism, 'user name', credentials.user);
  refuseBreaks(mechanism, mechanism === 'XOAUTH2' ? 'access token' : 'password', credentials.secret);
  switch (mechanism) {
    case 'CRAM-MD5':
      return new CramMd5(credentials);
    case 'PLAIN':
      return new Plain(credentials);
    case 'LOGIN':
      return new Login(credentials);
    case 'XOAUTH2':
      return new XOAuth2(credentials);
  }
}

/**
 * Which mechanisms to try, in order (smtpmail tries each until one succeeds).
 * Without `forced`: the preference list (default {@link DEFAULT_MECHANISMS}),
 * duplicates dropped, intersected with what the server advertises (ASCII
 * case-insensitive; advertised names this module does not know are ignored).
 * With `forced` (authinfo `smtp-auth` or an option): that mechanism alone
 * when advertised, else `[]` for the caller to report. Unknown names in
 * `preference` or `forced` throw `ECONFIG`.
 */
export function selectMechanisms(
  advertised: readonly string[],
  preference: readonly string[] = DEFAULT_MECHANISMS,
  forced?: string,
): MechanismName[] {
  const offered = new Set(advertised.map(asciiUpper));
  const wanted = forced !== undefined ? [mechanismName(forced)] : [...new Set(preference.map(mechanismName))];
  return wanted.filter((name) => offered.has(name));
}

/** The base64 (RFC 4648 §4) wire form of a response; '' for empty bytes. */
export function encodeBase64(bytes: Buffer): string {
  return bytes.toString('base64');
}

// Padded base64 only (RFC 4954 §4 uses RFC 4648 base64, as Go's StdEncoding does).
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict base64 decoding of a 334 challenge text (whitespace around it
 * trimmed; '=' alone or '' is an empty challenge). Characters outside the
 * alphabet, whitespace inside, or bad padding throw `EPROTOCOL`; the text is
 * not quoted, since a server may echo anything.
 */
export function decodeBase64(text: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '=') return Buffer.alloc(0);
  if (!BASE64.test(trimmed)) {
    throw new SmtpProtocolError('EPROTOCOL', 'the server sent a challenge that is not base64');
  }
  return Buffer.from(trimmed, 'base64');
}

/** RFC 4616: one initial response `authzid NUL authcid NUL passwd`, empty authzid, UTF-8. */
class Plain implements SaslMechanism {
  readonly name = 'PLAIN';
  readonly serverError = undefined;
  readonly #response: Buffer;

  constructor({ user, secret }: SaslCredentials) {
    this.#response = Buffer.from(`\0${user}\0${secret}`, 'utf8');
  }

  start(): Buffer {
    return Buffer.from(this.#response);
  }

  step(): Buffer {
    throw authError('PLAIN expects no challenge, but the server sent one');
  }
}

/**
 * LOGIN (draft-murchison-sasl-login): the user name answers the first
 * challenge, the password the second. The prompt texts are not read: servers
 * send `Username:`, `Username:\0` (aiosmtpd) or anything else.
 */
class Login implements SaslMechanism {
  readonly name = 'LOGIN';
  readonly serverError = undefined;
  readonly #answers: readonly string[];
  #round = 0;

  constructor({ user, secret }: SaslCredentials) {
    this.#answers = [user, secret];
  }

  start(): undefined {
    return undefined;
  }

  step(): Buffer {
    const answer = this.#answers[this.#round++];
    if (answer === undefined) throw authError('LOGIN expects two challenges, but the server sent a third');
    return Buffer.from(answer, 'utf8');
  }
}

/**
 * RFC 2195: the response is `user SP hex(HMAC-MD5(secret, challenge))`, the
 * digest in lowercase hex, the key the UTF-8 password.
 */
class CramMd5 implements SaslMechanism {
  readonly name = 'CRAM-MD5';
  readonly serverError = undefined;
  readonly #user: string;
  readonly #secret: string;
  #answered = false;

  constructor({ user, secret }: SaslCredentials) {
    this.#user = user;
    this.#secret = secret;
  }

  start(): undefined {
    return undefined;
  }

  step(challenge: Buffer): Buffer {
    if (this.#answered) throw authError('CRAM-MD5 expects one challenge, but the server sent a second');
    if (challenge.length === 0) throw authError('CRAM-MD5 expects a challenge, but the server sent an empty one');
    this.#answered = true;
    // Standard HMAC (RFC 2104 §2): a key longer than the 64-byte block is
    // replaced by its 16-byte MD5 digest, which createHmac does. Emacs's
    // rfc2104.el replaces it by the 32-character hex digest instead, so Emacs
    // fails CRAM-MD5 with passwords over 64 bytes; this port does not copy that.
    const digest = createHmac('md5', Buffer.from(this.#secret, 'utf8')).update(challenge).digest('hex');
    return Buffer.from(`${this.#user} ${digest}`, 'utf8');
  }
}

/**
 * XOAUTH2 (Google, Microsoft): initial response `user=U^Aauth=Bearer T^A^A`.
 * A failure comes as one 334 challenge holding a JSON error; the client
 * answers it with an empty response and the server then replies 535.
 */
class XOAuth2 implements SaslMechanism {
  readonly name = 'XOAUTH2';
  readonly #response: Buffer;
  #serverError: string | undefined;

  constructor({ user, secret }: SaslCredentials) {
    refuse('XOAUTH2', 'user name', user, '\x01', '^A');
    refuse('XOAUTH2', 'access token', secret, '\x01', '^A');
    this.#response = Buffer.from(`user=${user}\x01auth=Bearer ${secret}\x01\x01`, 'utf8');
  }

  get serverError(): string | undefined {
    return this.#serverError;
  }

  start(): Buffer {
    return Buffer.from(this.#response);
  }

  step(challenge: Buffer): Buffer {
    if (this.#serverError !== undefined) {
      throw authError('XOAUTH2 expects at most one challenge, but the server sent a second');
    }
    this.#serverError = summariseOAuthError(challenge.toString('utf8'));
    return Buffer.alloc(0);
  }
}

const SERVER_TEXT_LIMIT = 200;

/** `status 401, scope https://mail.google.com/` from the JSON, else the text itself (sanitised, capped). */
function summariseOAuthError(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const parts: string[] = [];
  if (typeof parsed === 'object' && parsed !== null) {
    for (const key of ['status', 'scope'] as const) {
      const value: unknown = (parsed as Record<string, unknown>)[key];
      if (typeof value === 'string' || typeof value === 'number') parts.push(`${key} ${String(value)}`);
    }
  }
  return sanitise(parts.length > 0 ? parts.join(', ') : text);
}

/** Server text made safe for an error message: control characters shown as `?`, length capped. */
function sanitise(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > SERVER_TEXT_LIMIT ? `${clean.slice(0, SERVER_TEXT_LIMIT)}...` : clean;
}

function mechanismName(name: string): MechanismName {
  const upper = asciiUpper(name);
  const found = MECHANISMS.find((mechanism) => mechanism === upper);
  if (found === undefined) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `unsupported SASL mechanism ${JSON.stringify(name)}; supported: ${MECHANISMS.join(', ')}`,
    );
  }
  return found;
}

// ASCII only: String#toUpperCase would map the dotless 'ı' to 'I' and accept 'plaın'.
function asciiUpper(text: string): string {
  return text.replace(/[a-z]/g, (letter) => letter.toUpperCase());
}

function refuse(mechanism: MechanismName, field: string, value: string, separator: string, shown: string): void {
  if (value.includes(separator)) {
    throw new SmtpProtocolError('ECONFIG', `the ${mechanism} ${field} contains a ${shown} character`);
  }
}

const BREAKS = /[\r\n\0]/;

function refuseBreaks(mechanism: MechanismName, field: string, value: string): void {
  const found = BREAKS.exec(value)?.[0];
  if (found !== undefined)
    refuse(mechanism, field, value, found, found === '\0' ? 'NUL' : found === '\r' ? 'CR' : 'LF');
}

function authError(message: string): SmtpProtocolError {
  return new SmtpProtocolError('EAUTH', message);
}

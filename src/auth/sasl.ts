/**
 * SASL mechanisms (RFC 4422) for SMTP AUTH (RFC 4954) as pure objects: they
 * turn challenges into responses and never touch a socket (the model is Go
 * net/smtp's `Auth`). Challenges and responses are raw bytes; the caller
 * base64-encodes them for the wire with {@link encodeBase64} and
 * {@link decodeBase64}, bounds the rounds, and cancels with `*` when `step`
 * throws. CRAM-MD5, PLAIN and LOGIN are here; SCRAM in scram.ts, XOAUTH2 and
 * OAUTHBEARER in oauth.ts.
 */
import { createHmac } from 'node:crypto';
import { SmtpProtocolError } from '../errors.js';
import { AUTH_MECHANISMS } from '../options.js';
import {
  authError,
  isBase64,
  refuse,
  type MechanismContext,
  type MechanismName,
  type SaslCredentials,
  type SaslMechanism,
} from './mechanism.js';
import { OAuthBearer, XOAuth2 } from './oauth.js';
import { isScram, Scram } from './scram.js';

export type { MechanismContext, MechanismName, SaslCredentials, SaslMechanism } from './mechanism.js';

/** The mechanisms implemented here (the list lives in options.ts, a leaf, so that the option types can name it). */
export const MECHANISMS = AUTH_MECHANISMS;

/**
 * Tried in this order when the caller states no preference (smtpmail-auth-supported, with SCRAM first): the
 * mechanisms that never reveal the password come first, the strongest first (SCRAM bound to the TLS session, SCRAM
 * with SHA-256, with SHA-1, then CRAM-MD5); PLAIN and LOGIN, which hand the password over, last. XOAUTH2 and
 * OAUTHBEARER take a token, not a password: only when listed or forced.
 */
export const DEFAULT_MECHANISMS: readonly MechanismName[] = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'CRAM-MD5',
  'PLAIN',
  'LOGIN',
];

/**
 * PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER put the secret on the wire in a reversible form: never in clear text to a
 * remote host. CRAM-MD5 and SCRAM send a proof, never the password.
 */
export function sendsSecretInClear(name: MechanismName): boolean {
  return name !== 'CRAM-MD5' && !isScram(name);
}

/**
 * The mechanism for `name` (ASCII case-insensitive). An unknown name throws
 * `ECONFIG`; credentials that cannot be framed by the mechanism (NUL in PLAIN,
 * ^A in XOAUTH2 and OAUTHBEARER, CR, LF or NUL in any) throw `ECONFIG` naming the field, never its value. SCRAM
 * throws `EAUTH` ("not tried: ...") for credentials SASLprep refuses, and its -PLUS variant without a channel binding:
 * the caller goes on with the next mechanism.
 */
export function createMechanism(
  name: string,
  credentials: SaslCredentials,
  context: MechanismContext = {},
): SaslMechanism {
  const mechanism = mechanismName(name);
  // For every mechanism: a line break or NUL in what goes into the exchange is a misconfiguration (a password read
  // with its newline) or an injection (`alice\r\nRSET`), never something to encode and send.
  refuseBreaks(mechanism, 'user name', credentials.user);
  refuseBreaks(mechanism, isOAuth(mechanism) ? 'access token' : 'password', credentials.secret);
  switch (mechanism) {
    case 'CRAM-MD5':
      return new CramMd5(credentials);
    case 'PLAIN':
      return new Plain(credentials);
    case 'LOGIN':
      return new Login(credentials);
    case 'XOAUTH2':
      return new XOAuth2(credentials);
    case 'OAUTHBEARER':
      return new OAuthBearer(credentials, context);
    case 'SCRAM-SHA-1':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-256-PLUS':
      return new Scram(mechanism, credentials, context);
  }
}

/** XOAUTH2 and OAUTHBEARER: the secret is an OAuth 2 access token, which a token function may refresh. */
export function isOAuth(name: MechanismName): boolean {
  return name === 'XOAUTH2' || name === 'OAUTHBEARER';
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

/**
 * Strict base64 decoding of a 334 challenge text (whitespace around it
 * trimmed; '=' alone or '' is an empty challenge). Characters outside the
 * alphabet, whitespace inside, or bad padding throw `EPROTOCOL`; the text is
 * not quoted, since a server may echo anything.
 */
export function decodeBase64(text: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === '=') return Buffer.alloc(0);
  if (!isBase64(trimmed)) {
    throw new SmtpProtocolError('EPROTOCOL', 'the server sent a challenge that is not base64');
  }
  return Buffer.from(trimmed, 'base64');
}

/** RFC 4616: one initial response `authzid NUL authcid NUL passwd`, empty authzid, UTF-8. */
class Plain implements SaslMechanism {
  readonly name = 'PLAIN';
  readonly serverError = undefined;
  readonly untrusted = undefined;
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

  finish(): void {}
}

/**
 * LOGIN (draft-murchison-sasl-login): the user name answers the first
 * challenge, the password the second. The prompt texts are not read: servers
 * send `Username:`, `Username:\0` (aiosmtpd) or anything else.
 */
class Login implements SaslMechanism {
  readonly name = 'LOGIN';
  readonly serverError = undefined;
  readonly untrusted = undefined;
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

  finish(): void {}
}

/**
 * RFC 2195: the response is `user SP hex(HMAC-MD5(secret, challenge))`, the
 * digest in lowercase hex, the key the UTF-8 password.
 */
class CramMd5 implements SaslMechanism {
  readonly name = 'CRAM-MD5';
  readonly serverError = undefined;
  readonly untrusted = undefined;
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

  finish(): void {}
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

const BREAKS = /[\r\n\0]/;

function refuseBreaks(mechanism: MechanismName, field: string, value: string): void {
  const found = BREAKS.exec(value)?.[0];
  if (found !== undefined)
    refuse(mechanism, field, value, found, found === '\0' ? 'NUL' : found === '\r' ? 'CR' : 'LF');
}

/**
 * OAuth 2 bearer tokens over SASL: XOAUTH2 (Google's and Microsoft's) and OAUTHBEARER (RFC 7628). The token travels
 * as it is (inside TLS), so both count as sending the secret in clear text. A refused token comes back as one 334
 * challenge holding a JSON error (`{"status":"invalid_token","scope":...}`), which is decoded for the error message;
 * the client then ends the exchange as each specification says, and the server replies 535.
 */
import {
  authError,
  refuse,
  sanitise,
  saslName,
  type MechanismContext,
  type SaslCredentials,
  type SaslMechanism,
} from './mechanism.js';

/** What ends a failed exchange: XOAUTH2 an empty response (Google's documentation), OAUTHBEARER ^A (RFC 7628). */
const XOAUTH2_END = Buffer.alloc(0);
const OAUTHBEARER_END = Buffer.from([0x01]);

abstract class BearerMechanism {
  readonly untrusted = undefined;
  readonly #response: Buffer;
  readonly #end: Buffer;
  #serverError: string | undefined;

  protected constructor(response: string, end: Buffer) {
    this.#response = Buffer.from(response, 'utf8');
    this.#end = end;
  }

  abstract readonly name: 'XOAUTH2' | 'OAUTHBEARER';

  get serverError(): string | undefined {
    return this.#serverError;
  }

  start(): Buffer {
    return Buffer.from(this.#response);
  }

  step(challenge: Buffer): Buffer {
    if (this.#serverError !== undefined) {
      throw authError(`${this.name} expects at most one challenge, but the server sent a second`);
    }
    this.#serverError = summariseOAuthError(challenge.toString('utf8'));
    return Buffer.from(this.#end);
  }

  finish(): void {}
}

/** XOAUTH2: the initial response `user=U^Aauth=Bearer T^A^A`. */
export class XOAuth2 extends BearerMechanism implements SaslMechanism {
  readonly name = 'XOAUTH2';

  constructor({ user, secret }: SaslCredentials) {
    refuse('XOAUTH2', 'user name', user, '\x01', '^A');
    refuse('XOAUTH2', 'access token', secret, '\x01', '^A');
    super(`user=${user}\x01auth=Bearer ${secret}\x01\x01`, XOAUTH2_END);
  }
}

/**
 * OAUTHBEARER (RFC 7628 §3.1): `n,a=USER,^Ahost=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A`, the user as authorization
 * identity (`,` and `=` escaped), host and port those connected to.
 */
export class OAuthBearer extends BearerMechanism implements SaslMechanism {
  readonly name = 'OAUTHBEARER';

  constructor({ user, secret }: SaslCredentials, { host, port }: MechanismContext) {
    refuse('OAUTHBEARER', 'user name', user, '\x01', '^A');
    refuse('OAUTHBEARER', 'access token', secret, '\x01', '^A');
    const where = `${host === undefined ? '' : `host=${host}\x01`}${port === undefined ? '' : `port=${port}\x01`}`;
    super(`n,a=${saslName(user)},\x01${where}auth=Bearer ${secret}\x01\x01`, OAUTHBEARER_END);
  }
}

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

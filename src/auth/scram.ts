/**
 * SCRAM (RFC 5802): SCRAM-SHA-1, SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-256-PLUS, which binds the login to the TLS
 * session (channel-binding.ts). The password never leaves the client, not even hashed: the client proves it knows
 * it, and the server proves it knows it too (its signature is checked; a server that cannot prove it fails the
 * exchange, and no other mechanism is tried after it, nor after a -PLUS exchange whose channel binding the server
 * found different from its own).
 *
 * Bounds: the server's iteration count must be 4096 (RFC 7677 §4, RFC 5802 §5.1's SHOULD) to 1,000,000 (about a
 * second of PBKDF2 here; more is a server wasting the client's time). User name and password go through SASLprep
 * (saslprep.ts); credentials it refuses leave SCRAM untried, with the reason in the error.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { SmtpProtocolError } from '../errors.js';
import type { ChannelBinding } from './channel-binding.js';
import {
  authError,
  isBase64,
  sanitise,
  saslName,
  type MechanismContext,
  type MechanismName,
  type SaslCredentials,
  type SaslMechanism,
} from './mechanism.js';
import { saslprep } from './saslprep.js';

export type ScramName = Extract<MechanismName, `SCRAM-${string}`>;

export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 1_000_000;

/**
 * Where client nonces come from: 24 bytes of crypto.randomBytes in base64 (RFC 5802 §5.1 `r`: printable, no comma).
 * Only tests replace `next`, to replay the RFC examples.
 */
export const clientNonce = { next: (): string => randomBytes(24).toString('base64') };

const HASHES: Readonly<Record<ScramName, { readonly hash: 'sha1' | 'sha256'; readonly plus: boolean }>> = {
  'SCRAM-SHA-1': { hash: 'sha1', plus: false },
  'SCRAM-SHA-256': { hash: 'sha256', plus: false },
  'SCRAM-SHA-256-PLUS': { hash: 'sha256', plus: true },
};

export function isScram(name: MechanismName): name is ScramName {
  return name in HASHES;
}

/** A -PLUS mechanism: usable only on a TLS session whose channel binding is known. */
export function bindsChannel(name: MechanismName): boolean {
  return isScram(name) && HASHES[name].plus;
}

/** Printable ASCII but ',' (RFC 5802 §7 `printable`): what a nonce is made of. */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export class Scram implements SaslMechanism {
  readonly name: ScramName;
  readonly #hash: 'sha1' | 'sha256';
  readonly #password: string;
  readonly #gs2Header: Buffer;
  readonly #binding: ChannelBinding | undefined;
  readonly #nonce: string;
  readonly #clientFirstBare: string;
  #round = 0;
  #serverSignature: Buffer | undefined;
  #verified = false;
  #serverError: string | undefined;
  #untrusted: string | undefined;

  /** Throws EAUTH (SCRAM not tried) when the credentials cannot be prepared or -PLUS has no binding. */
  constructor(name: ScramName, { user, secret }: SaslCredentials, context: MechanismContext) {
    this.name = name;
    const { hash, plus } = HASHES[name];
    this.#hash = hash;
    const preparedUser = saslprep(user, 'query');
    if (!preparedUser.ok) throw notTried(`the user name has ${preparedUser.why}`);
    const preparedPassword = saslprep(secret, 'stored');
    if (!preparedPassword.ok) throw notTried(`the password has ${preparedPassword.why}`);
    if (preparedUser.value === '' || preparedPassword.value === '')
      throw notTried(`the ${preparedUser.value === '' ? 'user name' : 'password'} is empty after SASLprep`);
    this.#password = preparedPassword.value;
    const binding = context.channelBinding;
    if (plus && binding === undefined)
      throw notTried('no channel binding: the session is not TLS, or its certificate has no defined binding');
    this.#binding = plus ? binding : undefined;
    // RFC 5802 §6: 'y' says "I could bind, but you do not offer it", so that a server that does can spot a downgrade.
    const flag = plus ? `p=${binding?.type},` : binding !== undefined && context.serverBinds !== true ? 'y,' : 'n,';
    this.#gs2Header = Buffer.from(`${flag},`, 'utf8');
    this.#nonce = clientNonce.next();
    this.#clientFirstBare = `n=${saslName(preparedUser.value)},r=${this.#nonce}`;
  }

  get serverError(): string | undefined {
    return this.#serverError;
  }

  get untrusted(): string | undefined {
    return this.#untrusted;
  }

  start(): Buffer {
    return Buffer.concat([this.#gs2Header, Buffer.from(this.#clientFirstBare, 'utf8')]);
  }

  async step(challenge: Buffer): Promise<Buffer> {
    const round = this.#round++;
    if (round === 0) return this.#clientFinal(challenge.toString('utf8'));
    if (round === 1) return this.#serverFinal(challenge.toString('utf8'));
    throw authError(`${this.name} expects two challenges, but the server sent a third`);
  }

  finish(): void {
    if (this.#verified) return;
    this.#untrusted = 'the server accepted the login without proving that it knows the password (no server signature)';
    throw authError(`${this.name}: ${this.#untrusted}`);
  }

  /** server-first-message → client-final-message (RFC 5802 §7). */
  async #clientFinal(serverFirst: string): Promise<Buffer> {
    const fields = serverFirst.split(',');
    if (fields[0]?.startsWith('m=')) throw this.#refuse('the server requires an extension this client does not know');
    const [r, s, i] = fields.map((field) => /^([A-Za-z])=(.*)$/s.exec(field));
    if (r?.[1] !== 'r' || s?.[1] !== 's' || i?.[1] !== 'i') throw this.#refuse('the server sent a malformed challenge');
    const nonce = r[2] as string;
    if (!NONCE.test(nonce) || !nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length)
      throw this.#refuse("the server's nonce does not extend the client's");
    const saltText = s[2] as string;
    if (saltText === '' || !isBase64(saltText)) throw this.#refuse('the server sent a salt that is not base64');
    const countText = i[2] as string;
    const count = /^[1-9][0-9]{0,9}$/.test(countText) ? Number(countText) : NaN;
    if (!(count >= MIN_ITERATIONS && count <= MAX_ITERATIONS)) {
      throw this.#refuse(
        `the server's iteration count ${sanitise(countText.slice(0, 20))} is outside ` +
          `${MIN_ITERATIONS}-${MAX_ITERATIONS}`,
      );
    }
    const salted = await hi(this.#hash, this.#password, Buffer.from(saltText, 'base64'), count);
    const clientKey = this.#hmac(salted, 'Client Key');
    const storedKey = createHash(this.#hash).update(clientKey).digest();
    const cbind = Buffer.concat([this.#gs2Header, this.#binding?.data ?? Buffer.alloc(0)]).toString('base64');
    const withoutProof = `c=${cbind},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = this.#hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, index) => byte ^ (signature[index] as number)));
    this.#serverSignature = this.#hmac(this.#hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** server-final-message: `v=` the server's signature, checked; `e=` its error (the 535 follows the empty answer). */
  #serverFinal(serverFinal: string): Buffer {
    const match = /^([ev])=([^,]*)/.exec(serverFinal);
    if (match?.[1] === 'e') {
      const error = match[2] as string;
      this.#serverError = `server error: ${sanitise(error)}`;
      // The server sees another TLS session than the client: a man in the middle (or a TLS-terminating middlebox).
      if (this.#binding !== undefined && error === 'channel-bindings-dont-match') {
        const type = this.#binding.type;
        this.#untrusted = `the server sees another TLS session (its ${type} differs): a man in the middle?`;
      }
      return Buffer.alloc(0);
    }
    const expected = this.#serverSignature as Buffer;
    const text = match?.[2] ?? '';
    const given = isBase64(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
    if (match?.[1] !== 'v' || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.#untrusted = "the server's signature is wrong: it could not prove that it knows the password";
      throw authError(`${this.name}: ${this.#untrusted}`);
    }
    this.#verified = true;
    return Buffer.alloc(0);
  }

  #hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.#hash, key).update(text, 'utf8').digest();
  }

  #refuse(why: string): SmtpProtocolError {
    return authError(why);
  }
}

/** Hi() of RFC 5802 §2.2 is PBKDF2 (RFC 8018) with HMAC and one block; off the event loop. */
function hi(hash: 'sha1' | 'sha256', password: string, salt: Buffer, count: number): Promise<Buffer> {
  const length = hash === 'sha1' ? 20 : 32;
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(password, 'utf8'), salt, count, length, hash, (error, key) =>
      error === null ? resolve(key) : reject(error),
    );
  });
}

/** EAUTH from the constructor: the exchange lists `NAME: not tried: why` and goes on with the next mechanism. */
function notTried(why: string): SmtpProtocolError {
  return authError(`not tried: ${why}`);
}

/**
 * SCRAM's computations written again from RFC 5802 §3, independently of src/auth/scram.ts, for the tests that play
 * the server: the client's final message a script must expect, and the server side (proof check, signature).
 */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256';

const b64 = (bytes: Buffer): string => bytes.toString('base64');

function hmac(hash: ScramHash, key: Buffer, text: string): Buffer {
  return createHmac(hash, key).update(text, 'utf8').digest();
}

function saltedPassword(hash: ScramHash, password: string, salt: string, count: number): Buffer {
  return pbkdf2Sync(password, Buffer.from(salt, 'base64'), count, hash === 'sha1' ? 20 : 32, hash);
}

export interface Exchange {
  readonly hash: ScramHash;
  readonly password: string;
  /** client-first-message, GS2 header included (`n,,n=user,r=...`). */
  readonly clientFirst: string;
  readonly serverFirst: string;
  /** The channel binding data the client includes (after the GS2 header in c=), for -PLUS. */
  readonly bindingData?: Buffer;
}

/** The client-final-message and the server-final-message (`v=...`) of an exchange. */
export function finalMessages(exchange: Exchange): { clientFinal: string; serverFinal: string } {
  const { hash, password, clientFirst, serverFirst } = exchange;
  const gs2 = /^[^,]*,[^,]*,/.exec(clientFirst)?.[0] ?? '';
  const bare = clientFirst.slice(gs2.length);
  const nonce = /(?:^|,)r=([^,]*)/.exec(serverFirst)?.[1] ?? '';
  const salt = /,s=([^,]*)/.exec(serverFirst)?.[1] ?? '';
  const count = Number(/,i=(\d+)/.exec(serverFirst)?.[1]);
  const salted = saltedPassword(hash, password, salt, count);
  const clientKey = hmac(hash, salted, 'Client Key');
  const storedKey = createHash(hash).update(clientKey).digest();
  const cbind = b64(Buffer.concat([Buffer.from(gs2, 'utf8'), exchange.bindingData ?? Buffer.alloc(0)]));
  const withoutProof = `c=${cbind},r=${nonce}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const signature = hmac(hash, storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] as number)));
  return {
    clientFinal: `${withoutProof},p=${b64(proof)}`,
    serverFinal: `v=${b64(hmac(hash, hmac(hash, salted, 'Server Key'), authMessage))}`,
  };
}

/**
 * The AUTH exchange (RFC 4954) over a session: mechanisms tried in order until
 * one succeeds (Emacs manual: "It tries each of them, in that order, until one
 * succeeds"). Everything the client sends while SASL is in progress is shown
 * as `<omitted>` and never reaches an error: secrets stay in this module and
 * in sasl.ts.
 */
import * as commands from '../wire/commands.js';
import { cleartextAuth } from '../hints.js';
import { SmtpProtocolError } from '../errors.js';
import { replyText, type Reply } from '../wire/reply.js';
import {
  createMechanism,
  decodeBase64,
  DEFAULT_MECHANISMS,
  encodeBase64,
  selectMechanisms,
  sendsSecretInClear,
  type MechanismName,
  type SaslCredentials,
  type SaslMechanism,
} from './sasl.js';
import type { SmtpSession } from '../smtp/session.js';

/** Challenges answered per mechanism before giving up (smtplib caps them too). */
export const MAX_SASL_ROUNDS = 5;

const OMITTED = '<omitted>';

export interface AuthPolicy {
  /** Preference order (smtpmail-auth-supported); default CRAM-MD5, PLAIN, LOGIN. */
  readonly preference: readonly string[] | undefined;
  /** One mechanism forced by the `authMechanism` option or an authinfo `smtp-auth` key. */
  readonly forced: string | undefined;
  /** Allow PLAIN, LOGIN and XOAUTH2 without TLS to a host that is not loopback. */
  readonly allowInsecureAuth: boolean;
}

/** One mechanism tried and the server's final answer to it. */
interface Attempt {
  readonly mechanism: MechanismName;
  readonly reply: Reply;
  readonly serverError: string | undefined;
}

/** Authenticates; resolves with the mechanism that succeeded, or rejects with EAUTH / EPOLICY. */
export async function authenticate(
  session: SmtpSession,
  credentials: SaslCredentials,
  policy: AuthPolicy,
): Promise<MechanismName> {
  const advertised = session.capabilities.authMechanisms;
  const candidates = selectMechanisms(advertised, policy.preference, policy.forced);
  if (candidates.length === 0) {
    const wanted = policy.forced ?? (policy.preference ?? DEFAULT_MECHANISMS).join(', ');
    throw new SmtpProtocolError(
      'EAUTH',
      `no usable authentication mechanism: the server offers ${advertised.join(' ') || 'none'}, the client allows ` +
        `${wanted}`,
    );
  }
  const safe = session.tls !== undefined || session.connection.loopbackPeer || policy.allowInsecureAuth;
  const usable = safe ? candidates : candidates.filter((name) => !sendsSecretInClear(name));
  if (usable.length === 0) {
    throw new SmtpProtocolError(
      'EPOLICY',
      `refusing to send the password with ${candidates.join(', ')} over an unencrypted connection to ` +
        `${session.target.host}`,
      { hint: cleartextAuth() },
    );
  }
  const attempts: Attempt[] = [];
  for (const name of usable) {
    const mechanism = createMechanism(name, credentials);
    const reply = await exchange(session, mechanism);
    if (reply.code === 235) return name;
    attempts.push({ mechanism: name, reply, serverError: mechanism.serverError });
    if (reply.code === 421) break; // the server is closing the connection
  }
  throw failed(attempts);
}

/** One mechanism's conversation: AUTH, then challenges until a non-334 reply. */
async function exchange(session: SmtpSession, mechanism: SaslMechanism): Promise<Reply> {
  const connection = session.connection;
  const timeout = session.timeouts.command;
  const initial = mechanism.start();
  const command =
    initial === undefined ? commands.auth(mechanism.name) : commands.auth(mechanism.name, encodeBase64(initial));
  connection.send([
    { line: command, shown: initial === undefined ? `AUTH ${mechanism.name}` : `AUTH ${mechanism.name} ${OMITTED}` },
  ]);
  for (let round = 0; ; round++) {
    const reply = await connection.read(timeout, `the reply to AUTH ${mechanism.name}`);
    if (reply.code !== 334) return reply;
    if (round === MAX_SASL_ROUNDS) {
      await cancel(session);
      throw new SmtpProtocolError(
        'EAUTH',
        `AUTH ${mechanism.name}: the server sent more than ${MAX_SASL_ROUNDS} challenges`,
        { reply, command: `AUTH ${mechanism.name}` },
      );
    }
    let response: Buffer;
    try {
      response = mechanism.step(decodeBase64(reply.lines.join('')));
    } catch {
      // A challenge that makes no sense for the mechanism: RFC 4954 §4 '*' cancels
      // the exchange, and the server's answer (501) is this mechanism's failure.
      return cancel(session);
    }
    connection.send([{ line: commands.saslResponse(encodeBase64(response)), shown: OMITTED }]);
  }
}

async function cancel(session: SmtpSession): Promise<Reply> {
  const connection = session.connection;
  connection.send(['*\r\n']);
  const reply = await connection.read(session.timeouts.command, 'the reply to a cancelled AUTH');
  if (reply.code === 334) {
    const error = new SmtpProtocolError(
      'EPROTOCOL',
      'the server went on challenging after the client cancelled AUTH with "*"',
      { reply, command: '*' },
    );
    connection.fail(error);
    throw error;
  }
  return reply;
}

function failed(attempts: readonly Attempt[]): SmtpProtocolError {
  const last = attempts[attempts.length - 1] as Attempt;
  const list = attempts
    .map((a) => `${a.mechanism}: ${replyText(a.reply)}${a.serverError === undefined ? '' : ` (${a.serverError})`}`)
    .join('; ');
  return new SmtpProtocolError('EAUTH', `Authentication failed: ${list}`, {
    reply: last.reply,
    command: `AUTH ${last.mechanism}`,
    transient: attempts.every((a) => a.reply.code >= 400 && a.reply.code < 500),
  });
}

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
import { channelBinding } from './channel-binding.js';
import {
  createMechanism,
  decodeBase64,
  DEFAULT_MECHANISMS,
  encodeBase64,
  isOAuth,
  selectMechanisms,
  sendsSecretInClear,
  type MechanismContext,
  type MechanismName,
  type SaslCredentials,
  type SaslMechanism,
} from './sasl.js';
import type { SmtpSession } from '../smtp/session.js';

/** Challenges answered per mechanism before giving up (smtplib caps them too). */
export const MAX_SASL_ROUNDS = 5;

const OMITTED = '<omitted>';

export interface AuthPolicy {
  /** Preference order (smtpmail-auth-supported); default DEFAULT_MECHANISMS (SCRAM first). */
  readonly preference: readonly string[] | undefined;
  /** One mechanism forced by the `authMechanism` option or an authinfo `smtp-auth` key. */
  readonly forced: string | undefined;
  /** Allow PLAIN, LOGIN, XOAUTH2 and OAUTHBEARER without TLS to a host that is not loopback. */
  readonly allowInsecureAuth: boolean;
}

/**
 * A new token after the server refused one (XOAUTH2, OAUTHBEARER), given the error of that exchange; asked at most
 * once per call of {@link authenticate}, that is once per connection.
 */
export type RefreshSecret = (previousError: SmtpProtocolError) => Promise<string>;

/** One mechanism tried (or found unusable) and the server's final answer to it. */
interface Attempt {
  /** The mechanism, and `(new token)` for a second try after a refresh. */
  readonly label: string;
  readonly mechanism: MechanismName;
  /** Undefined when the mechanism was not tried (SCRAM with credentials SASLprep refuses, -PLUS without binding). */
  readonly reply: Reply | undefined;
  readonly serverError: string | undefined;
  /** Why the client did not try the mechanism, or cancelled it with '*'. */
  readonly clientError: string | undefined;
}

/**
 * Authenticates; resolves with the mechanism that succeeded, or rejects with EAUTH / EPOLICY. With `refresh`, a
 * refused OAuth token is replaced once and the same mechanism tried again on this connection (a new AUTH command).
 */
export async function authenticate(
  session: SmtpSession,
  credentials: SaslCredentials,
  policy: AuthPolicy,
  refresh?: RefreshSecret,
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
  const context: MechanismContext = {
    channelBinding: channelBinding(session.connection.tlsBinding),
    serverBinds: advertised.some((name) => /-PLUS$/i.test(name)),
    host: session.target.host,
    port: session.target.port,
  };
  let secret = credentials.secret;
  let refreshed = false;
  const attempts: Attempt[] = [];
  for (let index = 0; index < usable.length; index++) {
    const name = usable[index] as MechanismName;
    const label = refreshed && isOAuth(name) ? `${name} (new token)` : name;
    let mechanism: SaslMechanism;
    try {
      mechanism = createMechanism(name, { user: credentials.user, secret }, context);
    } catch (error) {
      // EAUTH here means "not usable with these credentials on this session": note why and go on.
      if (!(error instanceof SmtpProtocolError) || error.code !== 'EAUTH') throw error;
      attempts.push({ label, mechanism: name, reply: undefined, serverError: undefined, clientError: error.message });
      continue;
    }
    const { reply, clientError } = await exchange(session, mechanism);
    if (reply.code === 235) {
      try {
        mechanism.finish();
      } catch {
        throw untrusted(name, mechanism);
      }
      return name;
    }
    if (mechanism.untrusted !== undefined) throw untrusted(name, mechanism);
    const attempt = { label, mechanism: name, reply, serverError: mechanism.serverError, clientError };
    attempts.push(attempt);
    if (reply.code === 421) break; // the server is closing the connection
    if (refresh !== undefined && !refreshed && isOAuth(name) && reply.code >= 500 && clientError === undefined) {
      refreshed = true;
      secret = await refresh(failed([attempt]));
      session.connection.note(`the server refused the ${name} token: trying again with a new one`);
      index--; // the same mechanism, with the new token
    }
  }
  throw failed(attempts);
}

interface Outcome {
  readonly reply: Reply;
  readonly clientError: string | undefined;
}

/** One mechanism's conversation: AUTH, then challenges until a non-334 reply. */
async function exchange(session: SmtpSession, mechanism: SaslMechanism): Promise<Outcome> {
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
    if (reply.code !== 334) return { reply, clientError: undefined };
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
      response = await mechanism.step(decodeBase64(reply.lines.join('')));
    } catch (error) {
      // A challenge that makes no sense for the mechanism (or a SCRAM server that fails its checks): RFC 4954 §4 '*'
      // cancels the exchange, and the server's answer (501) is this mechanism's failure.
      const why = error instanceof SmtpProtocolError ? error.message : 'the challenge could not be answered';
      return { reply: await cancel(session), clientError: why };
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

/**
 * A server that failed mutual authentication (SCRAM's signature): the login stops here, since a server that cannot
 * prove it knows the password must not be handed it by PLAIN next. No reply is attached: the password may be right.
 */
function untrusted(name: MechanismName, mechanism: SaslMechanism): SmtpProtocolError {
  return new SmtpProtocolError(
    'EAUTH',
    `Authentication failed: ${name}: ${mechanism.untrusted ?? 'the server could not be verified'}; ` +
      'no other mechanism was tried',
    { command: `AUTH ${name}` },
  );
}

function failed(attempts: readonly Attempt[]): SmtpProtocolError {
  const answered = attempts.filter((a) => a.reply !== undefined);
  const last = answered[answered.length - 1];
  const list = attempts.map((a) => `${a.label}: ${describe(a)}`).join('; ');
  return new SmtpProtocolError('EAUTH', `Authentication failed: ${list}`, {
    reply: last?.reply,
    command: last === undefined ? undefined : `AUTH ${last.mechanism}`,
    transient:
      answered.length > 0 && answered.every((a) => (a.reply as Reply).code >= 400 && (a.reply as Reply).code < 500),
  });
}

function describe(attempt: Attempt): string {
  if (attempt.reply === undefined) return attempt.clientError ?? 'not tried';
  const server = `${replyText(attempt.reply)}${attempt.serverError === undefined ? '' : ` (${attempt.serverError})`}`;
  return attempt.clientError === undefined ? server : `cancelled by the client (${attempt.clientError}): ${server}`;
}

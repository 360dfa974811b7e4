/**
 * When to authenticate and with what (SPEC §4): up front when the server
 * offers AUTH and credentials are found; always (credentials required) for
 * `serversRequiringAuthorization`; and after MAIL 530 or RCPT 550-554 on an
 * unauthenticated session, where smtpmail (Emacs 29) gave a first-time user a
 * bare 530: ask the resolver, then `promptCredentials`, then authenticate and
 * run the transaction again.
 */
import { authenticate } from './exchange.js';
import type { MechanismName } from './mechanism.js';
import { CredentialGate } from './credential-gate.js';
import { defaultAuthSources, lookupCredentials, saveCredentials } from './credentials.js';
import type { SearchedFile } from '../hints.js';
import { SmtpProtocolError, withHint } from '../errors.js';
import { credentialsRefused } from '../hints.js';
import { describeValue, optionRef } from '../option-names.js';
import type { AuthOptions, PasswordFunction, Target } from '../options.js';
import type { SmtpSession } from '../smtp/session.js';

type Secret = (attempt: number, previousError: SmtpProtocolError | undefined) => Promise<string>;

interface Credentials {
  readonly user: string;
  /** The gate's generation when these were chosen (credential-gate.ts). */
  readonly generation: number;
  /** The secret for the `attempt`th call on this connection (2: after the server refused an OAuth token). */
  readonly secret: Secret;
  /** The secret comes from a function, which may give a new token after a refusal. */
  readonly refreshable: boolean;
  /** A mechanism forced by the authinfo entry (`smtp-auth`). */
  readonly forced: string | undefined;
  /** Where they came from, for messages: `options`, `~/.authinfo line 3`, `promptCredentials`. */
  readonly source: string;
  readonly save: boolean;
}

export class Authorizer {
  readonly #options: AuthOptions;
  readonly #target: Target;
  readonly #gate: CredentialGate;
  #resolved: Promise<Credentials | undefined> | undefined;
  #searched: readonly SearchedFile[] = [];
  #mechanism: MechanismName | undefined;
  #who: { readonly user: string; readonly source: string } | undefined;

  constructor(options: AuthOptions, target: Target, gate = new CredentialGate()) {
    this.#options = options;
    this.#target = target;
    this.#gate = gate;
  }

  /** The mechanism that succeeded, once authenticated. */
  get mechanism(): MechanismName | undefined {
    return this.#mechanism;
  }

  /**
   * Who authenticated and where the credentials came from (file and line, `options`, `promptCredentials`); never the
   * secret.
   */
  get login(): { readonly user: string; readonly source: string } | undefined {
    return this.#who;
  }

  /** The authinfo files looked at and why nothing matched (for troubleshooting). */
  get searched(): readonly SearchedFile[] {
    return this.#searched;
  }

  /** After EHLO (and TLS): authenticate when credentials are at hand, or required. */
  async start(session: SmtpSession): Promise<void> {
    this.#mechanism = undefined; // a new session starts unauthenticated
    const host = this.#target.host;
    const required = this.#options.serversRequiringAuthorization?.test(host) === true;
    if (!session.capabilities.has('AUTH')) {
      if (required)
        throw new SmtpProtocolError('EAUTH', `${host} matches serversRequiringAuthorization but does not offer AUTH`);
      return;
    }
    const credentials = (await this.#resolve(session)) ?? (required ? await this.#prompt() : undefined);
    if (credentials === undefined) {
      if (required)
        throw new SmtpProtocolError(
          'EAUTH',
          `${host} requires authorization and no credentials were found for it (port ${this.#target.service})`,
        );
      return;
    }
    await this.#login(session, credentials);
  }

  /**
   * After a refusal that asks for authentication: true when the session has
   * now authenticated (after RSET) and the transaction may run again; false
   * when the original error stands.
   */
  async recover(session: SmtpSession, error: unknown): Promise<boolean> {
    if (this.#mechanism !== undefined || !session.capabilities.has('AUTH') || !asksForAuth(error)) return false;
    if (session.connection.failure !== undefined) return false;
    const credentials = (await this.#resolve(session)) ?? (await this.#prompt());
    if (credentials === undefined) return false;
    await session.rset(); // RFC 4954 §4: no AUTH inside a mail transaction
    await this.#login(session, credentials);
    return true;
  }

  async #login(session: SmtpSession, credentials: Credentials): Promise<void> {
    const options = this.#options;
    const secret = await credentials.secret(1, undefined);
    // Once per connection: a refused OAuth token is refreshed by the password function and tried again.
    const refresh = credentials.refreshable
      ? (previousError: SmtpProtocolError): Promise<string> => credentials.secret(2, previousError)
      : undefined;
    try {
      this.#mechanism = await authenticate(
        session,
        { user: credentials.user, secret },
        {
          preference: options.authMechanisms,
          forced: options.authMechanism ?? credentials.forced,
          allowInsecureAuth: options.allowInsecureAuth === true,
        },
        refresh,
      );
    } catch (error) {
      // 535 (RFC 4954): these credentials were refused; say which and where they came from, and try them no more.
      if (error instanceof SmtpProtocolError && error.reply?.code === 535) {
        const refused = withHint(error, credentialsRefused(credentials.user, credentials.source));
        this.#gate.refuse(refused, credentials.generation);
        throw refused;
      }
      throw error;
    }
    this.#who = { user: credentials.user, source: credentials.source };
    session.connection.trace({
      direction: 'info',
      line: `authenticated as ${credentials.user} with ${this.#mechanism} (credentials from ${credentials.source})`,
      kind: 'auth',
      fields: { mechanism: this.#mechanism ?? null, user: credentials.user, source: credentials.source },
    });
    if (credentials.save) await this.#save(session, credentials.user, secret);
  }

  /**
   * Credentials given later (setCredentials, a new prompt answer), else from the options, else from the first authinfo
   * entry that matches (looked up once).
   */
  #resolve(session: SmtpSession): Promise<Credentials | undefined> {
    const given = this.#gate.given;
    if (given !== undefined) {
      return Promise.resolve({
        user: given.user,
        generation: this.#gate.generation,
        secret: this.#secret(given.password, given.user),
        refreshable: typeof given.password === 'function',
        forced: undefined,
        source: given.source,
        save: given.save,
      });
    }
    this.#resolved ??= this.#lookup(session);
    return this.#resolved;
  }

  async #lookup(session: SmtpSession): Promise<Credentials | undefined> {
    const { user, password } = this.#options;
    if (password !== undefined) {
      if (user === undefined)
        throw new SmtpProtocolError(
          'ECONFIG',
          `a password was given (${optionRef('password')}) without a user: set ${optionRef('user')}`,
        );
      return {
        user,
        generation: 0,
        secret: this.#secret(password, user),
        refreshable: typeof password === 'function',
        forced: undefined,
        source: 'options',
        save: false,
      };
    }
    const result = await lookupCredentials(
      {
        host: this.#target.host,
        port: this.#target.service,
        user,
        serviceAliases: this.#options.serviceAliases,
        caseInsensitiveHosts: this.#options.caseInsensitiveHosts,
      },
      this.#options.authSources ?? defaultAuthSources(),
      (warning) => session.connection.note(warning),
    );
    this.#searched = result.searched;
    const found = result.found;
    if (found === undefined) return undefined;
    const source = `${found.file} line ${found.line}`;
    const login = found.user ?? user;
    if (login === undefined)
      throw new SmtpProtocolError('ECONFIG', `${source}: the entry has no login (add "login USER")`);
    if (found.password === undefined) {
      const prompted = await this.#prompt(login);
      if (prompted === undefined) {
        throw new SmtpProtocolError(
          'EAUTH',
          `${source}: the entry has a login but no password, and no promptCredentials callback was given`,
        );
      }
      return { ...prompted, forced: found.mechanism };
    }
    const secret = found.password;
    return {
      user: login,
      generation: 0,
      secret: async () => secret,
      refreshable: false,
      forced: found.mechanism,
      source,
      save: false,
    };
  }

  async #prompt(user = this.#options.user): Promise<Credentials | undefined> {
    const ask = this.#options.promptCredentials;
    if (ask === undefined) return undefined;
    const answer = await ask({ host: this.#target.host, port: this.#target.service, user });
    if (answer === undefined) return undefined;
    const password = answer.password;
    return {
      user: answer.user,
      generation: this.#gate.generation,
      secret: async () => password,
      refreshable: false,
      forced: undefined,
      source: 'promptCredentials',
      save: answer.save === true,
    };
  }

  /** A password given as a string or a function (PasswordContext), as the secret of one connection's calls. */
  #secret(password: string | PasswordFunction, user: string): Secret {
    if (typeof password === 'string') return async () => password;
    const { host, port } = this.#target;
    return async (attempt, previousError) => {
      const value: unknown = await password({ user, server: host, port, attempt, previousError });
      if (typeof value !== 'string') {
        // Never the value's content: a token response object would carry the token.
        throw new SmtpProtocolError(
          'ECONFIG',
          `${optionRef('password')} (a function) returned ${describeValue(value)}, not a string`,
        );
      }
      return value;
    };
  }

  /** Only after AUTH succeeded: into the first authinfo file that is not encrypted. */
  async #save(session: SmtpSession, user: string, password: string): Promise<void> {
    const file = (this.#options.authSources ?? defaultAuthSources()).find((name) => !name.endsWith('.gpg'));
    if (file === undefined) {
      session.connection.note('credentials not saved: no authinfo file that is not encrypted');
      return;
    }
    try {
      await saveCredentials(file, { host: this.#target.host, port: this.#target.service, user, password });
      session.connection.note(`credentials saved to ${file}`);
    } catch (error) {
      session.connection.note(`credentials not saved to ${file}: ${(error as Error).message}`);
    }
  }
}

/** MAIL 530, or RCPT 530 / 550-554: the server may relay once we authenticate. */
export function asksForAuth(error: unknown): boolean {
  if (!(error instanceof SmtpProtocolError)) return false;
  if (error.code === 'ESENDER') return error.reply?.code === 530;
  if (error.code !== 'ERECIPIENT') return false;
  return error.rejected.some(({ reply }) => reply.code === 530 || (reply.code >= 550 && reply.code <= 554));
}

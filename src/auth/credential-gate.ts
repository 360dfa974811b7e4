/**
 * Credentials refused once are not tried again (SPEC §4): mail servers, fail2ban
 * and Office 365 lock an account after a handful of failed logins, and a pool
 * that retried a wrong password on every connection would get there in a
 * second. After every mechanism was refused (535) on one connection, the
 * client, or every client of a pool (they share one gate), fails each queued
 * and later send with that same EAUTH error without connecting, until it is
 * given other credentials: `setCredentials`, or a new answer from
 * `promptCredentials` (asked once for all the sends waiting at that moment).
 */
import type { SmtpProtocolError } from '../errors.js';
import type { PasswordFunction, PromptedCredentials } from '../options.js';

/** Credentials given after construction (setCredentials, or a new prompt answer). */
export interface GivenCredentials {
  readonly user: string;
  readonly password: string | PasswordFunction;
  /** Where they came from, for messages: `setCredentials` or `promptCredentials`. */
  readonly source: string;
  readonly save: boolean;
}

export class CredentialGate {
  #refused: SmtpProtocolError | undefined;
  #given: GivenCredentials | undefined;
  /** Bumped whenever the credentials change: a refusal of older ones does not close the gate. */
  #generation = 0;
  #asking: Promise<void> | undefined;

  /** The credentials given last, which win over the options and authinfo. */
  get given(): GivenCredentials | undefined {
    return this.#given;
  }

  get generation(): number {
    return this.#generation;
  }

  /** The refusal that closed the gate, if it is closed. */
  get refusal(): SmtpProtocolError | undefined {
    return this.#refused;
  }

  /** Records that the credentials of `generation` were refused by every mechanism. */
  refuse(error: SmtpProtocolError, generation: number): void {
    if (generation === this.#generation) this.#refused = error;
  }

  /** New credentials: the gate opens. */
  set(credentials: GivenCredentials): void {
    this.#given = credentials;
    this.#generation++;
    this.#refused = undefined;
  }

  /**
   * Resolves when sending may go on; throws the refusal while the gate is
   * closed. With `ask` (promptCredentials), a closed gate asks it once for
   * every send waiting now; an answer opens the gate.
   */
  async pass(ask: (() => Promise<PromptedCredentials | undefined>) | undefined): Promise<void> {
    const refused = this.#refused;
    if (refused === undefined) return;
    if (ask === undefined) throw refused;
    this.#asking ??= ask()
      .then((answer) => {
        if (answer !== undefined)
          this.set({
            user: answer.user,
            password: answer.password,
            source: 'promptCredentials',
            save: answer.save === true,
          });
      })
      .finally(() => (this.#asking = undefined));
    await this.#asking;
    if (this.#refused !== undefined) throw this.#refused;
  }
}

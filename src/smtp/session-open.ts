/**
 * How a session begins, the same for a send and for a check (SPEC §3): the
 * EHLO name, then connect, greeting, EHLO (or HELO), and STARTTLS as
 * `streamType` says. AUTH and the commands before MAIL follow in the client;
 * a check records each step instead.
 */
import os from 'node:os';
import type { Capabilities } from '../wire/capabilities.js';
import * as commands from '../wire/commands.js';
import type { Deadline } from '../deadline.js';
import type { ConnectionOptions, Target } from '../options.js';
import type { Reply } from '../wire/reply.js';
import { SmtpSession } from './session.js';

/**
 * The EHLO/HELO argument (Emacs's smtpmail-fqdn): `clientName`, else this
 * host's name with smtpmail-local-domain appended when set; IP literals are
 * bracketed. Checked now, before any connection.
 */
export function ehloName(options: Pick<ConnectionOptions, 'clientName' | 'localDomain'>): string {
  const host = os.hostname();
  const local = options.localDomain;
  const name =
    options.clientName ?? commands.clientName(local === undefined || local === '' ? host : `${host}.${local}`);
  commands.ehlo(name);
  return name;
}

/** What a caller may watch as the session begins (a check records it). */
export interface OpeningSteps {
  connected?(session: SmtpSession): void;
  greeted?(reply: Reply): void;
  /** After EHLO, and again after STARTTLS's new EHLO (`secured` then true). */
  helloed?(capabilities: Capabilities, secured: boolean): void;
}

/**
 * Connects and readies a session up to AUTH. `deadline` fails the connection
 * when it passes (or the caller aborts); on any failure the session is ended
 * (QUIT when it still works) and the error thrown.
 */
export async function openSession(
  target: Target,
  name: string,
  trace: ConnectionOptions['onTrace'],
  deadline: Deadline | undefined,
  signal: AbortSignal | undefined,
  steps: OpeningSteps = {},
): Promise<SmtpSession> {
  const session = await SmtpSession.open(target, trace, signal);
  steps.connected?.(session);
  const unwatch = deadline === undefined ? undefined : session.connection.watch(deadline);
  try {
    // Each step runs whoever watches it (an optional call would skip evaluating its argument).
    const greeting = await session.greeting();
    steps.greeted?.(greeting);
    const capabilities = await session.hello(name);
    steps.helloed?.(capabilities, false);
    if (session.tls === undefined) {
      await session.secure(target.streamType, name, signal);
      if (session.tls !== undefined) steps.helloed?.(session.capabilities, true);
    }
    return session;
  } catch (error) {
    await session.quit();
    throw error;
  } finally {
    unwatch?.();
  }
}

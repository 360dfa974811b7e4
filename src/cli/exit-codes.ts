/**
 * sysexits.h codes for the `smtpmail` command, derived from what failed, so
 * that callers (Emacs, git send-email, cron, a retry loop) can tell "try
 * again later" (75) from "fix something" (64, 65, 67, 77, 78).
 */
import { asksForAuth } from '../auth/authorizer.js';
import { refusesForAuth } from '../client/diagnose.js';
import { SmtpProtocolError } from '../errors.js';

export const EXIT = {
  ok: 0,
  usage: 64, // EX_USAGE: bad command line
  dataErr: 65, // EX_DATAERR: the message itself is bad
  noInput: 66, // EX_NOINPUT: standard input cannot be read
  noUser: 67, // EX_NOUSER: no recipient, or one refused as unknown
  unavailable: 69, // EX_UNAVAILABLE: the server is unreachable or refused the mail
  software: 70, // EX_SOFTWARE: a bug of ours
  tempFail: 75, // EX_TEMPFAIL: try again later
  protocol: 76, // EX_PROTOCOL: the server broke the protocol, or delivery is unknown
  noPerm: 77, // EX_NOPERM: authentication, relaying without it, or TLS policy refused
  config: 78, // EX_CONFIG: configuration error
} as const;

/** Thrown for every usage error; the CLI exits 64 (EX_USAGE) with `smtpmail: ${message}`. */
export class CliUsageError extends Error {
  readonly exitCode = EXIT.usage;
  override readonly name = 'CliUsageError';
}

/** Standard input cannot be read (a directory, a read error): the CLI exits 66 (EX_NOINPUT) and sends nothing. */
export class CliInputError extends Error {
  readonly exitCode = EXIT.noInput;
  override readonly name = 'CliInputError';
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliUsageError || error instanceof CliInputError) return error.exitCode;
  if (!(error instanceof SmtpProtocolError)) return EXIT.software;
  // Delivery may have happened: a retry could send the message twice.
  if (error.code === 'EUNKNOWN_DELIVERY') return EXIT.protocol;
  const code = error.reply?.code;
  // A 4xx reply, a timeout, a busy queue: the same command may work later.
  if (error.code === 'ETIMEOUT' || (code !== undefined && code >= 400 && code < 500)) return EXIT.tempFail;
  if (error.code === 'EQUEUE' && error.transient) return EXIT.tempFail;
  // "Relay denied" / "authentication required" is a permission problem, not an unknown user (mutt shows 67 as "User
  // unknown").
  if ((error.code === 'ERECIPIENT' || error.code === 'ESENDER') && asksForAuth(error) && refusesForAuth(error))
    return EXIT.noPerm;
  switch (error.code) {
    case 'ECONFIG':
    case 'EQUEUE':
      return EXIT.config;
    case 'EINPUT':
      return error.message.startsWith('no recipients') ? EXIT.noUser : EXIT.dataErr;
    case 'ERECIPIENT':
      return EXIT.noUser;
    case 'EAUTH':
    case 'ETLS':
    case 'EPOLICY':
      return EXIT.noPerm;
    case 'EPROTOCOL':
    case 'ECOMMAND':
      return EXIT.protocol;
    default:
      // ECONNECTION (refused, unreachable, lost), EGREETING, ESENDER, EDATA, ESIZE, ESENDMAIL, EABORT.
      return EXIT.unavailable;
  }
}

/** The one line printed on stderr: `smtpmail: ` and the error's text (server text included), on one line. */
export function errorLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return `smtpmail: ${text.replace(/\s*[\r\n]+\s*/g, ' ')}`;
}

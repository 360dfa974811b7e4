/**
 * The hint for a failed send that only the client can explain, knowing the
 * session: a relay refusal before authenticating, greylisting, a size limit.
 * (Connection, TLS, greeting and authentication failures get theirs where
 * they happen.)
 */
import { asksForAuth } from '../auth/authorizer.js';
import { SmtpProtocolError, withHint } from '../errors.js';
import { bdatNotWorking, comeBackLater, needsAuthentication, sizeExceeded, type SearchedFile } from '../hints.js';
import { setting } from '../option-names.js';
import type { Reply } from '../wire/reply.js';
import { waitsForMinutes } from './retry.js';

export interface FailureContext {
  readonly host: string;
  /** The port as authinfo entries name it (a number, or a service name). */
  readonly service: string;
  readonly user: string | undefined;
  /** Whether the server offered AUTH on the session, and whether the client authenticated. */
  readonly offersAuth: boolean;
  readonly authenticated: boolean;
  readonly searched: readonly SearchedFile[];
  readonly sizeLimit: number | undefined;
}

export function explainFailure(error: unknown, context: FailureContext): unknown {
  // LMTP's answers after the message explain themselves (smtp/lmtp-replies.ts); the queue is not for LMTP.
  if (!(error instanceof SmtpProtocolError) || error.delivered !== undefined) return error;
  if (!context.authenticated && asksForAuth(error) && refusesForAuth(error)) {
    const hint = context.offersAuth
      ? needsAuthentication(context.host, context.service, context.user, context.searched)
      : `the server refuses to relay for an unauthenticated client and offers no AUTH on this connection: ` +
        `use the submission port: ${setting('port', 587)} with ${setting('streamType', 'starttls')} (servers often ` +
        `offer AUTH only there, after STARTTLS)`;
    return withHint(error, hint);
  }
  if (error.code === 'ESIZE') return withHint(error, sizeExceeded(context.sizeLimit));
  if (refusesBdat(error)) return withHint(error, bdatNotWorking());
  return error.reply !== undefined && waitsForMinutes(error.reply)
    ? withHint(error, comeBackLater(error.reply))
    : error;
}

/** 530, or a 550-554 whose text or enhanced code (5.7.x: policy) says relay or authentication, not "no such user". */
export function refusesForAuth(error: SmtpProtocolError): boolean {
  const replies: Reply[] =
    error.code === 'ERECIPIENT' ? error.rejected.map((r) => r.reply) : error.reply === undefined ? [] : [error.reply];
  return replies.some(
    (reply) =>
      reply.code === 530 ||
      reply.enhancedCode?.startsWith('5.7.') === true ||
      /relay|auth/i.test(reply.lines.join(' ')),
  );
}

/**
 * BDAT refused as a command (500 unrecognised, 501 syntax, 502 not implemented, 504 parameter not implemented) by a
 * server that offered CHUNKING: its CHUNKING does not work, and DATA may.
 */
export function refusesBdat(error: SmtpProtocolError): boolean {
  const code = error.reply?.code;
  // LMTP's replies for each recipient after BDAT LAST (`delivered` set) show BDAT working.
  if (error.delivered !== undefined) return false;
  return error.command?.startsWith('BDAT') === true && code !== undefined && code >= 500 && code <= 504 && code !== 503;
}

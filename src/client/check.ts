/**
 * `checkServer`: the settings tried against the real server, nothing sent
 * (SPEC §10; the contract is the doc comment on the function, where an
 * editor shows it).
 */
import { performance } from 'node:perf_hooks';
import { Authorizer } from '../auth/authorizer.js';
import type { Capabilities } from '../wire/capabilities.js';
import type { ClientOptions } from './client.js';
import * as commands from '../wire/commands.js';
import { SmtpProtocolError } from '../errors.js';
import { resolveTarget, type StreamType } from '../options.js';
import { replyText } from '../wire/reply.js';
import type { SmtpSession } from '../smtp/session.js';
import { ehloName, openSession } from '../smtp/session-open.js';
import type { TlsInfo } from '../net/transport.js';
import { validateOptions } from './validate-options.js';
import { expandServerUrl } from '../server-url.js';

export interface CheckOptions extends ClientOptions {
  /** Also try the usual alternatives: 587 with STARTTLS, 465 with implicit TLS, 25. */
  readonly tryAlternatives?: boolean | undefined;
  /** MAIL FROM (envelopeFrom, else `<>`) and RCPT TO this address, then RSET: nothing is sent. */
  readonly checkRecipient?: string | undefined;
}

export interface CapabilitySummary {
  readonly keywords: readonly string[];
  readonly size: number | undefined;
  readonly eightBitMime: boolean;
  readonly pipelining: boolean;
  readonly smtputf8: boolean;
  readonly chunking: boolean;
  readonly dsn: boolean;
  /** REQUIRETLS (RFC 8689): what `requireTls` needs (servers offer it after TLS). */
  readonly requireTls: boolean;
  readonly starttls: boolean;
  readonly auth: readonly string[];
}

export interface CheckAttempt {
  readonly server: string;
  readonly port: number;
  /** `null`: opportunistic STARTTLS (the default). */
  readonly streamType: StreamType | null;
  readonly ok: boolean;
  readonly connectMs: number | undefined;
  readonly remoteAddress: string | undefined;
  readonly greeting: string | undefined;
  readonly capabilities: CapabilitySummary | undefined;
  readonly tls: TlsInfo | undefined;
  readonly capabilitiesAfterTls: CapabilitySummary | undefined;
  /** Undefined when no credentials resolved (AUTH not tried). */
  readonly auth:
    | {
        readonly ok: boolean;
        readonly mechanism?: string;
        readonly user?: string;
        readonly source?: string;
        readonly error?: string;
      }
    | undefined;
  readonly recipient: { readonly address: string; readonly ok: boolean; readonly reply: string } | undefined;
  readonly error: { readonly code: string; readonly message: string; readonly hint: string | undefined } | undefined;
}

export interface CheckReport {
  readonly attempts: readonly CheckAttempt[];
  /** True when the settings as given work. */
  readonly ok: boolean;
  readonly verdict: string;
  /**
   * The first settings that worked, as options and as command-line flags (LMTP and unix sockets, which the command
   * does not do: as options, `lmtp, path /run/dovecot/lmtp`); for a unix socket, `server` is its path and `port` 0.
   */
  readonly working:
    | { readonly server: string; readonly port: number; readonly streamType: StreamType | null; readonly flags: string }
    | undefined;
}

/** Shorter than sending's RFC timeouts: a check should answer within seconds. */
const CHECK_TIMEOUTS = { connect: 10_000, greeting: 15_000, command: 30_000, dataBlock: 30_000, dataEnd: 30_000 };

const ALTERNATIVES: readonly { port: number; streamType: StreamType | undefined }[] = [
  { port: 587, streamType: 'starttls' },
  { port: 465, streamType: 'ssl' },
  { port: 25, streamType: undefined },
];

/**
 * Tries the settings against the real server without sending mail. Per attempt: connect time, greeting, EHLO
 * capabilities before and after STARTTLS, TLS version and certificate, whether AUTH succeeds with the credentials that
 * resolve, and with `checkRecipient` MAIL and RCPT for that address followed by RSET; then QUIT. With
 * `tryAlternatives`, also 587 with STARTTLS, 465 with implicit TLS and 25. Resolves with every attempt, a verdict and
 * the first settings that work (as options and as command-line flags); a failure is reported, not thrown.
 * Credentials never appear in the report.
 *
 * @param options The settings to try, as for `sendMail`. Optional: the server defaults to the SMTPSERVER environment
 *   variable.
 * @throws {SmtpProtocolError} `ECONFIG` for an invalid option or no server, before connecting.
 */
export async function checkServer(original: CheckOptions = {}): Promise<CheckReport> {
  const options = expandServerUrl(original);
  validateOptions(options);
  const given = resolveTarget({ ...options, timeouts: { ...CHECK_TIMEOUTS, ...options.timeouts } });
  if ((given.lmtp || given.path !== undefined) && options.tryAlternatives === true) {
    throw new SmtpProtocolError(
      'ECONFIG',
      'tryAlternatives tries SMTP ports and settings: it does not go with lmtp or path',
    );
  }
  // A unix socket has no port to try.
  const plans = [{ port: given.path === undefined ? given.port : undefined, streamType: options.streamType }];
  if (options.tryAlternatives === true) {
    for (const alternative of ALTERNATIVES) {
      if (!plans.some((p) => p.port === alternative.port && p.streamType === alternative.streamType))
        plans.push(alternative);
    }
  }
  const attempts: CheckAttempt[] = [];
  for (const plan of plans) attempts.push(await attempt({ ...options, port: plan.port, streamType: plan.streamType }));
  const first = attempts[0] as CheckAttempt;
  const working = attempts.find((a) => a.ok);
  const settings =
    working === undefined
      ? undefined
      : {
          server: working.server,
          port: working.port,
          streamType: working.streamType,
          flags:
            given.lmtp || given.path !== undefined ? asOptions(given.lmtp, given.path, working) : flagsFor(working),
        };
  let verdict: string;
  if (first.ok) verdict = `the settings work: ${settings?.flags ?? ''}`;
  else if (settings !== undefined)
    verdict = `the settings given fail (${first.error?.message ?? 'see above'}); these work: ${settings.flags}`;
  else verdict = `no setting worked: ${first.error?.hint ?? first.error?.message ?? 'see above'}`;
  return { attempts, ok: first.ok, verdict, working: settings };
}

async function attempt(options: CheckOptions): Promise<CheckAttempt> {
  const target = resolveTarget({ ...options, timeouts: { ...CHECK_TIMEOUTS, ...options.timeouts } });
  const name = ehloName(options);
  const record: { -readonly [K in keyof CheckAttempt]: CheckAttempt[K] } = {
    server: target.host,
    port: target.port,
    streamType: options.streamType ?? null,
    ok: false,
    connectMs: undefined,
    remoteAddress: undefined,
    greeting: undefined,
    capabilities: undefined,
    tls: undefined,
    capabilitiesAfterTls: undefined,
    auth: undefined,
    recipient: undefined,
    error: undefined,
  };
  const started = performance.now();
  let session: SmtpSession | undefined;
  try {
    session = await openSession(target, name, options.onTrace, undefined, options.signal, {
      connected: (opened) => {
        record.connectMs = Math.round(performance.now() - started);
        record.remoteAddress = opened.connection.remoteAddress;
        record.tls = opened.tls;
      },
      greeted: (reply) => (record.greeting = replyText(reply)),
      helloed: (capabilities, secured) => {
        if (secured) record.capabilitiesAfterTls = summarize(capabilities);
        else record.capabilities = summarize(capabilities);
      },
    });
    if (session.tls !== undefined) record.tls = session.tls;
    const authorizer = new Authorizer(options, target);
    try {
      await authorizer.start(session);
      if (authorizer.mechanism !== undefined)
        record.auth = { ok: true, mechanism: authorizer.mechanism, ...authorizer.login };
    } catch (error) {
      record.auth = { ok: false, error: (error as Error).message };
    }
    if (options.checkRecipient !== undefined && record.auth?.ok !== false)
      record.recipient = await tryRecipient(session, options);
    record.ok = record.auth?.ok !== false && record.recipient?.ok !== false;
    await session.quit();
  } catch (error) {
    const failure =
      error instanceof SmtpProtocolError
        ? error
        : new SmtpProtocolError('ECONNECTION', (error as Error).message, { cause: error });
    record.error = { code: failure.code, message: failure.detail, hint: failure.hint };
    session?.connection.close();
  }
  return record;
}

async function tryRecipient(
  session: SmtpSession,
  options: CheckOptions,
): Promise<NonNullable<CheckAttempt['recipient']>> {
  const address = options.checkRecipient as string;
  try {
    await session.mail(commands.mailFrom(options.envelopeFrom ?? '', {}));
  } catch (error) {
    if (error instanceof SmtpProtocolError && error.reply !== undefined)
      return { address, ok: false, reply: `MAIL: ${replyText(error.reply)}` };
    throw error;
  }
  const rcpt = await session.rcpt(commands.rcptTo(address));
  await session.rset();
  return { address, ok: rcpt.code === 250 || rcpt.code === 251, reply: replyText(rcpt) };
}

function summarize(caps: Capabilities): CapabilitySummary {
  return {
    keywords: caps.keywords,
    size: caps.sizeLimit,
    eightBitMime: caps.has('8BITMIME'),
    pipelining: caps.has('PIPELINING'),
    smtputf8: caps.has('SMTPUTF8'),
    chunking: caps.has('CHUNKING'),
    dsn: caps.has('DSN'),
    requireTls: caps.has('REQUIRETLS'),
    starttls: caps.has('STARTTLS'),
    auth: caps.authMechanisms,
  };
}

/** LMTP or a unix socket, as options: the command does neither, so it has no flags for them. */
function asOptions(lmtp: boolean, path: string | undefined, attempt: CheckAttempt): string {
  const where = path === undefined ? `server ${attempt.server}, port ${attempt.port}` : `path ${path}`;
  return lmtp ? `lmtp, ${where}` : where;
}

function flagsFor(attempt: CheckAttempt): string {
  const type = attempt.streamType === null ? '' : ` --stream-type ${attempt.streamType}`;
  return `--server ${attempt.server} --port ${attempt.port}${type}`;
}

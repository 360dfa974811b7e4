/**
 * A TypeScript user of the published package, never run: test/package.test.ts type-checks it (`tsc --noEmit`,
 * moduleResolution nodenext, strict) against the packed tarball, which pins the public types. It imports every name
 * the package entry exports and uses each as README documents it; each `@ts-expect-error` line is something that must
 * not type-check (tsc fails if such a line compiles). Excluded from the main build (tsconfig.json).
 */
import { PassThrough, type Duplex } from 'node:stream';
import {
  Capabilities,
  checkServer,
  createPool,
  DEFAULT_TIMEOUTS,
  ERROR_CODES,
  formatTrace,
  listQueuedMail,
  replyText,
  sendMail,
  sendQueuedMail,
  SmtpClient,
  SmtpProtocolError,
  type AuthMechanism,
  type AuthOptions,
  type CapabilitySummary,
  type CertificateSummary,
  type CheckAttempt,
  type CheckOptions,
  type CheckReport,
  type ClientOptions,
  type ConnectionOptions,
  type ConnectTo,
  type CredentialRequest,
  type DsnOptions,
  type DkimOptions,
  type Envelope,
  type FlushOptions,
  type MessageInput,
  type MessageOptions,
  type NewCredentials,
  type PasswordContext,
  type PasswordFunction,
  type PoolOptions,
  type Prepared,
  type PrepareOptions,
  type PromptedCredentials,
  type QueueEntry,
  type QueuedMail,
  type QueueMailOptions,
  type QueueOnFailureOptions,
  type QueueOptions,
  type QueueReport,
  type RateLimit,
  type QueuedMessageReport,
  type RefusedRecipient,
  type Reply,
  type RetryOptions,
  type SendOptions,
  type SendResult,
  type SendProgressReport,
  type SmtpErrorCode,
  type SmtpPool,
  type StoredRouting,
  type StreamType,
  type Timeouts,
  type TlsInfo,
  type TlsOptions,
  type TraceDirection,
  type TraceEvent,
  type TraceListener,
  type TraceKind,
  type TraceMessage,
  type TraceNote,
} from 'smtpmail';
import { generateKeyPairSync } from 'node:crypto';

/** True when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Compiles only when its argument is `true`. */
function expect<T extends true>(): T | undefined {
  return undefined;
}

declare const message: string;
declare const flag: boolean;

export async function sending(): Promise<void> {
  // No options: the server comes from SMTPSERVER.
  const sent = await sendMail(message);
  expect<Equal<typeof sent, SendResult>>();
  const envelope: Envelope = sent.envelope;
  const reply: Reply = sent.reply;
  const tls: TlsInfo | undefined = sent.tls;
  const rejected: readonly RefusedRecipient[] = sent.rejected;
  void [envelope, reply, tls, rejected, replyText(reply)];

  const queued = await sendMail(message, { queueMail: true, storeQueueVariables: true });
  expect<Equal<typeof queued, QueuedMail>>();
  const queueing: QueueMailOptions = { queueMail: true };
  void queueing;

  const maybeQueued = await sendMail(message, { server: 'mail.example.org', queueOnTransientFailure: true });
  expect<Equal<typeof maybeQueued, SendResult | QueuedMail>>();
  const onFailure: QueueOnFailureOptions = { queueOnTransientFailure: true };
  void onFailure;

  // queueMail as a boolean variable: either result.
  const either = await sendMail(message, { server: 'mail.example.org', queueMail: flag });
  expect<Equal<typeof either, SendResult | QueuedMail>>();
  if ('queued' in either) void either.path;
  else void either.reply.lines;
  const chosen: SendOptions | QueueMailOptions = flag ? { queueMail: true } : { server: 'mail.example.org' };
  const alsoEither = await sendMail(message, chosen);
  expect<Equal<typeof alsoEither, SendResult | QueuedMail>>();

  const options: SendOptions = {
    server: 'mail.example.org',
    port: 'submission',
    streamType: 'starttls',
    user: 'alice',
    password: async () => 'secret',
    authMechanisms: ['CRAM-MD5', 'PLAIN', 'login', 'xoauth2'],
    authMechanism: 'XOAUTH2',
    tls: { minVersion: 'TLSv1.3' },
    timeouts: { total: 60_000 },
    retries: 3,
    signal: AbortSignal.timeout(1000),
    onTrace: (event) => console.log(formatTrace(event)),
    promptCredentials: async (request: CredentialRequest): Promise<PromptedCredentials> => ({
      user: request.user ?? 'alice',
      password: 'secret',
    }),
  };
  await sendMail(Buffer.from(message), options);

  const dsn: DsnOptions = { ret: 'HDRS', envid: 'invoice 2291', notify: ['SUCCESS', 'FAILURE'], orcpt: 'b@y.org' };
  const requested = await sendMail(message, { dsn, requireTls: true });
  expect<Equal<typeof requested.dsn, 'sent' | 'not offered' | undefined>>();
  const never: DsnOptions = { notify: 'NEVER' };
  const neverList: DsnOptions = { notify: ['NEVER'] };
  void [never, neverList];
  // @ts-expect-error NEVER cannot be combined with other events (RFC 3461 §4.1)
  const combined: DsnOptions = { notify: ['NEVER', 'SUCCESS'] };
  // @ts-expect-error RET is FULL or HDRS
  const wrongRet: DsnOptions = { ret: 'NONE' };
  void [combined, wrongRet];

  // @ts-expect-error an unknown SASL mechanism
  await sendMail(message, { authMechanisms: ['GSSAPI'] });
  // @ts-expect-error an unknown SASL mechanism, forced
  await sendMail(message, { authMechanism: 'NTLM' });
  // @ts-expect-error a misspelt stream type
  await sendMail(message, { streamType: 'startls' });
  // @ts-expect-error queueMail must be a boolean
  await sendMail(message, { queueMail: 'yes' });
  // @ts-expect-error promptCredentials must answer a password too
  await sendMail(message, { promptCredentials: async () => ({ user: 'alice' }) });
  // @ts-expect-error an option of another library
  await sendMail(message, { host: 'mail.example.org' });

  // DKIM: a PEM string or a KeyObject; one signature or several; the algorithm from the key, or given.
  const rsaKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const signer: DkimOptions = { domainName: 'example.org', keySelector: 'rsa', privateKey: rsaKey };
  await sendMail(message, { dkim: signer });
  await sendMail(message, {
    dkim: [
      { ...signer, algorithm: 'rsa-sha256', canonicalization: 'simple/relaxed', skipFields: ['Reply-To'] },
      {
        domainName: 'example.org',
        keySelector: 'ed',
        privateKey: '-----BEGIN PRIVATE KEY-----\n...',
        headerFieldNames: ['From'],
      },
    ],
  });
  // @ts-expect-error not an algorithm DKIM has
  await sendMail(message, { dkim: { ...signer, algorithm: 'rsa-sha1' } });
  // @ts-expect-error canonicalization names the header's and the body's
  await sendMail(message, { dkim: { ...signer, canonicalization: 'relaxed' } });
  // @ts-expect-error a key is a PEM string or a KeyObject
  await sendMail(message, { dkim: { ...signer, privateKey: Buffer.from('') } });
  // @ts-expect-error the selector is keySelector
  await sendMail(message, { dkim: { domainName: 'example.org', selector: 'rsa', privateKey: rsaKey } });
}

export async function clients(prepared: Prepared): Promise<void> {
  const client = await SmtpClient.connect();
  const again = await SmtpClient.connect({ server: 'mail.example.org', port: 465, streamType: 'ssl' });
  const perMessage: MessageOptions = {
    partial: true,
    envelopeFrom: 'alice@example.org',
    dsn: { notify: ['FAILURE'] },
    requireTls: true,
    dkim: undefined,
  };
  const result: SendResult = await client.send(message, perMessage);
  await client.send(prepared);
  expect<Equal<Parameters<SmtpClient['send']>[0], MessageInput | Prepared>>();
  const credentials: NewCredentials = { user: 'alice', password: 'secret' };
  client.setCredentials(credentials);
  const refreshing: PasswordFunction = async ({ attempt, previousError }: PasswordContext) =>
    attempt === 1 ? 'cached-token' : `refreshed-after-${previousError?.code ?? 'none'}`;
  client.setCredentials({ user: 'alice', password: refreshing });
  client.setCredentials({ user: 'alice', password: () => 'from-a-keychain' });
  // @ts-expect-error the context's attempt is a number
  client.setCredentials({ user: 'alice', password: ({ attempt }: { attempt: string }) => attempt });
  // @ts-expect-error setCredentials needs a password
  client.setCredentials({ user: 'alice' });
  await client.quit();
  void [result, again];

  const pool: SmtpPool = createPool();
  const rate: RateLimit = { messages: 10, perMs: 60_000 };
  const dial = async (to: ConnectTo): Promise<Duplex> => {
    void [to.host, to.port, to.signal.aborted];
    return new PassThrough();
  };
  void createPool({ connect: dial, proxy: 'socks5h://proxy.example.org', family: 6, localAddress: '::1' });
  // @ts-expect-error family is 4 or 6
  void createPool({ family: 5 });
  const limits: PoolOptions = { server: 'mail.example.org', maxConnections: 4, idleTimeout: 30_000, rateLimit: rate };
  // @ts-expect-error a rate limit needs perMs
  void createPool({ rateLimit: { messages: 10 } });
  const other = createPool(limits);
  await Promise.all([pool.send(message), other.send(message, { partial: true })]);
  await pool.close();
  await other.close();
}

export async function queue(): Promise<void> {
  const where: QueueOptions = { queueDir: '/tmp/queue' };
  const entries: QueueEntry[] = await listQueuedMail(where);
  const flush: FlushOptions = {
    ...where,
    continueOnError: true,
    queuedOptions: (stored: StoredRouting) => (stored.server === undefined ? undefined : { user: 'alice' }),
    onMessage: (told: QueuedMessageReport) => void [told.index, told.total, told.path, told.result?.messageId],
  };
  // @ts-expect-error a status is sent, failed or skipped
  const wrongStatus: QueuedMessageReport['status'] = 'dropped';
  void wrongStatus;
  const report: QueueReport = await sendQueuedMail(flush);
  const again: QueueReport = await sendQueuedMail();
  for (const { path, result } of report.sent) void [path, result.reply];
  for (const { error } of report.failed) void error.code;
  void [entries, again, (await listQueuedMail())[0]?.problem];
}

export async function checks(): Promise<void> {
  const report: CheckReport = await checkServer();
  const options: CheckOptions = {
    server: 'mail.example.org',
    tryAlternatives: true,
    checkRecipient: 'bob@example.net',
  };
  const tried: CheckReport = await checkServer(options);
  const first: CheckAttempt | undefined = tried.attempts[0];
  const summary: CapabilitySummary | undefined = first?.capabilitiesAfterTls;
  const certificate: CertificateSummary | undefined = undefined;
  void [report.verdict, tried.working?.flags, summary?.auth, certificate];
}

export function errors(error: unknown): string | undefined {
  if (!(error instanceof SmtpProtocolError)) return undefined;
  const code: SmtpErrorCode = error.code;
  expect<Equal<SmtpErrorCode, (typeof ERROR_CODES)[number]>>();
  // @ts-expect-error not an error code
  const wrong: SmtpErrorCode = 'ENOPE';
  void wrong;
  switch (code) {
    case 'EAUTH':
      return error.hint;
    case 'ERECIPIENT':
      return error.rejected.map((refused) => refused.recipient).join(', ');
    default:
      return error.transient ? 'later' : error.message;
  }
}

export function settings(): void {
  const mechanism: AuthMechanism = 'PLAIN';
  const lower: AuthMechanism = 'cram-md5';
  const scram: AuthMechanism[] = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'scram-sha-1', 'OAUTHBEARER'];
  // @ts-expect-error SCRAM-SHA-1-PLUS is not implemented
  const sha1Plus: AuthMechanism = 'SCRAM-SHA-1-PLUS';
  // @ts-expect-error not a mechanism this library speaks
  const unknown: AuthMechanism = 'GSSAPI';
  const stream: StreamType = 'tls';
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, connect: 5000 };
  // @ts-expect-error Timeouts needs every field
  const partial: Timeouts = { connect: 5000 };
  const tls: TlsOptions = { servername: 'mail.example.org', rejectUnauthorized: true };
  const connection: ConnectionOptions = { server: 'mail.example.org', streamType: stream, tls, timeouts };
  const auth: AuthOptions = { authMechanisms: [...scram, mechanism, lower], allowInsecureAuth: false };
  const retry: RetryOptions = { retries: 2, retryDelay: 500 };
  const prepare: PrepareOptions = { sendtoDomain: 'example.org', addMissingHeaders: false };
  const client: ClientOptions = { ...connection, ...auth, ...retry, ...prepare, chunking: false };
  const direction: TraceDirection = 'server';
  const kind: TraceKind = 'retry';
  const note: TraceNote = { direction, line: '250 OK', kind, fields: { attempt: 1 } };
  const about: TraceMessage = { index: 1, id: '<x@example.org>' };
  const event: TraceEvent = { ...note, time: Date.now(), connection: 1, message: about };
  // @ts-expect-error an event has a time and a connection
  const incomplete: TraceEvent = { direction, line: '250 OK' };
  void incomplete;
  const progress = (report: SendProgressReport): number => report.bytes + (report.total ?? 0);
  void client.onProgress;
  void progress;
  const listener: TraceListener = (seen) => void formatTrace(seen);
  listener(event);
  const capabilities = Capabilities.fromEhlo({
    code: 250,
    enhancedCode: undefined,
    lines: ['example.org', 'PIPELINING'],
  });
  const offered: readonly string[] = capabilities.authMechanisms;
  const input: MessageInput = Buffer.from('Subject: hi\r\n\r\nhello\r\n');
  void [unknown, sha1Plus, partial, client, offered, input];
}

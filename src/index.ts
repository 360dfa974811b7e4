/** smtpmail: an SMTP client for Node.js, a port of GNU Emacs's smtpmail. Re-exports only. */
export { sendMail, type SendOptions, type QueueMailOptions, type QueueOnFailureOptions } from './send.js';
export {
  sendQueuedMail,
  type QueueReport,
  type QueuedMessageReport,
  type FlushOptions,
  type StoredRouting,
} from './queue/flush.js';
export type { QueuedMail } from './queue/write.js';
export { listQueuedMail, type QueueEntry } from './queue/list.js';
export type { QueueOptions } from './queue/store.js';
export {
  SmtpClient,
  type ClientOptions,
  type MessageOptions,
  type NewCredentials,
  type SendResult,
  type SendProgressReport,
} from './client/client.js';
export {
  checkServer,
  type CheckOptions,
  type CheckReport,
  type CheckAttempt,
  type CapabilitySummary,
} from './client/check.js';
export { createPool, type PoolOptions, type SmtpPool } from './client/pool.js';
export type { RateLimit } from './client/rate-limit.js';
export type { MessageInput, PrepareOptions, Prepared } from './message/prepare.js';
export { SmtpProtocolError, ERROR_CODES, type SmtpErrorCode, type RefusedRecipient } from './errors.js';
export {
  DEFAULT_TIMEOUTS,
  type AuthMechanism,
  type AuthOptions,
  type ConnectionOptions,
  type ConnectTo,
  type CredentialRequest,
  type PasswordContext,
  type PasswordFunction,
  type PromptedCredentials,
  type StreamType,
  type Timeouts,
  type TlsOptions,
} from './options.js';
export type { RetryOptions } from './client/retry.js';
export { replyText, type Reply } from './wire/reply.js';
export { Capabilities } from './wire/capabilities.js';
export {
  formatTrace,
  type TraceEvent,
  type TraceListener,
  type TraceDirection,
  type TraceKind,
  type TraceMessage,
  type TraceNote,
} from './wire/trace.js';
export type { TlsInfo } from './net/transport.js';
export type { CertificateSummary } from './hints.js';
export type { Envelope } from './message/prepare.js';
export type { DsnOptions } from './wire/dsn.js';
export type { DkimOptions } from './message/dkim-options.js';

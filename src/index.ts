/** smtpmail: an SMTP client for Node.js, a port of GNU Emacs's smtpmail. Re-exports only. */
export { sendMail, type MessageInput, type SendResult } from './send.js';
export { SmtpProtocolError, ERROR_CODES, type SmtpErrorCode, type RefusedRecipient } from './errors.js';
export { DEFAULT_TIMEOUTS, type SendOptions, type ConnectionOptions, type EnvelopeOptions, type StreamType, type Timeouts } from './options.js';
export { replyText, type Reply } from './reply.js';
export { Capabilities } from './capabilities.js';
export { formatTrace, type TraceEvent, type TraceListener, type TraceDirection } from './trace.js';
export type { TlsOptions, TlsInfo } from './transport.js';
export type { Envelope } from './transaction.js';

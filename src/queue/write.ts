/**
 * smtpmail-queue-mail: a prepared message goes to the queue directory in
 * Emacs's layout (data file with LF line ends, `.el` with the recipients and
 * perhaps the server settings, a line in the index), crash-safely: each file
 * is written under a temporary name, synced and renamed, the directory
 * synced, and only then is the index line appended. A crash at any point
 * leaves at most unlisted files, never a listed partial message.
 */
import path from 'node:path';
import { syncDirectory, writeAtomic } from '../durable.js';
import { routeByMethod, type Routing } from '../message/smtp-method.js';
import type { Envelope, MessageBody, Prepared } from '../message/prepare.js';
import { formatQueueEl, type QueuedSettings } from './el-file.js';
import {
  appendIndexLine,
  checkQueueDirectory,
  cleanTemporaryFiles,
  indexPath,
  queueDirectory,
  queueFileName,
  type QueueOptions,
} from './store.js';
import type { SmtpProtocolError } from '../errors.js';

/** What `sendMail(message, { queueMail: true })` resolves with. */
export interface QueuedMail {
  /** Always true: tells a queued message from a sent one (SendResult) where either may come back. */
  readonly queued: true;
  /** The data file's absolute path (its settings are in `${path}.el`). */
  readonly path: string;
  readonly envelope: Envelope;
  /** With `queueOnTransientFailure`: the failure that sent the message to the queue instead. */
  readonly error?: SmtpProtocolError | undefined;
}

export async function queueMessage(prepared: Prepared, options: QueueOptions & Routing): Promise<QueuedMail> {
  const directory = queueDirectory(options);
  await checkQueueDirectory(directory, true);
  await cleanTemporaryFiles(directory);
  const dataPath = path.join(directory, queueFileName(new Date(), options.portableNames === true));
  // A message with its own server (X-Message-SMTP-Method) keeps it, or the flush would send it elsewhere.
  const stored = options.storeQueueVariables === true || prepared.method?.kind === 'smtp';
  const settings = storedSettings(prepared.envelope.to, routeByMethod(prepared.method, options));
  await writeAtomic(dataPath, unixLines(prepared.head, prepared.body));
  await writeAtomic(`${dataPath}.el`, formatQueueEl(settings, stored));
  await syncDirectory(directory);
  await appendIndexLine(indexPath(options), dataPath);
  return { queued: true, path: dataPath, envelope: prepared.envelope };
}

function storedSettings(recipients: readonly string[], options: Routing): QueuedSettings {
  const service = options.port;
  return {
    recipients,
    server: options.server ?? process.env['SMTPSERVER'],
    streamType: options.streamType,
    service: typeof service === 'string' && /^\d+$/.test(service) ? Number(service) : service,
    user: options.user,
  };
}

const CR = 0x0d;
const LF = 0x0a;

/**
 * The message as Emacs stores it: CRLF line ends become LF (a lone CR stays),
 * and the message ends with a line end. A CR at the end of a chunk is held
 * until the next chunk shows whether an LF follows.
 */
export async function* unixLines(head: Buffer, body: MessageBody): AsyncGenerator<Buffer> {
  let heldCR = false;
  let last = -1;
  const convert = (chunk: Buffer): Buffer => {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    if (heldCR && chunk[0] !== LF) parts.push(Buffer.from([CR]));
    for (let at = chunk.indexOf(CR); at !== -1; at = chunk.indexOf(CR, at + 1)) {
      if (at === chunk.length - 1) break;
      if (chunk[at + 1] === LF) {
        parts.push(chunk.subarray(start, at));
        start = at + 1;
      }
    }
    heldCR = chunk[chunk.length - 1] === CR;
    parts.push(chunk.subarray(start, heldCR ? chunk.length - 1 : chunk.length));
    last = chunk[chunk.length - 1] as number;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };
  yield convert(head);
  if (Buffer.isBuffer(body)) {
    yield convert(body);
  } else {
    for await (const chunk of body) yield convert(chunk);
  }
  if (heldCR) yield Buffer.from([CR]);
  if (last !== LF && last !== -1) yield Buffer.from([LF]);
}

/**
 * smtpmail-send-queued-mail: sends the queue in index order, one message at a
 * time, under a lock so that two flushes never send a message twice. After
 * each success the index is rewritten at once (atomically) and then the
 * message's files are removed, so an interrupted flush leaves the index
 * listing exactly what was not sent. A failure stops the flush (unless
 * `continueOnError`), keeping that message and the ones after it queued.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SendResult } from './client.js';
import { syncDirectory } from './durable.js';
import { SmtpProtocolError } from './errors.js';
import { looksLikeAddress } from './addresses.js';
import { prepareMessage } from './prepare.js';
import { parseQueueEl, type QueuedSettings } from './queue-el.js';
import { checkQueueDirectory, indexPath, queueDirectory, readIndex, removeIndexLine, withLock } from './queue-store.js';
import { deliverPrepared, type SendOptions } from './send.js';
import { validateOptions } from './validate-options.js';

export interface QueueReport {
  /** Sent and removed from the queue, in order. */
  readonly sent: readonly { readonly path: string; readonly result: SendResult }[];
  /** Failed and left in the queue, with why. */
  readonly failed: readonly { readonly path: string; readonly error: SmtpProtocolError }[];
  /** Still listed in the index after this flush (the failed ones included). */
  readonly queued: readonly string[];
  /** Index lines whose data file was missing (an interrupted flush elsewhere): dropped from the index. */
  readonly dropped: readonly { readonly path: string; readonly reason: string }[];
}

interface MutableReport {
  sent: { path: string; result: SendResult }[];
  failed: { path: string; error: SmtpProtocolError }[];
  queued: string[];
  dropped: { path: string; reason: string }[];
}

/** Waiting for another flush is pointless: it is sending these very messages. */
const FLUSH_LOCK_WAIT_MS = 0;

export async function sendQueuedMail(options: SendOptions): Promise<QueueReport> {
  validateOptions(options);
  const report: MutableReport = { sent: [], failed: [], queued: [], dropped: [] };
  const directory = queueDirectory(options);
  if (!(await checkQueueDirectory(directory, false))) return report;
  const index = indexPath(options);
  await withLock(path.join(directory, 'flush.lock'), FLUSH_LOCK_WAIT_MS, async () => {
    let stopped = false;
    for (const line of await readIndex(index)) {
      const dataPath = path.resolve(directory, line);
      if (stopped) {
        report.queued.push(dataPath);
        continue;
      }
      if (!(await exists(dataPath))) {
        await removeIndexLine(index, line);
        report.dropped.push({ path: dataPath, reason: 'the data file does not exist (left by an interrupted flush?)' });
        continue;
      }
      let result: SendResult;
      try {
        result = await sendOne(dataPath, options);
      } catch (error) {
        report.failed.push({ path: dataPath, error: asSmtpError(error) });
        report.queued.push(dataPath);
        stopped = options.continueOnError !== true;
        continue;
      }
      await removeIndexLine(index, line);
      await fs.rm(dataPath, { force: true });
      await fs.rm(`${dataPath}.el`, { force: true });
      await syncDirectory(directory);
      report.sent.push({ path: dataPath, result });
    }
  });
  return report;
}

async function sendOne(dataPath: string, options: SendOptions): Promise<SendResult> {
  const elPath = `${dataPath}.el`;
  let text;
  try {
    text = await fs.readFile(elPath, 'utf8');
  } catch (error) {
    throw new SmtpProtocolError('EQUEUE', `Cannot read ${elPath}: ${(error as Error).message}`, { cause: error });
  }
  const settings = parseQueueEl(text, elPath);
  if (settings.recipients.length === 0) throw new SmtpProtocolError('EQUEUE', `${elPath}: no recipients; the message stays queued`);
  const message = await fs.readFile(dataPath);
  const flushOptions = withStoredSettings(options, settings);
  // Already prepared when queued: nothing is added now; the envelope sender is the configured one (as in Emacs), else From:.
  const prepared = await prepareMessage(message, { ...flushOptions, addMissingHeaders: false });
  return deliverPrepared(prepared, flushOptions);
}

/** Stored settings win over the options; a password meant for another server is not sent. */
function withStoredSettings(options: SendOptions, settings: QueuedSettings): SendOptions {
  const userAddress = options.userMailAddress;
  const configuredSender = options.envelopeFrom ?? (userAddress !== undefined && looksLikeAddress(userAddress) ? userAddress : undefined);
  const server = settings.server ?? options.server;
  return {
    ...options,
    queueMail: false,
    recipients: settings.recipients,
    envelopeFrom: configuredSender,
    server,
    port: settings.service ?? options.port,
    streamType: settings.streamType === undefined || settings.streamType === 'network' ? options.streamType : settings.streamType,
    user: settings.user ?? options.user,
    password: server === options.server ? options.password : undefined,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

function asSmtpError(error: unknown): SmtpProtocolError {
  if (error instanceof SmtpProtocolError) return error;
  return new SmtpProtocolError('EQUEUE', (error as Error).message, { cause: error });
}

/**
 * `sendQueuedMail`: smtpmail-send-queued-mail (the contract is the doc
 * comment on the function, where an editor shows it).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SmtpClient, type SendResult } from '../client/client.js';
import { syncDirectory } from '../durable.js';
import { SmtpProtocolError } from '../errors.js';
import { passwordFor, routeByMethod } from '../message/smtp-method.js';
import type { StreamType } from '../options.js';
import { configuredSender, prepareMessage, type Prepared } from '../message/prepare.js';
import { parseQueueEl, type QueuedSettings } from './el-file.js';
import {
  checkQueueDirectory,
  cleanTemporaryFiles,
  type QueueOptions,
  indexPath,
  queueDirectory,
  readIndex,
  removeIndexLine,
  withLock,
} from './store.js';
import { deliverPrepared, type DeliverOptions } from '../client/deliver.js';
import { refuseLmtp, validateOptions } from '../client/validate-options.js';
import { expandServerUrl } from '../server-url.js';

export interface QueueReport {
  /**
   * Sent, in order, and removed from the queue, unless `stillListed` says why
   * it could not be (then a later flush may send it again).
   */
  readonly sent: readonly { readonly path: string; readonly result: SendResult; readonly stillListed?: string }[];
  /** Failed and left in the queue, with why. */
  readonly failed: readonly { readonly path: string; readonly error: SmtpProtocolError }[];
  /** Still listed in the index after this flush (the failed ones included). */
  readonly queued: readonly string[];
  /** Index lines whose data file was missing (an interrupted flush elsewhere): dropped from the index. */
  readonly dropped: readonly { readonly path: string; readonly reason: string }[];
}

/** One queued message as sendQueuedMail finishes with it (`onMessage`). */
export interface QueuedMessageReport {
  /** The message's data file. */
  readonly path: string;
  /**
   * `sent` (and removed from the queue unless `stillListed` says why not), `failed` (left in the queue), `skipped`:
   * not tried (an earlier failure stopped the flush; it stays queued) or dropped (its data file was missing).
   */
  readonly status: 'sent' | 'failed' | 'skipped';
  /** Its place in this flush (1-based) and the number of index lines the flush found. */
  readonly index: number;
  readonly total: number;
  readonly result?: SendResult | undefined;
  readonly stillListed?: string | undefined;
  readonly error?: SmtpProtocolError | undefined;
  /** Why a message was skipped. */
  readonly reason?: string | undefined;
}

interface MutableReport {
  sent: { path: string; result: SendResult; stillListed?: string }[];
  failed: { path: string; error: SmtpProtocolError }[];
  queued: string[];
  dropped: { path: string; reason: string }[];
}

/** Waiting for another flush is pointless: it is sending these very messages. */
const FLUSH_LOCK_WAIT_MS = 0;

/** The settings a queued message was stored with (smtpmail-store-queue-variables), as options. */
export interface StoredRouting {
  readonly server?: string | undefined;
  readonly port?: number | string | undefined;
  readonly streamType?: StreamType | undefined;
  readonly user?: string | undefined;
}

export interface FlushOptions extends DeliverOptions, QueueOptions {
  /**
   * Options for a message by the settings stored with it (the command line
   * picks the account they name); they go over the flush's own options and
   * under the stored settings.
   */
  readonly queuedOptions?: ((stored: StoredRouting) => DeliverOptions | undefined) | undefined;
  /** Called once per message as the flush finishes with it (sent, failed or skipped), in queue order. */
  readonly onMessage?: ((report: QueuedMessageReport) => void) | undefined;
}

/**
 * Sends the offline queue (smtpmail-send-queued-mail) in index order, one message at a time, under a lock so that two
 * flushes never send a message twice. After each success the index is rewritten at once (atomically) and then the
 * message's files are removed, so an interrupted flush leaves the index listing exactly what was not sent. A failure
 * stops the flush (unless `continueOnError`), keeping that message and the ones after it queued. Consecutive messages
 * for the same server, port, stream type and user go over one connection: one TLS handshake and one login for the run.
 * Settings stored with a message (`storeQueueVariables`) win over `options`.
 *
 * @param options The queue folder (default ~/Mail/queued-mail) and the connection settings. Optional: the server
 *   defaults to the one stored with each message, else the SMTPSERVER environment variable.
 * @returns What was sent, what failed (with its error), what is still queued and what was dropped from the index.
 * @throws {SmtpProtocolError} `ECONFIG` for an invalid option; `EQUEUE` (transient) when another flush holds the
 *   queue, or for an unsafe queue folder. A failure to send one message is in the report, not thrown.
 */
export async function sendQueuedMail(given: FlushOptions = {}): Promise<QueueReport> {
  const options = expandServerUrl(given);
  validateOptions(options);
  refuseLmtp(options, 'sendQueuedMail');
  const report: MutableReport = { sent: [], failed: [], queued: [], dropped: [] };
  const directory = queueDirectory(options);
  if (!(await checkQueueDirectory(directory, false))) return report;
  const index = indexPath(options);
  await withLock(path.join(directory, 'flush.lock'), FLUSH_LOCK_WAIT_MS, async () => {
    await cleanTemporaryFiles(directory);
    const connections = new Connections();
    try {
      let stopped: string | undefined;
      const lines = await readIndex(index);
      type Outcome = Omit<QueuedMessageReport, 'path' | 'index' | 'total'>;
      const tell = (i: number, file: string, outcome: Outcome): void =>
        options.onMessage?.({ path: file, index: i + 1, total: lines.length, ...outcome });
      for (const [i, line] of lines.entries()) {
        const dataPath = path.resolve(directory, line);
        if (stopped !== undefined) {
          report.queued.push(dataPath);
          tell(i, dataPath, { status: 'skipped', reason: stopped });
          continue;
        }
        if (!(await exists(dataPath))) {
          await removeIndexLine(index, line);
          const reason = 'the data file does not exist (left by an interrupted flush?)';
          report.dropped.push({ path: dataPath, reason });
          tell(i, dataPath, { status: 'skipped', reason: `dropped: ${reason}` });
          continue;
        }
        let result: SendResult;
        try {
          result = await sendOne(dataPath, options, connections);
        } catch (error) {
          const failure = asSmtpError(error);
          report.failed.push({ path: dataPath, error: failure });
          report.queued.push(dataPath);
          if (options.continueOnError !== true) stopped = `not tried: ${dataPath} failed before it`;
          tell(i, dataPath, { status: 'failed', error: failure });
          continue;
        }
        // Sent: the index forgets it at once (the window in which a crash would send it twice is this step).
        // A failure here loses nothing and stops nothing: the report says it was sent and may be listed again.
        try {
          await removeIndexLine(index, line);
          await fs.rm(dataPath, { force: true });
          await fs.rm(`${dataPath}.el`, { force: true });
          await syncDirectory(directory);
          report.sent.push({ path: dataPath, result });
          tell(i, dataPath, { status: 'sent', result });
        } catch (error) {
          const reason =
            `sent, but not removed from the queue (${(error as Error).message}): it may be sent again ` +
            `by a later flush`;
          report.sent.push({ path: dataPath, result, stillListed: reason });
          tell(i, dataPath, { status: 'sent', result, stillListed: reason });
        }
      }
    } finally {
      await connections.close();
    }
  });
  return report;
}

/** The flush's one open client: kept while messages go to the same place, replaced when one goes elsewhere. */
class Connections {
  #current: { readonly key: string; readonly client: SmtpClient } | undefined;

  async send(prepared: Prepared, options: DeliverOptions): Promise<SendResult> {
    const routed = routeByMethod(prepared.method, options);
    const key = JSON.stringify([routed.server, routed.port, routed.streamType, routed.user]);
    if (this.#current?.key !== key) {
      await this.close();
      this.#current = { key, client: new SmtpClient(routed) };
    }
    try {
      return await this.#current.client.send(prepared);
    } catch (error) {
      // A failed message may leave the session unusable; the next one starts afresh.
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const current = this.#current;
    this.#current = undefined;
    await current?.client.quit();
  }
}

async function sendOne(dataPath: string, options: FlushOptions, connections: Connections): Promise<SendResult> {
  const elPath = `${dataPath}.el`;
  let text;
  try {
    text = await fs.readFile(elPath, 'utf8');
  } catch (error) {
    throw new SmtpProtocolError('EQUEUE', `Cannot read ${elPath}: ${(error as Error).message}`, { cause: error });
  }
  const settings = parseQueueEl(text, elPath);
  if (settings.recipients.length === 0)
    throw new SmtpProtocolError('EQUEUE', `${elPath}: no recipients; the message stays queued`);
  const message = await fs.readFile(dataPath);
  const flushOptions = withStoredSettings(options, settings);
  // Already prepared when queued: nothing is added now; the envelope sender is the configured one (as in Emacs), else
  // From:.
  const prepared = await prepareMessage(message, { ...flushOptions, addMissingHeaders: false });
  if (prepared.method?.kind === 'sendmail') return deliverPrepared(prepared, flushOptions);
  return connections.send(prepared, flushOptions);
}

/**
 * Stored settings win over the options (and over the account they name); a password meant for another server is not
 * sent.
 */
function withStoredSettings(options: FlushOptions, settings: QueuedSettings): DeliverOptions {
  const { queuedOptions, ...base } = options;
  const stored: StoredRouting = {
    server: settings.server,
    port: settings.service,
    streamType: settings.streamType === 'network' ? undefined : settings.streamType,
    user: settings.user,
  };
  const chosen = queuedOptions?.(stored);
  if (chosen !== undefined) {
    validateOptions(chosen);
    refuseLmtp(chosen, 'sendQueuedMail (queuedOptions)');
  }
  const merged: DeliverOptions = { ...base, ...chosen };
  const server = stored.server ?? merged.server;
  return {
    ...merged,
    recipients: settings.recipients,
    // As Emacs flushes: the configured sender (user-mail-address included) before the message's From:.
    envelopeFrom: configuredSender(merged),
    server,
    port: stored.port ?? merged.port,
    streamType: stored.streamType ?? merged.streamType,
    user: stored.user ?? merged.user,
    password: passwordFor(server, merged),
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

/**
 * What the queue holds (`smtpmail -bp`, sendmail's mailq): each message in
 * index order with its recipients and stored server, read without sending
 * and without the flush lock. A message whose files cannot be read is listed
 * with the reason.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseQueueEl } from './el-file.js';
import { checkQueueDirectory, indexPath, queueDirectory, readIndex, type QueueOptions } from './store.js';
import { validateOptions } from '../client/validate-options.js';

export interface QueueEntry {
  /** The data file's absolute path. */
  readonly path: string;
  readonly recipients: readonly string[];
  /** The server stored with it (smtpmail-store-queue-variables), if any. */
  readonly server: string | undefined;
  /** Why the entry cannot be sent as it is (its `.el` file is missing or invalid). */
  readonly problem: string | undefined;
}

/**
 * What the offline queue holds, in index order, without sending and without the flush lock (`smtpmail -bp`): each
 * message's data file, recipients and stored server; a message whose files cannot be read is listed with the reason.
 *
 * @param options The queue folder; default ~/Mail/queued-mail.
 */
export async function listQueuedMail(options: QueueOptions = {}): Promise<QueueEntry[]> {
  validateOptions(options);
  const directory = queueDirectory(options);
  if (!(await checkQueueDirectory(directory, false))) return [];
  const entries: QueueEntry[] = [];
  for (const line of await readIndex(indexPath(options))) {
    const dataPath = path.resolve(directory, line);
    try {
      const settings = parseQueueEl(await fs.readFile(`${dataPath}.el`, 'utf8'), `${dataPath}.el`);
      entries.push({ path: dataPath, recipients: settings.recipients, server: settings.server, problem: undefined });
    } catch (error) {
      entries.push({ path: dataPath, recipients: [], server: undefined, problem: (error as Error).message });
    }
  }
  return entries;
}

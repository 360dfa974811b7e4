/**
 * The queue directory on disk (SPEC §7), in Emacs's layout: data files, their
 * `.el` files and an index of data-file paths, one per line. This module owns
 * the directory check, file names, the index and the locks; queue-write.ts
 * and queue-flush.ts build on it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appendDurably, syncDirectory, writeAtomic } from './durable.js';
import { SmtpProtocolError } from './errors.js';

export interface QueueOptions {
  /** smtpmail-queue-dir; default `~/Mail/queued-mail`. */
  readonly queueDir?: string | undefined;
  /** smtpmail-queue-index-file, in the queue directory; default `index`. */
  readonly queueIndexFile?: string | undefined;
  /** smtpmail-store-queue-variables: keep server, stream type, port and user with each message. */
  readonly storeQueueVariables?: boolean | undefined;
  /** File names without `:` (for file systems that refuse it, such as Windows'). */
  readonly portableNames?: boolean | undefined;
  /** Flushing: go on after a message fails (default: stop, keeping it and everything after it queued). */
  readonly continueOnError?: boolean | undefined;
}

/** How long an index update waits for another process's index update. */
export const INDEX_LOCK_WAIT_MS = 10_000;
const LOCK_POLL_MS = 20;

export function queueDirectory(options: QueueOptions): string {
  return path.resolve(options.queueDir ?? path.join(os.homedir(), 'Mail', 'queued-mail'));
}

export function indexPath(options: QueueOptions): string {
  return path.resolve(queueDirectory(options), options.queueIndexFile ?? 'index');
}

/**
 * Checks the queue directory (creating it with mode 0700 when `create`).
 * Returns false when it does not exist and was not to be created. A
 * directory others can write to is refused: they could add messages or
 * `.el` files that name another server.
 */
export async function checkQueueDirectory(directory: string, create: boolean): Promise<boolean> {
  if (create) await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  let stat;
  try {
    stat = await fs.stat(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new SmtpProtocolError('EQUEUE', `Cannot use the queue directory ${directory}: ${(error as Error).message}`, { cause: error });
  }
  if (!stat.isDirectory()) throw new SmtpProtocolError('EQUEUE', `The queue directory ${directory} is not a directory`);
  if (process.platform !== 'win32' && (stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o777).toString(8);
    throw new SmtpProtocolError('EQUEUE', `The queue directory ${directory} is writable by others (mode ${mode}): run chmod 700 on it`);
  }
  return true;
}

let nameCounter = 0;

/**
 * A data-file name that never collides: Emacs's `YYYY-MM-DD_HH:MM:SS_N`
 * (local time) with N made of this process's id, a counter and random bits.
 * `portable`: `-` instead of `:`.
 */
export function queueFileName(date: Date, portable: boolean): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const time = [two(date.getHours()), two(date.getMinutes()), two(date.getSeconds())].join(portable ? '-' : ':');
  return `${day}_${time}_${process.pid}.${++nameCounter}.${randomBytes(4).toString('hex')}`;
}

/** The index's lines (paths as written), empty lines skipped; no index is an empty queue. */
export async function readIndex(file: string): Promise<string[]> {
  let text;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SmtpProtocolError('EQUEUE', `Cannot read the queue index ${file}: ${(error as Error).message}`, { cause: error });
  }
  return text.split('\n').filter((line) => line !== '');
}

/** Adds a data-file path at the end of the index, durably; a line left unfinished by a crash stays a line of its own. */
export async function appendIndexLine(file: string, dataPath: string): Promise<void> {
  await withLock(`${file}.lock`, INDEX_LOCK_WAIT_MS, async () => {
    const unfinished = await endsMidLine(file);
    await appendDurably(file, `${unfinished ? '\n' : ''}${dataPath}\n`);
  });
}

/** Removes the first line equal to `line` from the index, rewriting it atomically (a line appended meanwhile is kept). */
export async function removeIndexLine(file: string, line: string): Promise<void> {
  await withLock(`${file}.lock`, INDEX_LOCK_WAIT_MS, async () => {
    const lines = await readIndex(file);
    const at = lines.indexOf(line);
    if (at === -1) return;
    lines.splice(at, 1);
    await writeAtomic(file, lines.map((l) => `${l}\n`).join(''));
    await syncDirectory(path.dirname(file));
  });
}

async function endsMidLine(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch {
    return false;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    await handle.close();
  }
}

/**
 * Runs `work` holding `lockFile` (created with O_EXCL, holding `pid host`).
 * A lock left by a process of this host that no longer runs is taken over.
 * Waits up to `waitMs` for a live holder, then throws EQUEUE (transient).
 */
export async function withLock<T>(lockFile: string, waitMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid} ${os.hostname()}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SmtpProtocolError('EQUEUE', `Cannot create the lock ${lockFile}: ${(error as Error).message}`, { cause: error });
      }
    }
    const holder = await fs.readFile(lockFile, 'utf8').catch(() => '');
    if (isStale(holder)) {
      await fs.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      const pid = holder.split(' ')[0] ?? '?';
      throw new SmtpProtocolError('EQUEUE', `The queue is busy: process ${pid} holds ${lockFile}; try again when it is done`, { transient: true });
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    return await work();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}

/** A lock whose holder ran on this host and is gone. (Empty: being written right now, not stale.) */
function isStale(holder: string): boolean {
  const [pidText, host] = holder.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || host !== os.hostname()) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * The queue directory on disk (SPEC §7), in Emacs's layout: data files, their
 * `.el` files and an index of data-file paths, one per line. This module owns
 * the directory check, file names, the index and the locks; write.ts
 * and flush.ts build on it.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appendDurably, syncDirectory, writeAtomic } from '../durable.js';
import { SmtpProtocolError } from '../errors.js';

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
    throw new SmtpProtocolError('EQUEUE', `Cannot use the queue directory ${directory}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!stat.isDirectory()) throw new SmtpProtocolError('EQUEUE', `The queue directory ${directory} is not a directory`);
  if (process.platform !== 'win32' && (stat.mode & 0o022) !== 0) {
    const mode = (stat.mode & 0o777).toString(8);
    throw new SmtpProtocolError(
      'EQUEUE',
      `The queue directory ${directory} is writable by others (mode ${mode}): run chmod 700 on it`,
    );
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
    throw new SmtpProtocolError('EQUEUE', `Cannot read the queue index ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return text.split('\n').filter((line) => line !== '');
}

/**
 * Adds a data-file path at the end of the index, durably; a line left unfinished by a crash stays a line of its own.
 */
export async function appendIndexLine(file: string, dataPath: string): Promise<void> {
  await withLock(`${file}.lock`, INDEX_LOCK_WAIT_MS, async () => {
    const unfinished = await endsMidLine(file);
    await appendDurably(file, `${unfinished ? '\n' : ''}${dataPath}\n`);
  });
}

/**
 * Removes the first line equal to `line` from the index, rewriting it atomically (a line appended meanwhile is kept).
 */
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

/** An empty or unreadable lock older than this is stale (written by a version that could leave it so, or by hand). */
export const EMPTY_LOCK_STALE_MS = 5_000;

/**
 * Runs `work` holding `lockFile`. The lock is created whole or not at all:
 * its content (`pid host token`) goes to a temporary file that is then
 * hard-linked into place (link() fails if the lock exists), so a process
 * killed at any point leaves either no lock or one naming it. A lock whose
 * holder ran on this host and is gone, or an empty one older than
 * EMPTY_LOCK_STALE_MS, is taken over (renamed away first, so that two
 * processes cannot both take one over). Waits up to `waitMs` for a live
 * holder, then throws EQUEUE (transient).
 */
export async function withLock<T>(lockFile: string, waitMs: number, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  const content = `${process.pid} ${os.hostname()} ${randomBytes(8).toString('hex')}\n`;
  for (;;) {
    if (await tryLock(lockFile, content)) break;
    const holder = await readHolder(lockFile);
    if (holder !== undefined && (await isStale(lockFile, holder))) {
      await takeOver(lockFile, holder);
      continue;
    }
    if (Date.now() >= deadline) {
      const pid = holder?.split(' ')[0] || '?';
      throw new SmtpProtocolError(
        'EQUEUE',
        `The queue is busy: process ${pid} holds ${lockFile}; try again when it is done`,
        { transient: true },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
  try {
    return await work();
  } finally {
    // Only our own lock is removed (a takeover by another process would have renamed ours away).
    if ((await readHolder(lockFile)) === content) await fs.rm(lockFile, { force: true });
  }
}

/** Creates the lock with its content in one step; false when it exists. */
async function tryLock(lockFile: string, content: string): Promise<boolean> {
  const temp = lockTempName(lockFile);
  try {
    await fs.writeFile(temp, content, { mode: 0o600, flag: 'wx' });
    await fs.link(temp, lockFile);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new SmtpProtocolError('EQUEUE', `Cannot create the lock ${lockFile}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/** The lock's content; undefined when it is gone. */
async function readHolder(lockFile: string): Promise<string | undefined> {
  try {
    return await fs.readFile(lockFile, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : '';
  }
}

/** A lock whose holder ran on this host and is gone, or one left empty long enough ago. */
async function isStale(lockFile: string, holder: string): Promise<boolean> {
  const [pidText, host] = holder.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0 || host === undefined) {
    const stat = await fs.stat(lockFile).catch(() => undefined);
    return stat !== undefined && Date.now() - stat.mtimeMs > EMPTY_LOCK_STALE_MS;
  }
  return host === os.hostname() && !isAlive(pid);
}

/** Moves a stale lock away, and puts it back if what moved was not the stale one (someone took over meanwhile). */
async function takeOver(lockFile: string, stale: string): Promise<void> {
  const aside = lockTempName(lockFile);
  try {
    await fs.rename(lockFile, aside);
  } catch {
    return; // gone already: somebody else took it over
  }
  if ((await readHolder(aside)) !== stale) await fs.link(aside, lockFile).catch(() => undefined);
  await fs.rm(aside, { force: true });
}

/** A temporary name beside the lock, recognised by cleanTemporaryFiles. */
function lockTempName(lockFile: string): string {
  return path.join(
    path.dirname(lockFile),
    `.${path.basename(lockFile)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** `.NAME.PID.X.tmp`: the temporary files of durable.ts and of the locks. */
const TEMPORARY = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/;

/**
 * Removes the temporary files that a process killed mid-write left in the
 * queue directory (those of processes of this host that no longer run).
 */
export async function cleanTemporaryFiles(directory: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(TEMPORARY.exec(name)?.[1] ?? Number.NaN);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isAlive(pid))
      await fs.rm(path.join(directory, name), { force: true });
  }
}

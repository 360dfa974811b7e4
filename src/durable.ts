/**
 * Files that survive a crash: written under a temporary name in the target's
 * directory, synced, then renamed into place, so that a reader sees the old
 * file or the whole new one, never a part. The queue and saved credentials
 * write this way.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface DurableWriteOptions {
  /** File mode of the result (default 0o600: mail and credentials are private). */
  readonly mode?: number;
}

let tempCounter = 0;

/** A temporary name beside `target`: hidden, and unique to this process and call. */
export function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${++tempCounter}.tmp`);
}

/**
 * Writes `data` (or every chunk of it) to `target` atomically. The temporary
 * file is opened with 'wx' (never reusing a file someone placed there) and is
 * removed when a step fails (a crash leaves it: the queue removes such files
 * before its next write). The directory entry is not synced here: see {@link syncDirectory}.
 */
export async function writeAtomic(
  target: string,
  data: string | Buffer | AsyncIterable<Buffer>,
  options: DurableWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o600;
  const temp = tempName(target);
  const handle = await fs.open(temp, 'wx', mode);
  let renamed = false;
  try {
    try {
      await handle.chmod(mode); // the umask could have removed bits
      if (typeof data === 'string' || Buffer.isBuffer(data)) await handle.writeFile(data);
      else for await (const chunk of data) await handle.write(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
    renamed = true;
  } catch (error) {
    if (!renamed) await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Makes renames and removals in `directory` durable (fsync of the directory; a no-op where the platform cannot). */
export async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(directory, 'r');
  } catch {
    return; // Windows cannot open a directory
  }
  try {
    await handle.sync();
  } catch {
    // Some file systems refuse fsync on a directory: nothing more can be done.
  } finally {
    await handle.close();
  }
}

/** Appends `text` and syncs it before returning. */
export async function appendDurably(file: string, text: string, mode = 0o600): Promise<void> {
  const handle = await fs.open(file, 'a', mode);
  try {
    await handle.write(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

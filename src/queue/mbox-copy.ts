/**
 * Fcc (Emacs's mail-do-fcc): a copy of the message appended to each file an
 * `Fcc:` field names, in mbox format: a `From SENDER DATE` line, the message
 * with LF line ends, every line starting with `From ` quoted as `>From `, and
 * an empty line. Only with `honorFcc: true`: a program that sends messages it
 * did not write must not append to whatever files they name. The field itself
 * is never transmitted (message/prepare.ts removes it).
 *
 * Written before the message is sent, as Emacs does, so that a failure here
 * sends nothing; the copy stays when sending then fails. Crash-safe as the
 * queue's index is: under a lock (`FILE.lock`), one write then fsync, and a
 * copy cut short by a crash is ended with a line end before the next one.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appendDurably } from '../durable.js';
import { SmtpProtocolError } from '../errors.js';
import type { Prepared } from '../message/prepare.js';
import { INDEX_LOCK_WAIT_MS, withLock } from './store.js';

const LF = 0x0a;

export async function writeFcc(prepared: Prepared, date = new Date()): Promise<void> {
  if (prepared.fcc.length === 0) return;
  if (!Buffer.isBuffer(prepared.body) || prepared.fccHead === undefined) {
    throw new SmtpProtocolError(
      'EINPUT',
      'Fcc needs the whole message in memory: give it as a string or Buffer, not a stream',
    );
  }
  const entry = mboxEntry(prepared.envelope.from, prepared.fccHead, prepared.body, date);
  for (const name of prepared.fcc) await appendTo(expand(name), entry);
}

/** `~/x` from the home directory, anything else from the working directory (Emacs's expand-file-name). */
function expand(name: string): string {
  return path.resolve(name === '~' || name.startsWith('~/') ? path.join(os.homedir(), name.slice(1)) : name);
}

async function appendTo(file: string, entry: string): Promise<void> {
  try {
    await withLock(`${file}.lock`, INDEX_LOCK_WAIT_MS, async () => {
      const before = await lastBytes(file);
      // Messages are separated by an empty line; a copy cut short by a crash is ended first.
      const separator =
        before === undefined ? '' : before.endsWith('\n\n') ? '' : before.endsWith('\n') ? '\n' : '\n\n';
      await appendDurably(file, separator + entry);
    });
  } catch (error) {
    if (error instanceof SmtpProtocolError) throw error;
    throw new SmtpProtocolError(
      'EINPUT',
      `Fcc: cannot append to ${file}: ${(error as Error).message}; nothing was sent`,
      { cause: error },
    );
  }
}

/**
 * The file's last two bytes as text; undefined for a file that is missing or empty. Anything but a regular file is
 * refused.
 */
async function lastBytes(file: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size === 0) return undefined;
    const tail = Buffer.alloc(Math.min(2, stat.size));
    await handle.read(tail, 0, tail.length, stat.size - tail.length);
    return tail.toString('latin1');
  } finally {
    await handle.close();
  }
}

/** One mbox entry: the From line, the message with LF line ends and `>From ` quoting, an empty line. */
export function mboxEntry(sender: string, head: Buffer, body: Buffer, date: Date): string {
  const text = Buffer.concat([head, body]).toString('latin1').replace(/\r\n/g, '\n');
  const ended = text.length === 0 || text.charCodeAt(text.length - 1) === LF ? text : `${text}\n`;
  const quoted = ended.replace(/^From /gm, '>From ');
  // latin1 both ways: the bytes go to the file as they came, whatever their charset.
  return `From ${sender === '' ? 'MAILER-DAEMON' : sender} ${asctime(date)}\n${quoted}\n`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Wed Nov 25 22:30:52 2026` in local time: the date of an mbox From line (asctime). */
function asctime(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = String(date.getDate()).padStart(2, ' ');
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${day} ${time} ${date.getFullYear()}`;
}

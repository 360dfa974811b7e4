/**
 * The credential resolver: reads auth sources (decrypting `.gpg` ones with the
 * `gpg` program), finds the entry for host/port/user (SPEC §5) and saves
 * prompted credentials. The only module besides the queue that touches files.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { findEntry, formatEntry, parseAuthinfo, type CredentialQuery } from './authinfo.js';
import { writeAtomic } from '../durable.js';
import { SmtpProtocolError } from '../errors.js';
import type { SearchedFile } from '../hints.js';

/** Largest auth source read (plain or decrypted), in bytes: an authinfo file is small. */
export const MAX_AUTH_SOURCE_BYTES = 1024 * 1024;

/** How long `gpg --decrypt` may run (it may wait for gpg-agent's pinentry). */
export const GPG_TIMEOUT_MS = 60_000;

/** ~/.authinfo, ~/.authinfo.gpg, ~/.netrc, in that order (Emacs's `auth-sources` default). */
export function defaultAuthSources(): string[] {
  const home = os.homedir();
  return ['.authinfo', '.authinfo.gpg', '.netrc'].map((name) => path.join(home, name));
}

export interface FoundCredentials {
  readonly user: string | undefined;
  /** Undefined: the entry has a login but no password (the caller prompts or fails). */
  readonly password: string | undefined;
  /** The entry's `smtp-auth` value, upper-cased: forces a SASL mechanism. */
  readonly mechanism: string | undefined;
  readonly file: string;
  readonly line: number;
}

export interface LookupResult {
  readonly found: FoundCredentials | undefined;
  readonly searched: readonly SearchedFile[];
}

/**
 * Searches `files` in order; the first matching entry wins and later files are
 * not read. A missing file is skipped (`'missing'`); a file that cannot be
 * read, decrypted or parsed fails the lookup (ECONFIG), as it does in Emacs.
 * A plain file readable by group or others (mode & 0o044) gets one warning
 * through `warn`; an encrypted `.gpg` file does not need one.
 */
export async function lookupCredentials(
  query: CredentialQuery,
  files: readonly string[],
  warn?: (message: string) => void,
): Promise<LookupResult> {
  const searched: SearchedFile[] = [];
  for (const file of files) {
    const source = await readSource(file);
    if (source === undefined) {
      searched.push({ file, status: 'missing', reasons: [] });
      continue;
    }
    if (!source.encrypted && (source.mode & 0o044) !== 0) {
      warn?.(`warning: ${file} is readable by other users; run chmod 600 ${file}`);
    }
    const { entry, reasons } = findEntry(parseAuthinfo(source.text, file), query);
    if (entry === undefined) {
      searched.push({ file, status: 'no-match', reasons });
      continue;
    }
    searched.push({ file, status: 'matched', reasons: [] });
    const found: FoundCredentials = {
      user: entry.user,
      password: entry.password,
      mechanism: entry.extra['smtp-auth']?.toUpperCase(),
      file,
      line: entry.line,
    };
    return { found, searched };
  }
  return { found: undefined, searched };
}

/**
 * Prepends `formatEntry(entry)` and a newline to `file`, creating it.
 * Atomic: a temporary file in the same directory (mode 0o600) is written,
 * synced and renamed over the target (a symbolic link is followed, not
 * replaced). The result has mode 0o600 whatever the old mode was.
 *
 * @throws SmtpProtocolError `ECONFIG` for a `.gpg` file (cannot encrypt), a
 * value formatEntry refuses, or a file system error.
 */
export async function saveCredentials(
  file: string,
  entry: { host: string; port: string; user: string; password: string },
): Promise<void> {
  const line = formatEntry(entry) + '\n';
  const target = await resolveLink(file);
  if (isEncrypted(file) || isEncrypted(target)) {
    throw new SmtpProtocolError(
      'ECONFIG',
      `Cannot save credentials to ${file}: cannot encrypt; save them to a plain authinfo file`,
    );
  }
  // A byte order mark would no longer be at the start: drop it.
  const old = ((await readSource(target))?.text ?? '').replace(/^\uFEFF/, '');
  try {
    await writeAtomic(target, line + old, { mode: 0o600 });
  } catch (error) {
    throw fsError(`Cannot save credentials to ${file}`, error);
  }
}

interface Source {
  readonly text: string;
  readonly mode: number;
  readonly encrypted: boolean;
}

/**
 * The text of one auth source, or undefined when the file does not exist.
 * A `.gpg` file is decrypted by `gpg --batch --quiet --decrypt FILE` (argv,
 * never a shell; bounded output and time); other files are read as UTF-8.
 *
 * @throws SmtpProtocolError `ECONFIG` naming the file: unreadable, too large,
 * gpg not installed, or gpg failed (with the first line of its stderr).
 */
async function readSource(file: string): Promise<Source | undefined> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw fsError(`Cannot read ${file}`, error);
  }
  if (!stat.isFile()) throw new SmtpProtocolError('ECONFIG', `Cannot read ${file}: not a regular file`);
  if (stat.size > MAX_AUTH_SOURCE_BYTES) {
    throw new SmtpProtocolError('ECONFIG', `Cannot read ${file}: larger than ${MAX_AUTH_SOURCE_BYTES} bytes`);
  }
  if (isEncrypted(file)) return { text: await decrypt(file), mode: stat.mode, encrypted: true };
  try {
    return { text: await fs.readFile(file, 'utf8'), mode: stat.mode, encrypted: false };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw fsError(`Cannot read ${file}`, error);
  }
}

function decrypt(file: string): Promise<string> {
  // '--' so that a file name starting with '-' is never read as an option.
  const args = ['--batch', '--quiet', '--decrypt', '--', file];
  const options = {
    encoding: 'utf8' as const,
    maxBuffer: MAX_AUTH_SOURCE_BYTES,
    timeout: GPG_TIMEOUT_MS,
    windowsHide: true,
  };
  return new Promise((resolve, reject) => {
    execFile('gpg', args, options, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      // The plaintext (stdout) is never quoted or kept as the cause.
      const code = error.code;
      let why: string;
      if (code === 'ENOENT') why = 'the gpg program was not found; install GnuPG or use a plain authinfo file';
      else if (code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
        why = `gpg output is larger than ${MAX_AUTH_SOURCE_BYTES} bytes`;
      else if (error.killed === true) why = `gpg did not finish within ${GPG_TIMEOUT_MS / 1000} s`;
      else why = `gpg failed: ${firstLine(stderr) ?? `exit status ${String(code)}`}`;
      reject(new SmtpProtocolError('ECONFIG', `Cannot decrypt ${file}: ${why}`));
    });
  });
}

function firstLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .find((line) => line.trim() !== '')
    ?.trim();
}

function isEncrypted(file: string): boolean {
  return file.endsWith('.gpg');
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function resolveLink(file: string): Promise<string> {
  try {
    return await fs.realpath(file);
  } catch (error) {
    if (isMissing(error)) return file;
    throw fsError(`Cannot save credentials to ${file}`, error);
  }
}

function fsError(prefix: string, error: unknown): SmtpProtocolError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new SmtpProtocolError('ECONFIG', `${prefix}: ${code ?? String(error)}`, { cause: error });
}

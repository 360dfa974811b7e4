/**
 * Temporary queue directories for the queue tests, and a way to lay out a
 * queue as Emacs writes it (data files with LF line ends, `.el` files, an
 * index of absolute paths).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SHORT_TIMEOUTS } from './converse.js';
import { fixture } from './fake-server.js';
import type { RealServer } from './real-server.js';

export async function withQueueDir<T>(run: (directory: string) => Promise<T>): Promise<T> {
  const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-queue-'));
  const directory = path.join(parent, 'queued-mail');
  try {
    return await run(directory);
  } finally {
    await fs.rm(parent, { recursive: true, force: true });
  }
}

export interface FixtureMessage {
  readonly name: string;
  readonly data: string;
  readonly el: string | undefined;
}

/** Writes the messages and an index listing them in order; returns their data paths. */
export async function writeEmacsQueue(
  directory: string,
  messages: readonly FixtureMessage[],
  extraIndexLines: readonly string[] = [],
): Promise<string[]> {
  await fs.mkdir(directory, { recursive: true, mode: 0o700 });
  await fs.chmod(directory, 0o700);
  const paths: string[] = [];
  for (const message of messages) {
    const dataPath = path.join(directory, message.name);
    await fs.writeFile(dataPath, message.data);
    if (message.el !== undefined) await fs.writeFile(`${dataPath}.el`, message.el);
    paths.push(dataPath);
  }
  await fs.writeFile(path.join(directory, 'index'), [...paths, ...extraIndexLines].map((p) => `${p}\n`).join(''));
  return paths;
}

export async function indexLines(directory: string): Promise<string[]> {
  const text = await fs.readFile(path.join(directory, 'index'), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line !== '');
}

/** Files in the directory, temporary and lock files included, sorted. */
export async function listing(directory: string): Promise<string[]> {
  return (await fs.readdir(directory)).sort();
}

/** A message as Emacs queues it: LF line ends, headers already complete. */
export function emacsMessage(from: string, to: string, subject: string, body: string): string {
  return (
    `From: ${from}\nTo: ${to}\nSubject: ${subject}\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: ` +
    `<${subject.replace(/\W/g, '')}@example.org>\n\n${body}`
  );
}

export function recipientsEl(recipients: readonly string[]): string {
  return `(setq      smtpmail-recipient-address-list '(${recipients.map((r) => JSON.stringify(r)).join(' ')})\n)\n`;
}

/** Options that flush `queueDir` to `server` (STARTTLS when offered, the fixture CA, one attempt). */
export function flushOptions(server: RealServer, queueDir: string) {
  return {
    queueDir,
    server: 'localhost',
    port: server.port,
    tls: { ca: fixture('ca.pem') },
    timeouts: SHORT_TIMEOUTS,
    authSources: [],
    retries: 1,
  };
}

/**
 * `X-Message-SMTP-Method: sendmail`: the message goes to a local sendmail
 * program (`sendmail -oi -t`, argv array, never a shell), with its Bcc header
 * kept since `-t` takes the recipients from the headers and removes Bcc itself.
 */
import { spawn } from 'node:child_process';
import type { SendResult } from './client.js';
import { SmtpProtocolError } from '../errors.js';
import type { Prepared } from '../message/prepare.js';

export const DEFAULT_SENDMAIL_PROGRAM = 'sendmail';
const SENDMAIL_ARGS = ['-oi', '-t'];
const STDERR_LIMIT = 4096;

export async function sendWithSendmail(
  prepared: Prepared,
  program = DEFAULT_SENDMAIL_PROGRAM,
  signal?: AbortSignal,
): Promise<SendResult> {
  const child = spawn(program, SENDMAIL_ARGS, {
    stdio: ['pipe', 'ignore', 'pipe'],
    ...(signal === undefined ? {} : { signal }),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.once('close', (code) => resolve(code));
  });
  exited.catch(() => {}); // observed below; never an unhandled rejection meanwhile
  child.stdin.on('error', () => {}); // EPIPE when the program exits early: its status tells
  let size = 0;
  let ended = false;
  const settled = exited.then(
    () => void (ended = true),
    () => void (ended = true),
  );
  try {
    // Stops writing as soon as the program is gone (it failed to start, or exited early).
    const write = async (chunk: Buffer): Promise<void> => {
      if (ended) return;
      size += chunk.length;
      if (!child.stdin.write(chunk))
        await Promise.race([new Promise((resolve) => child.stdin.once('drain', resolve)), settled]);
    };
    await write(prepared.sendmailHead ?? prepared.head);
    const body = prepared.body;
    if (Buffer.isBuffer(body)) await write(body);
    else for await (const chunk of body) await write(chunk);
    child.stdin.end();
  } catch (error) {
    child.stdin.destroy();
    await exited.catch(() => undefined);
    throw failure(program, error);
  }
  let code: number | null;
  try {
    code = await exited;
  } catch (error) {
    throw failure(program, error);
  }
  if (code !== 0) {
    const detail = stderr.trim().split('\n')[0] ?? '';
    throw new SmtpProtocolError(
      'ESENDMAIL',
      `${program} exited with status ${String(code)}${detail === '' ? '' : `: ${detail}`}`,
      { transient: code === 75 },
    );
  }
  return {
    envelope: prepared.envelope,
    accepted: prepared.envelope.to,
    rejected: [],
    reply: { code: 250, enhancedCode: undefined, lines: [`accepted by ${program}`] },
    secure: false,
    tls: undefined,
    authMechanism: undefined,
    attempts: 1,
    size,
    messageId: prepared.messageId,
    dsn: undefined, // deliver.ts refuses a DSN request for a sendmail program
  };
}

function failure(program: string, error: unknown): SmtpProtocolError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ABORT_ERR') return new SmtpProtocolError('EABORT', 'sending was aborted', { cause: error });
  if (code === 'ENOENT')
    return new SmtpProtocolError(
      'ECONFIG',
      `the sendmail program ${JSON.stringify(program)} was not found (set sendmailProgram)`,
      { cause: error },
    );
  return new SmtpProtocolError('ESENDMAIL', `${program} failed: ${(error as Error).message}`, { cause: error });
}

/**
 * Passwords for the `smtpmail` command besides authinfo, as msmtp users keep
 * them: the output of a command (`--passwordeval 'pass show mail'`, config
 * `passwordeval`), or the environment variable SMTPMAIL_PASSWORD. The command
 * runs without a shell, from an argv array (a string is split into words,
 * with quotes but no expansion), only when the server asks for
 * authentication, and at most once. One trailing newline of its output is
 * removed; nothing it prints reaches a message or a transcript.
 */
import { execFile } from 'node:child_process';
import { SmtpProtocolError } from '../errors.js';

/** How long the command may run: a password manager may ask for a passphrase first. */
export const PASSWORDEVAL_TIMEOUT_MS = 120_000;
const MAX_OUTPUT_BYTES = 64 * 1024;

/** The environment variable that may hold the password. */
export const PASSWORD_VARIABLE = 'SMTPMAIL_PASSWORD';

/**
 * Words of a command line: separated by blanks; '...' keeps everything
 * literally, "..." keeps blanks and lets `\` escape `"` and `\`; `\` outside
 * quotes escapes the next character. No variables, globs or substitutions.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === ' ' || char === '\t' || char === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) throw commandError('an unclosed single quote');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (char === '"') {
      word ??= '';
      for (i++; ; i++) {
        if (i >= text.length) throw commandError('an unclosed double quote');
        const inner = text[i] as string;
        if (inner === '"') break;
        if (inner === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
        else word += inner;
      }
    } else if (char === '\\' && i + 1 < text.length) {
      word = (word ?? '') + text[++i];
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw commandError('no command');
  return words;
}

/** The password as the library wants it: a function, run on first use and remembered. */
export function passwordFromCommand(argv: readonly string[]): () => Promise<string> {
  let running: Promise<string> | undefined;
  return () => (running ??= run(argv));
}

function run(argv: readonly string[]): Promise<string> {
  const [program, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { timeout: PASSWORDEVAL_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8', windowsHide: true },
      (error, stdout, stderr) => {
        if (error !== null) {
          const status =
            typeof error.code === 'number'
              ? `exited with status ${error.code}`
              : error.killed
                ? 'was stopped (time limit or signal)'
                : error.message;
          const said = stderr.trim().split('\n')[0]?.slice(0, 200);
          reject(
            commandError(
              `${JSON.stringify(program)} ` +
                `${status}${said === undefined || said === '' ? '' : `: ${JSON.stringify(said)}`}`,
            ),
          );
          return;
        }
        const password = stdout.endsWith('\r\n')
          ? stdout.slice(0, -2)
          : stdout.endsWith('\n')
            ? stdout.slice(0, -1)
            : stdout;
        if (password === '') reject(commandError(`${JSON.stringify(program)} printed no password`));
        else resolve(password);
      },
    );
  });
}

function commandError(problem: string): SmtpProtocolError {
  return new SmtpProtocolError('ECONFIG', `passwordeval: ${problem}`);
}

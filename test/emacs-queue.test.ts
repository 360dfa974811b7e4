/**
 * The queue shared with real Emacs (issue #16 item 1): batch-mode Emacs
 * flushes a queue this library wrote, with and without stored server
 * variables, through the embedded test server; and this library flushes a
 * queue Emacs wrote. Skipped, with the reason printed, when `emacs` is not
 * installed (.ci/run installs emacs-nox so that CI runs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sendMail, sendQueuedMail } from '../src/index.js';
import { indexLines, withQueueDir } from './helpers/queue-dir.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';

function emacsVersion(): string | undefined {
  try {
    return execFileSync('emacs', ['--batch', '-Q', '--eval', '(princ emacs-version)'], {
      encoding: 'utf8',
      timeout: 20_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
}

const EMACS = emacsVersion();
const skip =
  EMACS === undefined
    ? 'emacs is not installed (apt-get install emacs-nox): the Emacs interoperability tests are skipped'
    : false;
if (skip !== false) process.stdout.write(`# ${skip}\n`);

/** Runs Lisp in batch-mode Emacs with a private HOME (no init file, no auth-source file). */
async function emacs(lisp: string): Promise<string> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-emacs-'));
  try {
    return await new Promise((resolve, reject) => {
      execFile(
        'emacs',
        ['--batch', '-Q', '--eval', lisp],
        { env: { PATH: process.env['PATH'] ?? '', HOME: home }, timeout: 60_000, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error !== null) reject(new Error(`emacs failed: ${error.message}\n${stderr}`));
          else resolve(stdout + stderr);
        },
      );
    });
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}

const lispString = (text: string): string => JSON.stringify(text);

/** Emacs's smtpmail settings for the test server (plain SMTP on loopback, no AUTH attempted). */
function emacsSettings(server: RealServer, queueDir: string, withServer: boolean): string {
  const target = withServer
    ? `smtpmail-smtp-server "127.0.0.1" smtpmail-smtp-service ${server.port} smtpmail-stream-type 'plain`
    : '';
  return (
    `(setq smtpmail-queue-dir ${lispString(`${queueDir}/`)} user-mail-address "a@example.org" ` +
    `smtpmail-auth-supported nil ${target})`
  );
}

const serverOptions = { disabledCommands: ['STARTTLS', 'AUTH'] };

for (const stored of [false, true]) {
  test(
    `Emacs ${EMACS ?? ''} flushes a queue this library wrote (${stored ? 'with' : 'without'} stored server variables)`,
    { skip },
    async () => {
      await withRealServer(serverOptions, async (server) => {
        await withQueueDir(async (queueDir) => {
          const queued = await sendMail(
            'From: a@example.org\nTo: Bob <bob@example.net>, carol@example.net\nSubject: from node\n\nhello Emacs\n',
            {
              queueMail: true,
              queueDir,
              storeQueueVariables: stored,
              server: '127.0.0.1',
              port: server.port,
              streamType: 'plain',
            },
          );
          const el = await fs.readFile(`${queued.path}.el`, 'utf8');
          assert.match(el, /smtpmail-recipient-address-list \("bob@example.net" "carol@example.net"\)/);
          // With stored variables, Emacs takes the server from the .el file: its own settings name none.
          await emacs(
            `(progn (require 'smtpmail) ${emacsSettings(server, queueDir, !stored)} (smtpmail-send-queued-mail))`,
          );
          assert.deepEqual(
            server.received.map((r) => [r.from, r.to]),
            [['a@example.org', ['bob@example.net', 'carol@example.net']]],
          );
          assert.match(server.received[0]?.data.toString('utf8') ?? '', /\r\n\r\nhello Emacs\r\n$/);
          assert.deepEqual(await indexLines(queueDir), []);
        });
      });
    },
  );

  test(
    `this library flushes a queue Emacs ${EMACS ?? ''} wrote (${stored ? 'with' : 'without'} stored server variables)`,
    { skip },
    async () => {
      await withRealServer(serverOptions, async (server) => {
        await withQueueDir(async (queueDir) => {
          await fs.mkdir(queueDir, { recursive: true, mode: 0o700 });
          const message =
            'From: a@example.org\nTo: bob@example.net\nSubject: from emacs\n--text follows this line--\nhello node\n';
          await emacs(
            `(progn (require 'smtpmail) ${emacsSettings(server, queueDir, true)} ` +
              `(setq smtpmail-queue-mail t smtpmail-store-queue-variables ${stored ? 't' : 'nil'}) ` +
              `(with-temp-buffer (insert ${lispString(message)}) (smtpmail-send-it)))`,
          );
          const [line] = await indexLines(queueDir);
          assert.ok(line !== undefined, 'Emacs queued the message');
          // The library reads what Emacs wrote; without stored variables, the flush's options name the server.
          const options = stored
            ? { queueDir }
            : { queueDir, server: '127.0.0.1', port: server.port, streamType: 'plain' as const };
          const report = await sendQueuedMail({ ...options, authSources: [], retries: 1 });
          assert.deepEqual(report.failed, []);
          assert.equal(report.sent.length, 1);
          assert.deepEqual(
            server.received.map((r) => r.to),
            [['bob@example.net']],
          );
          assert.match(server.received[0]?.data.toString('utf8') ?? '', /Subject: from emacs\r\n/);
        });
      });
    },
  );
}

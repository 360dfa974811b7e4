/**
 * The `smtpmail` command, spawned as a child process against the in-process
 * smtp-server: sendmail options, the queue, accounts, dry runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';
import { plain, runCli, withHome, writeConfig } from './helpers/run-cli.js';

const withServer = (run: (server: RealServer) => Promise<void>, options: RealServerOptions = {}): Promise<void> =>
  withRealServer(options, run);

const MESSAGE =
  'From: Me <me@example.org>\nTo: you@example.net\nCc: Other <other@example.net>\nBcc: secret@example.com\nSubject: ' +
  'hi\n\nHello.\n';

test('-t: recipients from To, Cc and Bcc; Bcc received but its header stripped; silent on success', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(['-t', ...plain(server)], MESSAGE, env);
      assert.deepEqual(run, { code: 0, stdout: '', stderr: '' });
      assert.deepEqual(
        server.received.map((r) => [r.from, r.to]),
        [['me@example.org', ['you@example.net', 'other@example.net', 'secret@example.com']]],
      );
      const delivered = server.received[0]?.data.toString('utf8') ?? '';
      assert.ok(!/^Bcc:/im.test(delivered));
      assert.match(
        delivered,
        /^From: Me <me@example.org>\r\nTo: you@example.net\r\nCc: Other <other@example.net>\r\nSubject: hi\r\nDate: .*\r\nMessage-ID: <[^>]+@example.org>\r\n\r\nHello.\r\n$/s,
      );
    });
  });
});

test('recipients as arguments and -f: the envelope is exactly those (headers are not read for recipients)', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        [...plain(server), '-f', 'bounce@example.org', 'a@example.net', 'b@example.net, c@example.net'],
        MESSAGE,
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        server.received.map((r) => [r.from, r.to]),
        [['bounce@example.org', ['a@example.net', 'b@example.net', 'c@example.net']]],
      );
    });
  });
});

test('a lone "." line ends the message without -i, and is part of it with -i', async () => {
  const message =
    'From: me@example.org\nTo: you@example.net\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: ' +
    '<x@example.org>\n\nbefore\n.\nafter\n';
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      assert.equal((await runCli(['-t', ...plain(server)], message, env)).code, 0);
      assert.equal((await runCli(['-t', '-i', ...plain(server)], message, env)).code, 0);
      const [cut, whole] = server.received.map((r) => r.data.toString('utf8').split('\r\n\r\n')[1]);
      assert.equal(cut, 'before\r\n');
      assert.equal(whole, 'before\r\n.\r\nafter\r\n');
    });
  });
});

test('--queue writes the queue without network; --flush-queue sends it and prints the report', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const queueDir = path.join(home, 'queue');
      const queued = await runCli(['-t', '--queue', '--queue-dir', queueDir], MESSAGE, env);
      assert.deepEqual(queued, { code: 0, stdout: '', stderr: '' });
      assert.equal(server.mailCommands, 0);
      const [line] = (await fs.readFile(path.join(queueDir, 'index'), 'utf8')).split('\n');
      const flushed = await runCli(['--flush-queue', '--queue-dir', queueDir, ...plain(server)], '', env);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.match(flushed.stdout, new RegExp(`^sent ${line}: 250 `, 'm'));
      assert.match(flushed.stdout, /^1 sent, 0 failed, 0 still queued$/m);
      assert.deepEqual(
        server.received.map((r) => r.to),
        [['you@example.net', 'other@example.net', 'secret@example.com']],
      );
      assert.deepEqual(await fs.readdir(queueDir), ['index']);
    });
  });
});

test('the account whose "from" matches the From: address is used; --account overrides', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      await writeConfig(home, {
        defaults: { streamType: 'plain', retries: 1 },
        accounts: {
          work: {
            from: 'me@example.org',
            server: '127.0.0.1',
            port: server.port,
            envelopeFrom: 'work-bounce@example.org',
          },
          home: { from: ['me@home.example', 'other@home.example'], server: '127.0.0.1', port: 1 },
        },
      });
      const byFrom = await runCli(['-t'], MESSAGE, env);
      assert.equal(byFrom.code, 0, byFrom.stderr);
      assert.deepEqual(
        server.received.map((r) => r.from),
        ['work-bounce@example.org'],
      );
      const forced = await runCli(['-t', '--account', 'home'], MESSAGE, env);
      assert.equal(forced.code, 69, forced.stderr);
      assert.match(forced.stderr, /^smtpmail: .*127\.0\.0\.1.*\n$/);
      const unknown = await runCli(['-t', '--account', 'nope'], MESSAGE, env);
      assert.equal(unknown.code, 78);
      assert.equal(unknown.stderr, 'smtpmail: no account "nope" in the configuration (accounts: work, home)\n');
    });
  });
});

test('--dry-run prints the envelope and the prepared message and connects to nothing', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const message =
        'From: me@example.org\nTo: you@example.net\nBcc: secret@example.com\nDate: Mon, 23 Nov 2026 10:00:00 ' +
        '+0000\nMessage-ID: <d@example.org>\n\nBody.\n';
      const run = await runCli(['-t', '--dry-run', ...plain(server)], message, env);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        [
          'Envelope-From: me@example.org',
          'Envelope-To: you@example.net, secret@example.com',
          `Server: 127.0.0.1 port ${server.port} (plain)`,
          '',
          'From: me@example.org',
          'To: you@example.net',
          'Date: Mon, 23 Nov 2026 10:00:00 +0000',
          'Message-ID: <d@example.org>',
          '',
          'Body.',
          '',
        ].join('\n'),
      );
      assert.equal(server.mailCommands, 0);
    });
  });
});

test('Emacs: a message as sendmail-send-it pipes it (LF, separator removed) with "-oi -f ADDR -oem -odb -t"', async () => {
  const fromEmacs = [
    'From: Emacs User <emacs@example.org>',
    'To: friend@example.net',
    'Bcc: archive@example.org',
    'Subject: from Emacs',
    'X-Mailer: GNU Emacs',
    'Date: Mon, 23 Nov 2026 10:00:00 +0000',
    'Message-ID: <e1@example.org>',
    '',
    'A line.',
    '.A line starting with a dot.',
    '',
  ].join('\n');
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        ['-oi', '-f', 'emacs@example.org', '-oem', '-odb', '-t', ...plain(server)],
        fromEmacs,
        env,
      );
      assert.deepEqual(run, { code: 0, stdout: '', stderr: '' });
      assert.deepEqual(
        server.received.map((r) => [r.from, r.to]),
        [['emacs@example.org', ['friend@example.net', 'archive@example.org']]],
      );
      assert.equal(
        server.received[0]?.data.toString('utf8'),
        fromEmacs.replace('Bcc: archive@example.org\n', '').replaceAll('\n', '\r\n'),
      );
    });
  });
});

test('SMTPSERVER names the server when nothing else does; --help and --version', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(['-t', '--port', String(server.port), '--stream-type', 'plain'], MESSAGE, {
        ...env,
        SMTPSERVER: '127.0.0.1',
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(server.received.length, 1);
      const help = await runCli(['--help'], '', env);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^Usage: smtpmail /);
      const pkg = JSON.parse(await fs.readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      };
      assert.deepEqual(await runCli(['--version'], '', env), {
        code: 0,
        stdout: `smtpmail ${pkg.version}\n`,
        stderr: '',
      });
    });
  });
});

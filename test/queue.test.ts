/**
 * The offline queue (queue/): Emacs's layout byte for byte, stored variables, streamed messages,
 * directory modes, and Emacs-written queues flushed in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sendMail, sendQueuedMail, SmtpProtocolError } from '../src/index.js';
import { emacsMessage, flushOptions, indexLines, listing, withQueueDir, writeEmacsQueue } from './helpers/queue-dir.js';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';

const MESSAGE = [
  'From: Bob <bob@example.org>',
  'To: alice@example.net',
  'Bcc: hidden@example.com',
  'Subject: queued',
  'Date: Mon, 23 Nov 2026 10:00:00 +0000',
  'Message-ID: <q1@example.org>',
  '',
  'line one',
  '.leading dot, not stuffed in the queue',
  '',
].join('\r\n');

const EXPECTED_DATA = [
  'From: Bob <bob@example.org>',
  'To: alice@example.net',
  'Subject: queued',
  'Date: Mon, 23 Nov 2026 10:00:00 +0000',
  'Message-ID: <q1@example.org>',
  '',
  'line one',
  '.leading dot, not stuffed in the queue',
  '',
].join('\n');

test('queueMail: the Emacs layout byte for byte (LF data file without Bcc, .el, index), private modes, no network', async () => {
  await withQueueDir(async (queueDir) => {
    const queued = await sendMail(MESSAGE, {
      queueMail: true,
      queueDir,
      server: '127.0.0.1',
      port: 1,
      authSources: [],
    });
    assert.equal(path.dirname(queued.path), queueDir);
    assert.match(path.basename(queued.path), /^\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d_\d+\.\d+\.[0-9a-f]{8}$/);
    assert.deepEqual(queued.envelope, { from: 'bob@example.org', to: ['alice@example.net', 'hidden@example.com'] });
    assert.equal(await fs.readFile(queued.path, 'utf8'), EXPECTED_DATA);
    assert.equal(
      await fs.readFile(`${queued.path}.el`, 'utf8'),
      `(setq      smtpmail-recipient-address-list ("alice@example.net" "hidden@example.com")\n)\n`,
    );
    assert.equal(await fs.readFile(path.join(queueDir, 'index'), 'utf8'), `${queued.path}\n`);
    assert.deepEqual(
      await listing(queueDir),
      ['index', path.basename(queued.path), `${path.basename(queued.path)}.el`].sort(),
    );
    assert.equal((await fs.stat(queueDir)).mode & 0o777, 0o700);
    assert.equal((await fs.stat(queued.path)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(`${queued.path}.el`)).mode & 0o777, 0o600);
  });
});

test('queueMail with storeQueueVariables and portableNames: the four settings stored, Lisp escapes, names without ":"', async () => {
  await withQueueDir(async (queueDir) => {
    const options = {
      queueMail: true,
      queueDir,
      storeQueueVariables: true,
      portableNames: true,
      server: 'mail.example.org',
      port: 587,
      streamType: 'starttls',
      user: 'bob "the \\ builder"',
      authSources: [],
      recipients: ['a@example.net', 'b@example.net'],
    } as const;
    const first = await sendMail(MESSAGE, options);
    const second = await sendMail(MESSAGE, options);
    assert.notEqual(first.path, second.path);
    for (const queued of [first, second]) assert.ok(!path.basename(queued.path).includes(':'));
    assert.equal(
      await fs.readFile(`${first.path}.el`, 'utf8'),
      [
        `(setq      smtpmail-recipient-address-list ("a@example.net" "b@example.net")`,
        `     smtpmail-smtp-server "mail.example.org"`,
        `     smtpmail-stream-type starttls`,
        `     smtpmail-smtp-service 587`,
        `     smtpmail-smtp-user "bob \\"the \\\\ builder\\""`,
        ')',
        '',
      ].join('\n'),
    );
    assert.deepEqual(await indexLines(queueDir), [first.path, second.path]);
  });
});

test('queueMail: a streamed message is stored with LF line ends, including a CRLF split across chunks', async () => {
  await withQueueDir(async (queueDir) => {
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from('From: a@example.org\r\nTo: b@example.net\r\n\r\nfirst\r');
      yield Buffer.from('\nsecond\rlone CR kept\r\nno final line end');
    }
    const queued = await sendMail(chunks(), { queueMail: true, queueDir, authSources: [], addMissingHeaders: false });
    assert.equal(
      await fs.readFile(queued.path, 'latin1'),
      'From: a@example.org\nTo: b@example.net\n\nfirst\nsecond\rlone CR kept\nno final line end\n',
    );
  });
});

test('a group- or world-writable queue directory is refused, before anything is written', async () => {
  await withQueueDir(async (queueDir) => {
    await fs.mkdir(queueDir, { mode: 0o700 });
    await fs.chmod(queueDir, 0o770);
    await assert.rejects(sendMail(MESSAGE, { queueMail: true, queueDir, authSources: [] }), (error) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.equal(error.code, 'EQUEUE');
      assert.match(error.message, /writable by others \(mode 770\).*chmod 700/);
      return true;
    });
    assert.deepEqual(await listing(queueDir), []);
    await assert.rejects(sendQueuedMail({ queueDir, authSources: [] }), { code: 'EQUEUE' });
  });
});

const withServer = (run: (server: RealServer) => Promise<void>, options: RealServerOptions = {}): Promise<void> =>
  withRealServer(options, run);

test('an Emacs queue (":" names, LF files, .el with and without stored variables, string escapes) is flushed in order with the right envelope and bytes', async () => {
  const first = emacsMessage('Bob <bob@example.org>', 'alice@example.net', 'one', 'Hello Alice.\n.dot line\n');
  const second = emacsMessage('Bob <bob@example.org>', 'carol@example.net', 'two', 'Caf\u00e9\n');
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      const paths = await writeEmacsQueue(queueDir, [
        {
          name: '2026-11-20_09:15:01_1',
          data: first,
          el: `(setq      smtpmail-recipient-address-list ("alice@example.net" "quote\\"d@example.net")\n)\n`,
        },
        {
          name: '2026-11-20_09:16:44_2',
          data: second,
          el: [
            `(setq      smtpmail-recipient-address-list ("carol@example.net")`,
            `     smtpmail-smtp-server "localhost"`,
            `     smtpmail-stream-type starttls`,
            `     smtpmail-smtp-service ${server.port}`,
            `     smtpmail-smtp-user nil`,
            ')',
            '',
          ].join('\n'),
        },
      ]);
      // Configured: clear text. The second message's stored settings require STARTTLS, and win.
      const report = await sendQueuedMail({
        ...flushOptions(server, queueDir),
        streamType: 'plain',
        envelopeFrom: 'queue@example.org',
      });
      assert.deepEqual(
        report.sent.map((s) => s.path),
        paths,
      );
      assert.deepEqual([report.failed, report.queued, report.dropped], [[], [], []]);
      assert.deepEqual(
        server.received.map((r) => [r.from, r.to]),
        [
          ['queue@example.org', ['alice@example.net', 'quote"d@example.net']],
          ['queue@example.org', ['carol@example.net']],
        ],
      );
      assert.equal(server.received[0]?.data.toString('utf8'), first.replaceAll('\n', '\r\n'));
      assert.equal(server.received[1]?.data.toString('utf8'), second.replaceAll('\n', '\r\n'));
      assert.deepEqual(
        server.received.map((r) => r.secure),
        [false, true],
      );
      assert.deepEqual(await listing(queueDir), ['index']);
      assert.deepEqual(await indexLines(queueDir), []);
    });
  });
});

test('flush: without envelopeFrom the sender is userMailAddress, else the From: of the queued message', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      const el = `(setq      smtpmail-recipient-address-list ("alice@example.net")\n)\n`;
      const data = emacsMessage('Bob <bob@example.org>', 'alice@example.net', 'x', 'x\n');
      await writeEmacsQueue(queueDir, [{ name: 'a', data, el }]);
      await sendQueuedMail({ ...flushOptions(server, queueDir), userMailAddress: 'user@example.org' });
      await writeEmacsQueue(queueDir, [{ name: 'b', data, el }]);
      await sendQueuedMail(flushOptions(server, queueDir));
      assert.deepEqual(
        server.received.map((r) => r.from),
        ['user@example.org', 'bob@example.org'],
      );
    });
  });
});

test('queue then flush: what the server receives equals what sendMail would have sent', async () => {
  await withServer(async (server) => {
    await withQueueDir(async (queueDir) => {
      const queued = await sendMail(MESSAGE, { queueMail: true, queueDir, authSources: [] });
      const report = await sendQueuedMail(flushOptions(server, queueDir));
      assert.equal(report.sent.length, 1);
      assert.deepEqual(report.sent[0]?.result.envelope, queued.envelope);
      assert.equal(server.received[0]?.data.toString('utf8'), EXPECTED_DATA.replaceAll('\n', '\r\n'));
      assert.deepEqual(await listing(queueDir), ['index']);
    });
  });
});

test('flushing a queue directory that does not exist reports nothing to do', async () => {
  await withQueueDir(async (queueDir) => {
    assert.deepEqual(await sendQueuedMail({ queueDir, authSources: [] }), {
      sent: [],
      failed: [],
      queued: [],
      dropped: [],
    });
  });
});

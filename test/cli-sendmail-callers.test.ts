/**
 * The `smtpmail` command as real sendmail callers run it (issue #14 items
 * 9-16): cron's and cronie's flags, DSN flags, -bp and -q, a sender without a
 * domain, spooled standard input with SIZE and BODY, CLI wording and exit
 * codes, passwords from a command or the environment, address-list
 * recipients, and a queue flushed per account over one connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Socket } from 'node:net';
import { withRealServer, type RealServer, type RealServerOptions } from './helpers/real-server.js';
import { plain, runCli, withHome, writeConfig } from './helpers/run-cli.js';

const withServer = (run: (server: RealServer) => Promise<void>, options: RealServerOptions = {}): Promise<void> =>
  withRealServer({ disabledCommands: ['STARTTLS'], ...options }, run);

const CRON_MESSAGE =
  'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts /etc/cron.daily\n\nOutput of the job: ' +
  'café\n';

test("Debian cron's invocation (-i -FCronDaemon -B8BITMIME -oem root) sends, with the sender completed by --maildomain", async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        [
          '-i',
          '-FCronDaemon',
          '-B8BITMIME',
          '-oem',
          'root',
          ...plain(server),
          '--maildomain',
          'host.example',
          '--sendto-domain',
          'host.example',
        ],
        CRON_MESSAGE,
        env,
      );
      assert.deepEqual(run, { code: 0, stdout: '', stderr: '' });
      const [received] = server.received;
      assert.equal(received?.from, 'root@host.example');
      assert.deepEqual(received?.to, ['root@host.example']);
      assert.equal(received?.body, '8BITMIME');
      // The header is left as it was: only the envelope is completed.
      assert.match(received?.data.toString('utf8') ?? '', /^From: root \(Cron Daemon\)\r\n/);
    });
  });
});

test('a sender without a domain and no maildomain: exit 78 before connecting, naming --maildomain', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(['-f', 'root', ...plain(server), 'you@example.net'], 'Subject: x\n\nx\n', env);
      assert.equal(run.code, 78);
      assert.match(
        run.stderr,
        /^smtpmail: the envelope sender "root" has no domain, which servers refuse: set --maildomain DOMAIN \("maildomain" in config\.json\)/,
      );
      assert.equal(server.mailCommands, 0);
    });
  });
});

test("maildomain from the configuration completes cronie's -f root", async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      await writeConfig(home, { defaults: { maildomain: 'host.example' } });
      const run = await runCli(['-f', 'root', ...plain(server), 'you@example.net'], 'Subject: x\n\nx\n', env);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(server.received[0]?.from, 'root@host.example');
    });
  });
});

test('-N, -R and -V reach the server as NOTIFY, RET and ENVID (it offers DSN); --debug says why -v is ignored', async () => {
  await withServer(
    async (server) => {
      await withHome(async (_home, env) => {
        const run = await runCli(
          [
            '-N',
            'success,failure',
            '-R',
            'hdrs',
            '-V',
            'id 1+2',
            '-v',
            '-bm',
            '-oi',
            '--debug',
            ...plain(server),
            '-t',
          ],
          'From: a@example.org\nTo: you@example.net\n\nx\n',
          env,
        );
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, /^C: MAIL FROM:<a@example\.org>( SIZE=\d+)? RET=HDRS ENVID=id\+201\+2B2$/m);
        assert.match(run.stderr, /^C: RCPT TO:<you@example\.net> NOTIFY=SUCCESS,FAILURE$/m);
        assert.match(run.stderr, /^smtpmail: ignoring -v: use --debug for the SMTP transcript$/m);
        assert.doesNotMatch(run.stderr, /ignoring -[NRV]/);
        const [received] = server.received;
        assert.deepEqual(
          { ret: received?.mailArgs['RET'], envid: received?.mailArgs['ENVID'] },
          { ret: 'HDRS', envid: 'id 1+2' },
        );
        assert.deepEqual(received?.rcptArgs, [{ NOTIFY: 'SUCCESS,FAILURE' }]);
      });
    },
    { hideDSN: false },
  );
});

test('-N never to a server without DSN: sent without it, exit 0, and only --debug says so', async () => {
  await withServer(
    async (server) => {
      await withHome(async (_home, env) => {
        const message = 'From: a@example.org\nTo: you@example.net\n\nx\n';
        const quiet = await runCli(['-N', 'never', '-oi', ...plain(server), '-t'], message, env);
        assert.deepEqual(quiet, { code: 0, stdout: '', stderr: '' });
        const debug = await runCli(['-N', 'never', '-oi', '--debug', ...plain(server), '-t'], message, env);
        assert.equal(debug.code, 0, debug.stderr);
        assert.match(debug.stderr, /^\* the server does not offer DSN: the message goes without RET, ENVID/m);
        assert.match(debug.stderr, /^C: RCPT TO:<you@example\.net>$/m);
        assert.deepEqual(
          server.received.map((r) => r.rcptArgs),
          [[{}], [{}]],
        );
      });
    },
    { hideDSN: true }, // smtp-server's default, made explicit
  );
});

test('-N with --queue: exit 78 before anything is queued, naming both', async () => {
  await withHome(async (home, env) => {
    const queueDir = path.join(home, 'q');
    const run = await runCli(['-N', 'never', '--queue', '--queue-dir', queueDir, 'a@example.net'], 'x\n', env);
    assert.equal(run.code, 78);
    assert.match(run.stderr, /^smtpmail: --queue and -N, -R and -V cannot go together: the queue's files/);
    await assert.rejects(fs.access(path.join(queueDir, 'index')));
  });
});

test('--require-tls to a server in clear text: exit 77 before MAIL, the hint naming the flags', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        ['--require-tls', '-oi', '-f', 'a@example.org', ...plain(server), 'you@example.net'],
        'Subject: x\n\nx\n',
        env,
      );
      assert.equal(run.code, 77);
      assert.equal(
        run.stderr,
        'smtpmail: the message requires TLS (REQUIRETLS, RFC 8689) and the connection is not encrypted: nothing was ' +
          'sent. Hint: REQUIRETLS is only sent over TLS: use --stream-type starttls (usually --port 587) or ' +
          '--stream-type ssl (usually --port 465)\n',
      );
      assert.equal(server.mailCommands, 0);
    });
  });
});

test('-bs is refused with a clear message, exit 64, nothing read or sent', async () => {
  await withHome(async (_home, env) => {
    const run = await runCli(['-bs'], 'EHLO x\r\n', env);
    assert.equal(run.code, 64);
    assert.match(run.stderr, /^smtpmail: option -bs: SMTP on standard input is not supported/);
  });
});

test('-bp lists the queue (file name and recipients) and -q sends it, both honouring --queue-dir', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const queueDir = path.join(home, 'q');
      assert.equal((await runCli(['-bp', '--queue-dir', queueDir], '', env)).stdout, 'The queue is empty.\n');
      await runCli(
        ['--queue', '--queue-dir', queueDir, 'a@example.net', '"Doe, J" <j@example.org>'],
        'From: me@example.org\nSubject: 1\n\n1\n',
        env,
      );
      const listed = await runCli(['-bp', '--queue-dir', queueDir], '', env);
      assert.equal(listed.code, 0);
      const [file] = (await fs.readFile(path.join(queueDir, 'index'), 'utf8')).trim().split('\n');
      assert.equal(listed.stdout, `${file}\n    a@example.net, j@example.org\n1 message queued.\n`);
      const flushed = await runCli(['-q', '--queue-dir', queueDir, ...plain(server)], '', env);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.deepEqual(
        server.received.map((r) => r.to),
        [['a@example.net', 'j@example.org']],
      );
    });
  });
});

test('recipients on the command line are address lists: a quoted comma splits nothing', async () => {
  await withServer(async (server) => {
    await withHome(async (_home, env) => {
      const run = await runCli(
        [...plain(server), '"Doe, J" <j@example.org>, k@example.org'],
        'From: a@example.org\n\nx\n',
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(server.received[0]?.to, ['j@example.org', 'k@example.org']);
    });
  });
});

test('standard input gets SIZE= and BODY=8BITMIME like a message in memory; a message over the SIZE limit is refused before MAIL', async () => {
  await withServer(
    async (server) => {
      await withHome(async (_home, env) => {
        const small = 'From: a@example.org\nTo: b@example.net\n\nGrüße\n';
        assert.equal((await runCli(['-t', '-i', ...plain(server)], small, env)).code, 0);
        assert.equal(server.received[0]?.body, '8BITMIME');
        assert.equal(Number(server.received[0]?.size), server.received[0]?.data.length);
        const big = `From: a@example.org\nTo: b@example.net\n\n${'x'.repeat(80)}\n`.repeat(200);
        const run = await runCli(['-t', '-i', ...plain(server)], big, env);
        assert.equal(run.code, 69);
        assert.match(run.stderr, /more than the 4096 octets the server accepts/);
        assert.equal(server.mailCommands, 1);
      });
    },
    { size: 4096 },
  );
});

test('no server configured: the error names --server and the exit is 78', async () => {
  await withHome(async (_home, env) => {
    const run = await runCli(['you@example.net'], 'From: a@example.org\nSubject: x\n\nx\n', env);
    assert.equal(run.code, 78);
    assert.match(
      run.stderr,
      /no SMTP server configured: set --server HOST \("server" in config\.json\) or the SMTPSERVER environment variable/,
    );
  });
});

test('relay denied to an unauthenticated client exits 77 (EX_NOPERM), not 67 (user unknown)', async () => {
  await withServer(
    async (server) => {
      await withHome(async (_home, env) => {
        const run = await runCli([...plain(server), 'far@elsewhere.example'], 'From: a@example.org\n\nx\n', env);
        assert.equal(run.code, 77);
        assert.match(run.stderr, /Relay access denied/);
      });
    },
    {
      disabledCommands: ['STARTTLS', 'AUTH'],
      onRcptTo(_address, _session, callback) {
        callback(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }));
      },
    },
  );
});

const USER = 'alice';
const PASS = 's3cret pass';
const AUTH: RealServerOptions = {
  disabledCommands: ['STARTTLS'],
  authMethods: ['PLAIN'],
  onAuth(auth, _session, callback) {
    if (auth.username === USER && auth.password === PASS) callback(null, { user: USER });
    else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
  },
};

test('passwords from SMTPMAIL_PASSWORD, from --passwordeval (no shell, one newline stripped) and from config passwordeval', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const message = 'From: a@example.org\nTo: b@example.net\n\nx\n';
      const fromEnv = await runCli(['-t', ...plain(server), '--user', USER, '--debug'], message, {
        ...env,
        SMTPMAIL_PASSWORD: PASS,
      });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.ok(!fromEnv.stderr.includes(PASS));
      const evaluated = await runCli(
        ['-t', ...plain(server), '--user', USER, '--passwordeval', `printf '%s\\n' '${PASS}'`],
        message,
        env,
      );
      assert.equal(evaluated.code, 0, evaluated.stderr);
      await writeConfig(home, { defaults: { user: USER, passwordeval: ['printf', '%s\n', PASS] } });
      const configured = await runCli(['-t', ...plain(server)], message, env);
      assert.equal(configured.code, 0, configured.stderr);
      // $(...) is not expanded: the word goes to printf as it is, and the server refuses it.
      const literal = await runCli(
        ['-t', ...plain(server), '--user', USER, '--passwordeval', `printf '%s' '$(echo ${PASS})'`],
        message,
        env,
      );
      assert.equal(literal.code, 77);
      assert.equal(server.received.length, 3);
    });
  }, AUTH);
});

test('--queue with an account chosen by From: stores its server; a plain -q sends the queue over one connection', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const queueDir = path.join(home, 'q');
      await writeConfig(home, {
        defaults: { queueDir },
        accounts: { work: { from: 'me@work.example', server: '127.0.0.1', port: server.port, streamType: 'plain' } },
      });
      for (const n of [1, 2]) {
        const queued = await runCli(
          ['-t', '--queue'],
          `From: me@work.example\nTo: you@example.net\nSubject: ${n}\n\n${n}\n`,
          env,
        );
        assert.equal(queued.code, 0, queued.stderr);
      }
      const [first] = (await fs.readFile(path.join(queueDir, 'index'), 'utf8')).trim().split('\n');
      assert.match(await fs.readFile(`${first}.el`, 'utf8'), /smtpmail-smtp-server '?"127\.0\.0\.1"/);
      const sockets: Socket[] = [];
      server.raw.on('connection', (socket: Socket) => sockets.push(socket));
      const flushed = await runCli(['-q'], '', env);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.match(flushed.stdout, /^2 sent, 0 failed, 0 still queued$/m);
      assert.equal(server.received.length, 2);
      assert.equal(sockets.length, 1);
    });
  });
});

test('--queue-on-failure: a greylisted message is queued, the exit is 0, and -bp lists it', async () => {
  await withServer(
    async (server) => {
      await withHome(async (home, env) => {
        const queueDir = path.join(home, 'q');
        const run = await runCli(
          ['-t', '-i', ...plain(server), '--queue-on-failure', '--queue-dir', queueDir],
          'From: a@example.org\nTo: b@example.net\n\nx\n',
          env,
        );
        assert.deepEqual(run, { code: 0, stdout: '', stderr: '' });
        assert.equal(server.received.length, 0);
        const listed = await runCli(['-bp', '--queue-dir', queueDir], '', env);
        assert.match(listed.stdout, /^ {4}b@example\.net\n1 message queued\.\n$/m);
      });
    },
    {
      onMailFrom(_address, _session, callback) {
        callback(Object.assign(new Error('4.7.1 Greylisted, try again later'), { responseCode: 451 }));
      },
    },
  );
});

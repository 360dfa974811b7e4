/**
 * Every JavaScript block of README.md, run as a user would run it: an .mjs file importing 'smtpmail' (this package,
 * linked into a temporary node_modules), in a child process, against smtp-server on 127.0.0.1 with STARTTLS and
 * AUTH (PLAIN, LOGIN, XOAUTH2), another with implicit TLS, and an LMTP one on a unix socket. Host names become
 * `localhost` (the fixture certificate's name; its CA comes in through NODE_EXTRA_CA_CERTS), port 587 the STARTTLS
 * server's and 465 the implicit-TLS server's (with streamType 'ssl', since only port 465 itself implies it:
 * implicit-tls-port.test.ts), Dovecot's `/run/dovecot/lmtp` the LMTP server's socket.
 * `message` and `messages`, which the blocks use without defining, are given. Each block must exit 0 and deliver at
 * least one message. A block that is an excerpt of a file of examples/ is run with its example (by that example's
 * test); a TypeScript block must be the text of a file that is compiled and run (demo/compose.ts). The command
 * line block (the one of `smtpmail -t` lines) runs line by line in bash with `smtpmail` and `pass` on PATH. A block
 * that prints DKIM key records (`... TXT "v=DKIM1; ..."`) has what it sent verified by dkimpy with them (if installed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dkimpyPython, NO_DKIMPY, verifyWithDkimpy } from './helpers/dkim-verifier.js';
import { startRealServer, type RealServer } from './helpers/real-server.js';
import { missing, startDante } from './helpers/proxies.js';
import { parseAuthinfo } from '../src/auth/authinfo.js';
import { parseConfig, selectAccount } from '../src/cli/config.js';
import { sendMail } from '../src/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 's3cret pass';
const TOKEN = 'tok-123';
const USERS = ['alice', 'alice@gmail.com'];
const RUN_LIMIT_MS = 20_000;

/** The fenced blocks of README.md with the given info string ('' for a bare fence), read fence by fence. */
function blocks(readme: string, language: string): string[] {
  const found: string[] = [];
  let open: { info: string; lines: string[] } | undefined;
  for (const line of readme.split('\n')) {
    if (open === undefined) {
      if (line.startsWith('```')) open = { info: line.slice(3).trim(), lines: [] };
    } else if (line === '```') {
      if (open.info === language) found.push(`${open.lines.join('\n')}\n`);
      open = undefined;
    } else {
      open.lines.push(line);
    }
  }
  return found;
}

const MESSAGE = 'From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nSubject: from README\n\nHello.\n';

/**
 * The block as the test runs it: addresses swapped (Dovecot's LMTP socket for the test's LMTP server's), `message` and
 * `messages` given when the block uses them.
 */
function runnable(block: string, starttlsPort: number, tlsPort: number, proxyPort: number, lmtpSocket: string): string {
  let code = block
    .replace(/proxy: '[^']*'/g, `proxy: 'socks5h://127.0.0.1:${proxyPort}'`)
    // A connection URL keeps its scheme and credentials; its host and port become the test server's.
    .replace(
      /\b(smtps?):\/\/([^\s'"`@/]*@)?[A-Za-z0-9.-]+(:\d+)?/g,
      (_url, scheme: string, credentials = '') =>
        `${scheme}://${credentials}localhost:${scheme === 'smtps' ? tlsPort : starttlsPort}`,
    )
    .replace(/server: '[^':]+'/g, "server: 'localhost'")
    .replace(/path: '\/run\/dovecot\/lmtp'/g, `path: ${JSON.stringify(lmtpSocket)}`)
    .replace(/port: 587\b/g, `port: ${starttlsPort}`)
    .replace(/port: 465, streamType: 'ssl'/g, `port: ${tlsPort}, streamType: 'ssl'`)
    .replace(/port: 465\b/g, `port: ${tlsPort}, streamType: 'ssl'`);
  const given: string[] = [];
  if (/\bmessages\b/.test(code) && !/\b(const|let) messages\b/.test(code))
    given.push(`const messages = [1, 2, 3].map((i) => ${JSON.stringify(MESSAGE)}.replace('README', 'README ' + i));`);
  if (/\bmessage\b/.test(code) && !/\b(const|let) message\b/.test(code))
    given.push(`const message = ${JSON.stringify(MESSAGE)};`);
  // Imports first, then what the test gives, then the rest of the block.
  const lines = code.split('\n');
  const lastImport = lines.findLastIndex((line) => line.startsWith('import '));
  code = [...lines.slice(0, lastImport + 1), ...given, ...lines.slice(lastImport + 1)].join('\n');
  return code;
}

/** The JavaScript files of examples/ (each example has a test of its own). */
async function exampleSources(): Promise<string[]> {
  const dir = path.join(ROOT, 'examples');
  const files = (await fs.readdir(dir, { recursive: true }))
    .filter((name) => name.endsWith('.js') && !name.includes('node_modules'))
    .map((name) => path.join(dir, name));
  return Promise.all(files.map((file) => fs.readFile(file, 'utf8')));
}

/** The DKIM signatures of the last message `server` got, verified by dkimpy with `records` as DNS (when installed). */
async function verifyDkim(block: string, server: RealServer, records: Record<string, string>): Promise<number> {
  const python = dkimpyPython();
  if (python === undefined) {
    console.log(`# the DKIM recipe's signatures not verified: ${NO_DKIMPY}`);
    return 0;
  }
  const message = server.received[server.received.length - 1]!.data;
  const [results = []] = (await verifyWithDkimpy(python, [message], records)).results;
  assert.equal(results.length, Object.keys(records).length, block);
  for (const result of results) assert.ok(result.ok, JSON.stringify(result));
  return results.length;
}

function run(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { env, timeout: RUN_LIMIT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

test("README's JavaScript blocks run against local servers, each delivering", async (t) => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const methods: string[] = [];
  const auth = {
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    onAuth(
      login: { method: string; username?: string; password?: string; accessToken?: string },
      _session: unknown,
      callback: (error: Error | null, response?: { user: string }) => void,
    ) {
      const secret = login.method === 'XOAUTH2' ? login.accessToken : login.password;
      const ok = USERS.includes(login.username ?? '') && secret === (login.method === 'XOAUTH2' ? TOKEN : PASSWORD);
      if (!ok) return callback(new Error('Invalid username or password'));
      methods.push(login.method);
      return callback(null, { user: login.username ?? '' });
    },
  };
  // The proxy recipe goes through a real SOCKS5 proxy when Dante is here.
  const dante = missing('danted') === undefined ? await startDante(false) : undefined;
  // DSN and REQUIRETLS offered (smtp-server hides both by default), for the README's examples of them.
  const starttls = await startRealServer({ ...(auth as object), hideDSN: false, hideREQUIRETLS: false } as never);
  const implicit = await startRealServer({ ...(auth as object), secure: true } as never);
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-readme-'));
  const lmtpSocket = path.join(home, 'lmtp');
  const lmtp = await startRealServer({ lmtp: true, listenPath: lmtpSocket });
  try {
    await fs.mkdir(path.join(home, 'node_modules'));
    await fs.symlink(ROOT, path.join(home, 'node_modules', 'smtpmail'), 'dir');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '',
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      NODE_EXTRA_CA_CERTS: path.join(ROOT, 'test', 'fixtures', 'ca.pem'),
      SMTP_PASSWORD: PASSWORD,
      OAUTH_TOKEN: TOKEN,
    };
    const delivered = (): number => starttls.received.length + implicit.received.length + lmtp.received.length;
    let dkimChecked = 0;
    // A block that is an excerpt of an example's file is run with that example (bullmq-example.test.ts).
    const examples = await exampleSources();
    const scripts = blocks(readme, 'js').filter((block) => !examples.some((source) => source.includes(block)));
    assert.ok(scripts.length >= 10, `only ${scripts.length} JavaScript blocks found`);
    for (const [i, block] of scripts.entries()) {
      if (block.includes('proxy:') && dante === undefined) {
        t.diagnostic(`README block ${i + 1} (a proxy) not run: ${missing('danted') ?? ''}`);
        continue;
      }
      const file = path.join(home, `example-${i + 1}.mjs`);
      await fs.writeFile(file, runnable(block, starttls.port, implicit.port, dante?.port ?? 0, lmtpSocket));
      const before = delivered();
      const result = await run(file, env);
      const first = block.split('\n').find((line) => line.trim() !== '' && !line.startsWith('import')) ?? '';
      assert.equal(result.code, 0, `README block ${i + 1} (${first}) failed:\n${result.output}`);
      assert.ok(delivered() > before, `README block ${i + 1} (${first}) delivered nothing:\n${result.output}`);
      assert.doesNotMatch(result.output, /ECONNREFUSED|ENOTFOUND|Error/, `README block ${i + 1}:\n${result.output}`);
      // A block that prints DKIM key records (the DKIM recipe): what it sent verifies with them.
      const records = Object.fromEntries(
        [...result.output.matchAll(/^(\S+\._domainkey\.\S+) TXT "([^"]+)"$/gm)].map((m) => [m[1], m[2]]),
      );
      if (Object.keys(records).length > 0) dkimChecked += await verifyDkim(block, starttls, records);
    }
    assert.ok(methods.includes('XOAUTH2'), 'the XOAUTH2 recipe authenticated with XOAUTH2');
    assert.ok(dkimChecked > 0 || dkimpyPython() === undefined, 'the DKIM recipe was verified');
    assert.ok(methods.includes('PLAIN') || methods.includes('LOGIN'), 'the password recipes authenticated');
  } finally {
    await Promise.all([starttls.close(), implicit.close(), lmtp.close(), dante?.stop()]);
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("README's TypeScript blocks are the text of files that are compiled and run by other tests", async () => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const sources = await Promise.all(
    (await fs.readdir(path.join(ROOT, 'demo'))).map((name) => fs.readFile(path.join(ROOT, 'demo', name), 'utf8')),
  );
  const typed = blocks(readme, 'ts');
  assert.ok(typed.length >= 1);
  for (const block of typed)
    assert.ok(
      sources.some((source) => source.includes(block.trim())),
      block.slice(0, 200),
    );
});

test("README's command-line block runs line by line: every command exits 0, and the messages arrive", async () => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = blocks(readme, 'sh').find((text) => text.includes('smtpmail -t -i --queue'));
  assert.ok(block !== undefined, 'the command-line block');
  const server = await startRealServer({
    onAuth: (login, _session, callback) =>
      login.username === 'me' && login.password === PASSWORD
        ? callback(null, { user: 'me' })
        : callback(new Error('Invalid username or password')),
  });
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-readme-cli-'));
  try {
    const bin = path.join(home, 'bin');
    await fs.mkdir(bin);
    const cli = path.join(ROOT, 'build', 'src', 'cli.js');
    await fs.writeFile(path.join(bin, 'smtpmail'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, {
      mode: 0o755,
    });
    // A password manager that knows one password.
    await fs.writeFile(path.join(bin, 'pass'), `#!/bin/sh\nprintf '%s\\n' '${PASSWORD}'\n`, { mode: 0o755 });
    await fs.writeFile(
      path.join(home, 'message.eml'),
      'From: me@example.org\nTo: you@example.net\nSubject: eml\n\nHi.\n',
    );
    // Commands without --server or --port: the server from SMTPSERVER, the port from the configuration file.
    await fs.mkdir(path.join(home, '.config', 'smtpmail'), { recursive: true });
    const config = { defaults: { port: server.port } };
    await fs.writeFile(path.join(home, '.config', 'smtpmail', 'config.json'), JSON.stringify(config));
    const env: NodeJS.ProcessEnv = {
      PATH: `${bin}:${process.env['PATH'] ?? ''}`,
      HOME: home,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      NODE_EXTRA_CA_CERTS: path.join(ROOT, 'test', 'fixtures', 'ca.pem'),
      SMTPSERVER: 'localhost',
    };
    const commands = block
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) =>
        line
          .replace(/--server smtp\.example\.org --port 587/, `--server localhost --port ${server.port}`)
          .replace('SMTPMAIL_PASSWORD=...', `SMTPMAIL_PASSWORD='${PASSWORD}'`),
      );
    assert.ok(commands.length >= 10, `${commands.length} commands`);
    for (const command of commands) {
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile('bash', ['-c', command], { env, cwd: home, timeout: RUN_LIMIT_MS }, (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
            output: stdout + stderr,
          }),
        );
      });
      assert.equal(result.code, 0, `${command}\n${result.output}`);
    }
    // Sent at once: the first four and --queue-on-failure and --debug; the --queue one by -q.
    const subjects = server.received.map((got) => /^Subject: (.*)$/m.exec(got.data.toString('utf8'))?.[1]);
    assert.equal(subjects.filter((subject) => subject === 'eml').length, 6, JSON.stringify(subjects));
    assert.equal(subjects.filter((subject) => subject === 'backup done').length, 1);
  } finally {
    await server.close();
    await fs.rm(home, { recursive: true, force: true });
  }
});

test("README's authinfo example and configuration file example read as they say", async () => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const authinfo = blocks(readme, '').find((text) => text.startsWith('# ~/.authinfo'));
  assert.ok(authinfo !== undefined, 'the authinfo block');
  const entries = parseAuthinfo(authinfo, '~/.authinfo');
  assert.deepEqual(
    entries.map((e) => [e.host, e.port, e.user, e.password, e.isDefault, e.extra['smtp-auth']]),
    [
      ['mail.example.org', '587', 'alice', 's3cret pass', false, undefined],
      ['smtp.example.net', undefined, 'bob@example.net', 'has "double" quotes', false, 'login'],
      [undefined, undefined, 'me', 'fallback', true, undefined],
    ],
  );

  const json = blocks(readme, 'json').find((text) => text.includes('"accounts"'));
  assert.ok(json !== undefined, 'the configuration block');
  const config = parseConfig(JSON.parse(json), 'config.json');
  assert.deepEqual(config.defaults, { streamType: 'starttls', port: 587 });
  assert.equal(selectAccount(config, undefined, 'family@home.example')?.name, 'home');
  assert.equal(selectAccount(config, undefined, 'me@work.example')?.settings.server, 'smtp.work.example');
  assert.equal(selectAccount(config, 'home', undefined)?.settings.streamType, 'ssl');
});

test("README's `smtpmail --check` transcripts: the same report, line by line, from a local server", async () => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const block = blocks(readme, '').find((text) => text.startsWith('$ smtpmail --check'));
  assert.ok(block !== undefined, 'the --check block');
  const server = await startRealServer({
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth: (login, _session, callback) =>
      login.username === 'alice' && login.password === PASSWORD
        ? callback(null, { user: 'alice' })
        : callback(new Error('Invalid username or password')),
  });
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-readme-check-'));
  try {
    await fs.writeFile(
      path.join(home, '.authinfo'),
      `machine localhost port ${server.port} login alice password "${PASSWORD}"\n`,
      {
        mode: 0o600,
      },
    );
    await fs.copyFile(path.join(ROOT, 'test', 'fixtures', 'ca.pem'), path.join(home, 'ca.pem'));
    const env = { PATH: process.env['PATH'] ?? '', HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    // Each `$ command` and the lines it printed; numbers (ports, times, sizes) and the text after the first ':' vary.
    const shape = (line: string): string => (line.split(':')[0] as string).replace(/\d+/g, 'N');
    for (const transcript of block.split(/\n(?=\$ )/)) {
      const [command = '', ...expected] = transcript.trim().split('\n');
      const argv = command
        .replace('$ smtpmail ', '')
        .replace(/--port \d+/, `--port ${server.port}`)
        .split(' ');
      const output = await new Promise<string>((resolve) =>
        execFile(
          process.execPath,
          [path.join(ROOT, 'build', 'src', 'cli.js'), ...argv],
          { env, cwd: home, timeout: RUN_LIMIT_MS },
          (_error, stdout) => resolve(stdout),
        ),
      );
      assert.deepEqual(output.trimEnd().split('\n').map(shape), expected.map(shape), `${command}\n${output}`);
    }
  } finally {
    await server.close();
    await fs.rm(home, { recursive: true, force: true });
  }
});

function emacsAvailable(): boolean {
  try {
    execFileSync('emacs', ['--version'], { stdio: 'ignore', timeout: RUN_LIMIT_MS });
    return true;
  } catch {
    return false;
  }
}

test(
  "README's Emacs configuration: a batch Emacs sends from message-mode and from M-x mail through `smtpmail`",
  { skip: emacsAvailable() ? false : 'emacs is not installed: skipped (apt-get install emacs-nox)' },
  async () => {
    const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
    const config = blocks(readme, 'elisp').find((text) => text.includes('sendmail-program "smtpmail"'));
    assert.ok(config !== undefined, 'the Emacs configuration block');
    const server = await startRealServer({ disabledCommands: ['STARTTLS'] });
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-readme-emacs-'));
    try {
      const bin = path.join(home, 'bin');
      await fs.mkdir(bin);
      const cli = path.join(ROOT, 'build', 'src', 'cli.js');
      await fs.writeFile(path.join(bin, 'smtpmail'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, {
        mode: 0o755,
      });
      await fs.mkdir(path.join(home, '.config', 'smtpmail'), { recursive: true });
      const settings = { defaults: { server: '127.0.0.1', port: server.port, streamType: 'plain' } };
      await fs.writeFile(path.join(home, '.config', 'smtpmail', 'config.json'), JSON.stringify(settings));
      const lisp = [
        config,
        '(setq user-mail-address "me@example.org" user-full-name "Me")',
        "(require 'message)",
        '(message-mail "you@example.net" "from message-mode")',
        '(message-goto-body) (insert "Body one.\\n")',
        '(message-send-and-exit)',
        '(compose-mail "you@example.net" "from mail-mode")',
        '(goto-char (point-max)) (insert "Body two.\\n")',
        '(funcall send-mail-function)',
      ].join('\n');
      await fs.writeFile(path.join(home, 'send.el'), lisp);
      const env = {
        PATH: `${bin}:${process.env['PATH'] ?? ''}`,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
      };
      await new Promise<void>((resolve, reject) =>
        execFile(
          'emacs',
          ['--batch', '-Q', '-l', path.join(home, 'send.el')],
          { env, timeout: 60_000 },
          (error, _o, err) => (error === null ? resolve() : reject(new Error(`${error.message}\n${err}`))),
        ),
      );
      assert.deepEqual(
        server.received.map((got) => [
          got.from,
          got.to,
          /^Subject: (.*)\r$/m.exec(got.data.toString('utf8'))?.[1],
          /\r\n\r\n(.*)\r\n$/.exec(got.data.toString('utf8'))?.[1],
        ]),
        [
          ['me@example.org', ['you@example.net'], 'from message-mode', 'Body one.'],
          ['me@example.org', ['you@example.net'], 'from mail-mode', 'Body two.'],
        ],
      );
    } finally {
      await server.close();
      await fs.rm(home, { recursive: true, force: true });
    }
  },
);

test("README's queue .el sample is what queueMail writes for README's first message", async () => {
  const readme = await fs.readFile(path.join(ROOT, 'README.md'), 'utf8');
  const sample = blocks(readme, 'elisp').find((text) => text.includes('smtpmail-recipient-address-list'));
  assert.ok(sample !== undefined, 'the .el block');
  const usage = blocks(readme, 'js').find((text) => text.includes('Hi Bob!'));
  const message = /const message = `([^`]*)`;/.exec(usage ?? '')?.[1];
  assert.ok(message !== undefined, "README's first message");
  const queueDir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-readme-queue-'));
  try {
    const queued = await sendMail(message, {
      queueMail: true,
      queueDir,
      storeQueueVariables: true,
      server: 'smtp.example.org',
      port: 587,
      streamType: 'starttls',
      authSources: [],
    });
    assert.equal(await fs.readFile(`${queued.path}.el`, 'utf8'), sample);
  } finally {
    await fs.rm(queueDir, { recursive: true, force: true });
  }
});

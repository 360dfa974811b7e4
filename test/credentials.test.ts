/**
 * Reading auth sources (auth/credentials.ts): the default files, lookup order, reasons for no match,
 * parse errors with their line, file modes, and prompted credentials saved.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultAuthSources, lookupCredentials, saveCredentials } from '../src/auth/credentials.js';
import { SmtpProtocolError } from '../src/errors.js';

const QUERY = { host: 'smtp.example.org', port: '587' };

async function tempDir(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-cred-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function writeSource(dir: string, name: string, text: string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, text);
  await fs.chmod(file, mode);
  return file;
}

function configError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'ECONFIG');
    assert.match(error.message, pattern);
    return true;
  };
}

test('defaultAuthSources: ~/.authinfo, ~/.authinfo.gpg, ~/.netrc in that order', () => {
  const home = os.homedir();
  assert.deepEqual(defaultAuthSources(), [
    path.join(home, '.authinfo'),
    path.join(home, '.authinfo.gpg'),
    path.join(home, '.netrc'),
  ]);
});

test('lookupCredentials: files in order, missing skipped, no-match reasons, first match wins', async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, 'absent');
  const first = await writeSource(
    dir,
    'first',
    '# work\nmachine other.org login a\n\nmachine smtp.example.org port 25 login b\n',
  );
  const second = await writeSource(
    dir,
    'second',
    'machine smtp.example.org\n  login bob\n  password hunter2\n  smtp-auth cram-md5\n',
  );
  const third = await writeSource(dir, 'third', 'default login never password read\n');

  const result = await lookupCredentials(QUERY, [missing, first, second, third]);
  assert.deepEqual(result, {
    found: { user: 'bob', password: 'hunter2', mechanism: 'CRAM-MD5', file: second, line: 1 },
    searched: [
      { file: missing, status: 'missing', reasons: [] },
      { file: first, status: 'no-match', reasons: ['line 2: host', 'line 4: port'] },
      { file: second, status: 'matched', reasons: [] },
    ],
  });
});

test('lookupCredentials: nothing found; a user restriction is a reason; a login without password', async (t) => {
  const dir = await tempDir(t);
  const file = await writeSource(
    dir,
    'authinfo',
    'machine smtp.example.org login alice password a\nmachine smtp.example.org login bob\n',
  );

  assert.deepEqual(await lookupCredentials({ ...QUERY, user: 'carol' }, [file]), {
    found: undefined,
    searched: [{ file, status: 'no-match', reasons: ['line 1: user', 'line 2: user'] }],
  });
  assert.deepEqual(await lookupCredentials({ ...QUERY, user: 'bob' }, [file]), {
    found: { user: 'bob', password: undefined, mechanism: undefined, file, line: 2 },
    searched: [{ file, status: 'matched', reasons: [] }],
  });
});

test('lookupCredentials: a file that does not parse fails with its line', async (t) => {
  const dir = await tempDir(t);
  const file = await writeSource(dir, 'authinfo', 'machine a\nlogin machine b\n');
  await assert.rejects(
    lookupCredentials(QUERY, [file]),
    configError(new RegExp(`^${escape(file)}:2: "machine" where`)),
  );
});

test('lookupCredentials: warns once for a file readable by others, not for mode 600', async (t) => {
  const dir = await tempDir(t);
  const open = await writeSource(dir, 'open', 'machine x.org login a\nmachine y.org login b\n', 0o644);
  const groupOnly = await writeSource(dir, 'group', 'machine x.org login a\n', 0o640);
  const closed = await writeSource(dir, 'closed', 'machine x.org login a\n', 0o600);

  const warnings: string[] = [];
  await lookupCredentials(QUERY, [open, groupOnly, closed], (message) => warnings.push(message));
  assert.deepEqual(warnings, [
    `warning: ${open} is readable by other users; run chmod 600 ${open}`,
    `warning: ${groupOnly} is readable by other users; run chmod 600 ${groupOnly}`,
  ]);

  const none: string[] = [];
  await lookupCredentials(QUERY, [closed], (message) => none.push(message));
  assert.deepEqual(none, []);
});

test('saveCredentials: prepends, mode 600, and the saved entry is found first', async (t) => {
  const dir = await tempDir(t);
  const file = await writeSource(dir, 'authinfo', 'machine smtp.example.org login bob password old\n', 0o644);
  const password = 's3cret "pass" #1';

  await saveCredentials(file, { host: 'smtp.example.org', port: '587', user: 'bob', password });

  assert.equal(
    await fs.readFile(file, 'utf8'),
    `machine smtp.example.org login bob port 587 password 's3cret "pass" #1'\nmachine smtp.example.org login bob ` +
      `password old\n`,
  );
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
  assert.deepEqual(await fs.readdir(dir), ['authinfo'], 'no temporary file is left behind');

  const warnings: string[] = [];
  const result = await lookupCredentials({ ...QUERY, user: 'bob' }, [file], (message) => warnings.push(message));
  assert.deepEqual(result.found, { user: 'bob', password, mechanism: undefined, file, line: 1 });
  assert.deepEqual(warnings, []);
});

test('saveCredentials: creates a missing file with mode 600', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'new-authinfo');
  await saveCredentials(file, { host: 'h', port: 'submission', user: 'u', password: 'p w' });
  assert.equal(await fs.readFile(file, 'utf8'), 'machine h login u port submission password "p w"\n');
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
});

test('saveCredentials: follows a symbolic link instead of replacing it', async (t) => {
  const dir = await tempDir(t);
  const real = await writeSource(dir, 'real', 'machine old\n');
  const link = path.join(dir, 'link');
  await fs.symlink(real, link);
  await saveCredentials(link, { host: 'h', port: '25', user: 'u', password: 'p' });
  assert.ok((await fs.lstat(link)).isSymbolicLink());
  assert.equal(await fs.readFile(real, 'utf8'), 'machine h login u port 25 password p\nmachine old\n');
});

test('saveCredentials: refuses a .gpg file and an unwritable value, leaving nothing behind', async (t) => {
  const dir = await tempDir(t);
  const gpgFile = path.join(dir, 'authinfo.gpg');
  await assert.rejects(
    saveCredentials(gpgFile, { host: 'h', port: '25', user: 'u', password: 'p' }),
    configError(new RegExp(`^Cannot save credentials to ${escape(gpgFile)}: cannot encrypt`)),
  );
  const file = path.join(dir, 'authinfo');
  await assert.rejects(
    saveCredentials(file, { host: 'h', port: '25', user: 'u', password: `Zx9 "it's"` }),
    configError(/^Cannot write the password to an authinfo file: it needs quotes but contains both kinds of quote$/),
  );
  assert.deepEqual(await fs.readdir(dir), []);
});

test('an auth source: plain text read; a missing file, plain or .gpg, is skipped', async (t) => {
  const dir = await tempDir(t);
  const file = await writeSource(dir, 'netrc', 'machine h login u\n');
  const missing = [path.join(dir, 'nope'), path.join(dir, 'nope.gpg')];
  const result = await lookupCredentials({ host: 'h', port: '25' }, [...missing, file]);
  assert.deepEqual(result.found, { user: 'u', password: undefined, mechanism: undefined, file, line: 1 });
  assert.deepEqual(
    result.searched.map((s) => s.status),
    ['missing', 'missing', 'matched'],
  );
});

test('an auth source that is a directory is an error naming it', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(
    lookupCredentials({ host: 'h', port: '25' }, [dir]),
    configError(new RegExp(`^Cannot read ${escape(dir)}: not a regular file$`)),
  );
});

test('a .gpg auth source without gpg installed', async (t) => {
  const dir = await tempDir(t);
  const file = await writeSource(dir, 'authinfo.gpg', 'not really encrypted');
  const emptyBin = path.join(dir, 'bin');
  await fs.mkdir(emptyBin);
  const savedPath = process.env['PATH'];
  process.env['PATH'] = emptyBin;
  try {
    await assert.rejects(
      lookupCredentials({ host: 'h', port: '25' }, [file]),
      configError(new RegExp(`^Cannot decrypt ${escape(file)}: the gpg program was not found`)),
    );
  } finally {
    if (savedPath === undefined) delete process.env['PATH'];
    else process.env['PATH'] = savedPath;
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

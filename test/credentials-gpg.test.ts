/**
 * Real gpg round trips for .gpg auth sources (auth/credentials.ts), skipped when gpg is not installed.
 * Each test runs gpg in its own GNUPGHOME whose gpg.conf supplies the passphrase (loopback pinentry),
 * so no agent ever prompts and the user's keyring is never used.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { lookupCredentials } from '../src/auth/credentials.js';
import { SmtpProtocolError } from '../src/errors.js';

const run = promisify(execFile);

async function hasGpg(): Promise<boolean> {
  try {
    await run('gpg', ['--version']);
    return true;
  } catch {
    return false;
  }
}

const skip = (await hasGpg()) ? false : 'gpg is not installed';

/** A fresh GNUPGHOME in effect for this test only; its agent is stopped afterwards. */
async function gnupgHome(t: TestContext): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-gpg-'));
  await fs.chmod(dir, 0o700);
  await fs.writeFile(path.join(dir, 'gpg.conf'), 'pinentry-mode loopback\npassphrase x\n');
  const saved = process.env['GNUPGHOME'];
  process.env['GNUPGHOME'] = dir;
  t.after(async () => {
    await run('gpgconf', ['--kill', 'gpg-agent']).catch(() => undefined);
    if (saved === undefined) delete process.env['GNUPGHOME'];
    else process.env['GNUPGHOME'] = saved;
    await fs.rm(dir, { recursive: true, force: true });
  });
  return dir;
}

test('lookupCredentials: a symmetrically encrypted .gpg source', { skip }, async (t) => {
  const dir = await gnupgHome(t);
  const plain = path.join(dir, 'plain');
  const file = path.join(dir, 'authinfo.gpg');
  const text = `machine smtp.example.org login bob password 's3cret "pass" #1' smtp-auth plain\n`;
  await fs.writeFile(plain, text);
  // --no-symkey-cache: decryption must use the passphrase again, not a cached one.
  await run('gpg', ['--batch', '--quiet', '--no-symkey-cache', '--output', file, '--symmetric', plain]);
  await fs.chmod(file, 0o644);

  const warnings: string[] = [];
  const result = await lookupCredentials({ host: 'smtp.example.org', port: '587' }, [file], (m) => warnings.push(m));
  assert.deepEqual(result, {
    found: { user: 'bob', password: 's3cret "pass" #1', mechanism: 'PLAIN', file, line: 1 },
    searched: [{ file, status: 'matched', reasons: [] }],
  });
  assert.deepEqual(warnings, [], 'an encrypted file readable by others gets no warning');
});

test('gpg failing reports the first line of its stderr', { skip }, async (t) => {
  const dir = await gnupgHome(t);
  const file = path.join(dir, 'broken.gpg');
  await fs.writeFile(file, 'this is not OpenPGP data\n');
  await assert.rejects(lookupCredentials({ host: 'h', port: '25' }, [file]), (error: unknown) => {
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'ECONFIG');
    assert.equal(error.message, `Cannot decrypt ${file}: gpg failed: gpg: no valid OpenPGP data found.`);
    return true;
  });
});

/**
 * Credentials from authinfo files in a real send (scripted server): the entry
 * used up front, `smtp-auth` forcing a mechanism, a login without password
 * completed by promptCredentials, and saving prompted credentials only after
 * AUTH succeeded, with mode 0600.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAuthinfo } from '../src/auth/authinfo.js';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { script, type Step } from './helpers/fake-server.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const PASS = 's3cret pass';

async function authinfo(t: TestContext, text: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-flow-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'authinfo');
  await fs.writeFile(file, text, { mode: 0o600 });
  return file;
}

/** A send that authenticates up front with PLAIN. */
function plainAuth(user: string, password: string, mechanisms = 'PLAIN LOGIN'): Step[] {
  return script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH ${mechanisms}
    C: AUTH PLAIN ${b64(`\0${user}\0${password}`)}
    S: 235 ok
    ${DELIVERY}
  `;
}

test('the first matching authinfo entry is used up front; the transcript says which line', async (t) => {
  const file = await authinfo(
    t,
    `machine other.example login x password y\nmachine 127.0.0.1 login alice password "${PASS}"\n`,
  );
  const steps = plainAuth('alice', PASS);
  const c = await converse(steps, { authSources: [file] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.ok(c.trace.includes(`* authenticated as alice with PLAIN (credentials from ${file} line 2)`));
});

test('smtp-auth in the entry forces the mechanism', async (t) => {
  const file = await authinfo(t, `machine 127.0.0.1 login alice password '${PASS}' smtp-auth login\n`);
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH PLAIN LOGIN
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: ${b64('alice')}
    S: 334 UGFzc3dvcmQ6
    C: ${b64(PASS)}
    S: 235 ok
    ${DELIVERY}
  `;
  const c = await converse(steps, { authSources: [file] });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.authMechanism, 'LOGIN');
});

test('an entry with a login and no password: promptCredentials supplies the password', async (t) => {
  const file = await authinfo(t, 'machine 127.0.0.1 login alice\n');
  const asked: unknown[] = [];
  const steps = plainAuth('alice', PASS);
  const c = await converse(steps, {
    authSources: [file],
    promptCredentials: async (request) => {
      asked.push(request.user);
      return { user: 'alice', password: PASS };
    },
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(asked, ['alice']);
});

test('an entry with a login and no password, no prompt: EAUTH naming the file and line, before AUTH', async (t) => {
  const file = await authinfo(t, '# mine\nmachine 127.0.0.1 login alice\n');
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH PLAIN
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { authSources: [file] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(
    c.error?.message,
    `${file} line 2: the entry has a login but no password, and no promptCredentials callback was given`,
  );
});

test('prompted credentials with save: written to the first authinfo file after AUTH succeeded, mode 0600', async (t) => {
  const file = await authinfo(t, 'machine elsewhere.example login bob password other\n');
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH PLAIN
    C: MAIL FROM:<a@x.org>
    S: 530 5.7.0 Authentication required
    C: RSET
    S: 250 ok
    C: AUTH PLAIN ${b64('\0alice\0p#ss "quoted" word')}
    S: 235 ok
    ${DELIVERY}
  `;
  const c = await converse(steps, {
    authSources: [file],
    promptCredentials: async () => ({ user: 'alice', password: 'p#ss "quoted" word', save: true }),
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  const saved = parseAuthinfo(await fs.readFile(file, 'utf8'), file);
  assert.deepEqual(
    saved.map((e) => [e.host, e.user, e.password]),
    [
      ['127.0.0.1', 'alice', 'p#ss "quoted" word'],
      ['elsewhere.example', 'bob', 'other'],
    ],
  );
  assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
});

test('prompted credentials with save, AUTH refused: nothing is saved', async (t) => {
  const file = await authinfo(t, 'machine elsewhere.example login bob password other\n');
  const before = await fs.readFile(file, 'utf8');
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 AUTH PLAIN
    C: MAIL FROM:<a@x.org>
    S: 530 5.7.0 Authentication required
    C: RSET
    S: 250 ok
    C: AUTH PLAIN ${b64('\0alice\0wrong')}
    S: 535 5.7.8 no
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, {
    authSources: [file],
    promptCredentials: async () => ({ user: 'alice', password: 'wrong', save: true }),
  });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EAUTH');
  assert.equal(await fs.readFile(file, 'utf8'), before);
});

test('an authinfo file readable by others: a warning in the transcript', async (t) => {
  const file = await authinfo(t, `machine 127.0.0.1 login alice password "${PASS}"\n`);
  await fs.chmod(file, 0o644);
  const steps = plainAuth('alice', PASS);
  const c = await converse(steps, { authSources: [file] });
  assert.equal(c.error, undefined);
  assert.ok(
    c.trace.some((line) => line.startsWith('* warning:') && line.includes(file)),
    c.trace.join('\n'),
  );
  assert.ok(!c.trace.some((line) => line.includes(PASS)));
});

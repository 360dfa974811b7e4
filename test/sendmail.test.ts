/**
 * `X-Message-SMTP-Method: sendmail`: the message goes to a sendmail program
 * (a stand-in script here) as `-oi -t`, with Bcc kept for `-t` and the method
 * header removed; failures are typed.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sendMail } from '../src/index.js';

async function fakeSendmail(t: TestContext, exitCode: number): Promise<{ program: string; dir: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-sendmail-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const program = path.join(dir, 'sendmail');
  const script =
    `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/args"\ncat > "${dir}/message"\necho "queue file full" ` +
    `>&2\nexit ${exitCode}\n`;
  await fs.writeFile(program, script, { mode: 0o755 });
  return { program, dir };
}

const MESSAGE = 'X-Message-SMTP-Method: sendmail\nFrom: a@x.org\nTo: b@y.org\nBcc: c@z.org\n\nbody\n';

test('sendmail method: -oi -t, Bcc kept for -t, the method header removed', async (t) => {
  const { program, dir } = await fakeSendmail(t, 0);
  const result = await sendMail(MESSAGE, { sendmailProgram: program, addMissingHeaders: false, authSources: [] });
  assert.equal(await fs.readFile(path.join(dir, 'args'), 'utf8'), '-oi\n-t\n');
  assert.equal(
    await fs.readFile(path.join(dir, 'message'), 'utf8'),
    'From: a@x.org\nTo: b@y.org\nBcc: c@z.org\n\r\nbody\n',
  );
  assert.deepEqual(result.envelope, { from: 'a@x.org', to: ['b@y.org', 'c@z.org'] });
});

test('sendmail exits 75 (EX_TEMPFAIL): ESENDMAIL, transient, with its message', async (t) => {
  const { program } = await fakeSendmail(t, 75);
  await assert.rejects(sendMail(MESSAGE, { sendmailProgram: program, authSources: [] }), {
    code: 'ESENDMAIL',
    transient: true,
    message: `${program} exited with status 75: queue file full`,
  });
});

test('no such sendmail program: ECONFIG naming it', async () => {
  await assert.rejects(sendMail(MESSAGE, { sendmailProgram: '/nonexistent/sendmail', authSources: [] }), {
    code: 'ECONFIG',
    message: /"\/nonexistent\/sendmail" was not found/,
  });
});

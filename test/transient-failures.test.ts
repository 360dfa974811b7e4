/**
 * Failures that seconds cannot clear (greylisting, other 4.7.x, 452) fail
 * fast with `transient` and a hint instead of blocking the caller with
 * retries; `queueOnTransientFailure` puts such a message in the offline
 * queue and resolves with where it went and why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import { sendMail, SmtpProtocolError, type QueuedMail } from '../src/index.js';
import { assertTranscript, converse } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';
import { withQueueDir } from './helpers/queue-dir.js';

const HELLO = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250 mail.example.org
C: MAIL FROM:<a@x.org>
`;

test('greylisting at MAIL: one attempt, transient, with a hint, although retries are left', async () => {
  const steps = script`
    ${HELLO}
    S: 450 4.7.1 Greylisted, please try again in 5 minutes
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { retries: 10, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESENDER');
  assert.equal(c.error?.transient, true);
  assert.equal(c.error?.attempts, 1);
  assert.match(c.error?.hint ?? '', /greylisting/);
  assert.match(c.error?.hint ?? '', /queueOnTransientFailure/);
});

test('greylisting at RCPT (text only, no 4.7 code) and 452 at MAIL: no retry either', async () => {
  const rcpt = script`
    ${HELLO}
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 451 4.2.0 Recipient greylisted, come back later
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(rcpt, { retries: 10, retryDelay: 1 });
  assertTranscript(c, rcpt);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(c.error?.transient, true);
  assert.match(c.error?.hint ?? '', /greylisting/);

  const storage = script`
    ${HELLO}
    S: 452 4.3.1 Insufficient system storage
    C: QUIT
    S: 221 bye
  `;
  const d = await converse(storage, { retries: 10, retryDelay: 1 });
  assertTranscript(d, storage);
  assert.equal(d.error?.attempts, 1);
  assert.equal(d.error?.transient, true);
  assert.match(d.error?.hint ?? '', /storage/);
});

test('queueOnTransientFailure: a greylisted message goes to the queue; the promise resolves with the path and the error', async () => {
  await withQueueDir(async (queueDir) => {
    const steps = script`
      ${HELLO}
      S: 451 4.7.1 Greylisted
      C: QUIT
      S: 221 bye
    `;
    const c = await converse(
      steps,
      { queueOnTransientFailure: true, queueDir, retries: 10, retryDelay: 1 },
      'Subject: hi\r\n\r\nhello\r\n',
    );
    assertTranscript(c, steps);
    assert.equal(c.error, undefined);
    const queued = c.result as unknown as QueuedMail;
    assert.equal(queued.queued, true);
    assert.equal(queued.error?.code, 'ESENDER');
    assert.equal(queued.error?.reply?.code, 451);
    assert.deepEqual(queued.envelope, { from: 'a@x.org', to: ['b@y.org'] });
    assert.equal(await fs.readFile(queued.path, 'utf8'), 'Subject: hi\nhello\n'.replace('\n', '\n\n'));
    assert.deepEqual((await fs.readFile(`${queueDir}/index`, 'utf8')).trim().split('\n'), [queued.path]);
  });
});

test('queueOnTransientFailure does not queue a permanent refusal, nor a message that may have been delivered', async () => {
  await withQueueDir(async (queueDir) => {
    const permanent = script`
      ${HELLO}
      S: 550 5.7.1 not allowed
      C: QUIT
      S: 221 bye
    `;
    const c = await converse(permanent, { queueOnTransientFailure: true, queueDir });
    assert.equal(c.error?.code, 'ESENDER');
    const unknown = script`
      ${HELLO}
      S: 250 ok
      C: RCPT TO:<b@y.org>
      S: 250 ok
      C: DATA
      S: 354 go
      C: hello
      C: .
      !close
    `;
    const d = await converse(unknown, { queueOnTransientFailure: true, queueDir });
    assert.equal(d.error?.code, 'EUNKNOWN_DELIVERY');
    await assert.rejects(fs.access(queueDir), { code: 'ENOENT' });
  });
});

test('queueOnTransientFailure when the server is down: queued with the connection error', async () => {
  await withQueueDir(async (queueDir) => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await sendMail('From: a@x.org\r\nTo: b@y.org\r\n\r\nhi\r\n', {
      server: '127.0.0.1',
      port,
      queueDir,
      queueOnTransientFailure: true,
      authSources: [],
    });
    assert.ok('queued' in result);
    assert.ok(result.error instanceof SmtpProtocolError);
    assert.equal(result.error.code, 'ECONNECTION');
  });
});

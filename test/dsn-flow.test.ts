/**
 * The `dsn` option (RFC 3461) in scripted conversations: RET and ENVID on MAIL, NOTIFY and ORCPT on every RCPT when
 * the server offers DSN (xtext edge cases on the wire, byte for byte), the message sent without them when it does not
 * (result `dsn: 'not offered'`), the checks made before connecting, and what the server decoded (npm smtp-server).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNothingLeftOpen, assertTranscript, converse, SHORT_TIMEOUTS } from './helpers/converse.js';
import { clientBytes, script, startFakeServer } from './helpers/fake-server.js';
import { withQueueDir } from './helpers/queue-dir.js';
import { withScriptedClient } from './helpers/scripted-client.js';
import { withRealServer } from './helpers/real-server.js';
import { sendMail, sendQueuedMail, type SendResult } from '../src/index.js';

const GREETING = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
`;

const DATA = `
C: DATA
S: 354 go
C: hello
C: .
S: 250 2.0.0 queued
`;

test('DSN offered: RET and ENVID on MAIL, NOTIFY and ORCPT on RCPT, xtext-encoded; the result says sent', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 DSN
    C: MAIL FROM:<a@x.org> RET=HDRS ENVID=id+20+2B+3D!~"<>
    S: 250 ok
    C: RCPT TO:<b@y.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;B+2Btag+3D1@Y.org
    S: 250 ok
    ${DATA}
    C: QUIT
    S: 221 bye`;
  const c = await converse(steps, {
    dsn: { ret: 'HDRS', envid: 'id +=!~"<>', notify: ['SUCCESS', 'FAILURE', 'DELAY'], orcpt: 'B+tag=1@Y.org' },
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.dsn, 'sent');
});

test('NOTIFY=NEVER goes on every RCPT; with PIPELINING and CHUNKING the parameters ride the one-write BDAT', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250-CHUNKING
    S: 250 DSN
    C: MAIL FROM:<a@x.org> ENVID=job-7
    C: RCPT TO:<b@y.org> NOTIFY=NEVER
    C: RCPT TO:<c@y.org> NOTIFY=NEVER
    S: 250 ok
    S: 250 ok
    S: 250 ok
    C: BDAT 7 LAST
    C: hello
    S: 250 2.0.0 queued
    C: QUIT
    S: 221 bye`;
  const c = await converse(steps, {
    recipients: ['b@y.org', 'c@y.org'],
    partial: true,
    dsn: { notify: 'NEVER', envid: 'job-7' },
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.deepEqual(c.result?.accepted, ['b@y.org', 'c@y.org']);
  assert.equal(c.result?.dsn, 'sent');
});

test('DSN not offered: the message goes without the parameters, the result and the transcript say so', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 8BITMIME
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    ${DATA}
    C: QUIT
    S: 221 bye`;
  const c = await converse(steps, { dsn: { ret: 'FULL', envid: 'x', notify: ['SUCCESS'], orcpt: 'b@y.org' } });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.dsn, 'not offered');
  assert.ok(
    c.trace.includes('* the server does not offer DSN: the message goes without RET, ENVID, NOTIFY and ORCPT'),
    c.trace.join('\n'),
  );
});

test('without the dsn option nothing is added, even when DSN is offered; the result has no dsn', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 DSN
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    ${DATA}
    C: QUIT
    S: 221 bye`;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.result?.dsn, undefined);
});

test('refused before connecting: a bad dsn (ECONFIG), text with CR/LF (EINPUT), an orcpt for two recipients', async () => {
  const nothing = script``;
  const rows: [Parameters<typeof converse>[1], string, RegExp][] = [
    [{ dsn: { ret: 'NONE' } as never }, 'ECONFIG', /^invalid option dsn: an object; dsn must be an object whose ret/],
    [{ dsn: { notify: ['NEVER', 'FAILURE'] } as never }, 'ECONFIG', /NEVER cannot be combined/],
    [{ dsn: {} }, 'ECONFIG', /at least one/],
    [{ dsn: { envid: 'x'.repeat(101) } }, 'ECONFIG', /RFC 3461 §4\.4 allows 100/],
    [{ dsn: { envid: 'id\r\nRSET' } }, 'EINPUT', /the dsn envid contains CR, LF or NUL/],
    [{ dsn: { orcpt: 'b@y.org\nDATA' } }, 'EINPUT', /the dsn orcpt contains CR, LF or NUL/],
    [{ dsn: { orcpt: 'j\u00fcrgen@y.org' } }, 'EINPUT', /must be printable US-ASCII/],
    [
      { dsn: { orcpt: 'b@y.org' }, recipients: ['b@y.org', 'c@y.org'] },
      'ECONFIG',
      /the dsn orcpt names the original address of one recipient, and this message has 2 \(RFC 3461 §4\.2/,
    ],
    [{ dsn: { notify: 'NEVER' }, queueMail: true } as never, 'ECONFIG', /queueMail` option and the `dsn` option/],
    [
      { dsn: { notify: 'NEVER' }, queueOnTransientFailure: true },
      'ECONFIG',
      /the `queueOnTransientFailure` option and the `dsn` option cannot go together: the queue's files/,
    ],
  ];
  for (const [options, code, message] of rows) {
    const c = await converse(nothing, options);
    assert.equal(c.error?.code, code, JSON.stringify(options));
    assert.match(c.error?.message ?? '', message);
    assert.equal(c.outcome.received, '', 'nothing was sent');
  }
});

test('a message for a sendmail program with dsn: ECONFIG, the program never run', async () => {
  const c = await converse(
    script``,
    { dsn: { notify: 'NEVER' }, sendmailProgram: '/nonexistent/sendmail' },
    'X-Message-SMTP-Method: sendmail\r\nTo: b@y.org\r\n\r\nhello\r\n',
  );
  assert.equal(c.error?.code, 'ECONFIG');
  assert.match(c.error?.message ?? '', /goes to a sendmail program .* cannot be handed the `dsn` option/);
});

test('SmtpClient: dsn per message; one message with it and one without share the connection', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 DSN
    C: MAIL FROM:<a@x.org> RET=HDRS
    S: 250 ok
    C: RCPT TO:<b@y.org> NOTIFY=FAILURE ORCPT=rfc822;b@y.org
    S: 250 ok
    ${DATA}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    ${DATA}
    C: QUIT
    S: 221 bye`;
  const results: SendResult[] = [];
  await withScriptedClient(steps, { recipients: ['b@y.org'] }, async (client) => {
    results.push(await client.send('hello\r\n', { dsn: { ret: 'HDRS', notify: ['FAILURE'], orcpt: 'b@y.org' } }));
    results.push(await client.send('hello\r\n'));
  });
  assert.deepEqual(
    results.map((r) => r.dsn),
    ['sent', undefined],
  );
});

test('smtp-server receives them: RET, ENVID, NOTIFY and ORCPT as it decodes them', async () => {
  // smtp-server hides DSN unless asked (hideDSN defaults to true).
  await withRealServer({ disabledCommands: ['STARTTLS'], hideDSN: false }, async (server) => {
    const result = await sendMail('From: a@x.org\r\nTo: b@y.org\r\n\r\nhello\r\n', {
      server: '127.0.0.1',
      port: server.port,
      streamType: 'plain',
      authSources: [],
      dsn: { ret: 'FULL', envid: 'order 42+1=43', notify: ['SUCCESS', 'DELAY'], orcpt: 'b+list@y.org' },
    });
    assert.equal(result.dsn, 'sent');
    const [received] = server.received;
    assert.deepEqual(
      { ret: received?.mailArgs['RET'], envid: received?.mailArgs['ENVID'] },
      { ret: 'FULL', envid: 'order 42+1=43' },
    );
    assert.deepEqual(received?.rcptArgs, [{ NOTIFY: 'SUCCESS,DELAY', ORCPT: 'rfc822;b+list@y.org' }]);
  });
});

test('the queue keeps no dsn, so the flush is given it: sendQueuedMail applies it to every message it sends', async () => {
  await withQueueDir(async (queueDir) => {
    const message = 'From: a@x.org\nTo: b@y.org\n\nhello\n';
    await sendMail(message, { queueMail: true, queueDir, addMissingHeaders: false });
    const steps = script`
      ${GREETING}
      S: 250-mail.example.org
      S: 250 DSN
      C: MAIL FROM:<a@x.org> ENVID=q1
      S: 250 ok
      C: RCPT TO:<b@y.org> NOTIFY=NEVER
      S: 250 ok
      C: DATA
      S: 354 go
      C: From: a@x.org
      C: To: b@y.org
      C:
      C: hello
      C: .
      S: 250 2.0.0 queued
      C: QUIT
      S: 221 bye`;
    const server = await startFakeServer(steps);
    const report = await sendQueuedMail({
      queueDir,
      server: server.host,
      port: server.port,
      clientName: 'client.example',
      authSources: [],
      timeouts: SHORT_TIMEOUTS,
      dsn: { notify: 'NEVER', envid: 'q1' },
    });
    server.stop();
    assert.equal((await server.done).received, clientBytes(steps));
    assert.deepEqual(
      report.sent.map((sent) => sent.result.dsn),
      ['sent'],
    );
  });
  await assertNothingLeftOpen();
});

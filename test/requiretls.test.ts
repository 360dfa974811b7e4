/**
 * `requireTls` (RFC 8689) in scripted conversations over STARTTLS with the fixture certificate: `MAIL FROM:<...>
 * REQUIRETLS` only on a TLS session with a verified certificate whose server offers REQUIRETLS after the handshake,
 * else EPOLICY with nothing of the message sent; the `TLS-Required: No` field (sent as it is, no REQUIRETLS, no
 * change to the connection; ECONFIG with requireTls; one field, value No); and what smtp-server recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTranscript, converse } from './helpers/converse.js';
import { fixture, script } from './helpers/fake-server.js';
import { withRealServer, type RealServerOptions } from './helpers/real-server.js';
import { sendMail } from '../src/index.js';

const STARTTLS = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
!tls
C: EHLO client.example
`;

const REST = `
C: RCPT TO:<b@y.org>
S: 250 ok
C: DATA
S: 354 go
C: hello
C: .
S: 250 2.0.0 queued
C: QUIT
S: 221 bye
`;

const REFUSED = `
C: QUIT
S: 221 bye
`;

test('STARTTLS, a verified certificate and REQUIRETLS offered after it: MAIL FROM carries REQUIRETLS', async () => {
  const steps = script`
    ${STARTTLS}
    S: 250-mail.example.org
    S: 250-DSN
    S: 250 REQUIRETLS
    C: MAIL FROM:<a@x.org> RET=HDRS REQUIRETLS
    S: 250 ok
    ${REST}`;
  const c = await converse(steps, {
    server: 'localhost',
    streamType: 'starttls',
    requireTls: true,
    dsn: { ret: 'HDRS' },
  });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.tls?.authorized, true);
});

test('REQUIRETLS offered before STARTTLS only: forgotten with the other capabilities, EPOLICY, nothing sent', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-REQUIRETLS
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    !tls
    C: EHLO client.example
    S: 250 mail.example.org
    ${REFUSED}`;
  const c = await converse(steps, { server: 'localhost', requireTls: true });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPOLICY');
  assert.equal(
    c.error?.detail,
    'the message requires TLS (REQUIRETLS, RFC 8689) and the server does not offer REQUIRETLS: nothing was sent',
  );
  assert.match(c.error?.hint ?? '', /does not list REQUIRETLS in its EHLO reply after TLS/);
  assert.equal(c.error?.transient, false);
  assert.equal(c.error?.attempts, 1);
});

test('no TLS (opportunistic, STARTTLS not offered): EPOLICY before MAIL, the hint names the stream types', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 REQUIRETLS
    ${REFUSED}`;
  const c = await converse(steps, { requireTls: true, retries: 3, retryDelay: 1 });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPOLICY');
  assert.match(c.error?.message ?? '', /and the connection is not encrypted: nothing was sent/);
  assert.match(c.error?.hint ?? '', /streamType 'starttls' \(usually port 587\) or streamType 'ssl'/);
});

test('a certificate not verified (rejectUnauthorized: false), even one that would verify: EPOLICY', async () => {
  for (const ca of ['other-ca.pem', 'ca.pem']) {
    const steps = script`
      ${STARTTLS}
      S: 250-mail.example.org
      S: 250 REQUIRETLS
      ${REFUSED}`;
    const c = await converse(steps, {
      server: 'localhost',
      streamType: 'starttls',
      tls: { ca: fixture(ca), rejectUnauthorized: false },
      requireTls: true,
    });
    assertTranscript(c, steps);
    assert.equal(c.error?.code, 'EPOLICY', ca);
    assert.match(c.error?.message ?? '', /the server's certificate was not verified: nothing was sent/);
    assert.match(c.error?.hint ?? '', /drop rejectUnauthorized: false/);
  }
});

test('TLS-Required: No is sent as it is, without REQUIRETLS, over the connection as configured', async () => {
  const steps = script`
    ${STARTTLS}
    S: 250-mail.example.org
    S: 250 REQUIRETLS
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: tls-required:   no
    C:
    C: hello
    C: .
    S: 250 2.0.0 queued
    C: QUIT
    S: 221 bye`;
  const c = await converse(
    steps,
    { server: 'localhost', streamType: 'starttls' },
    'tls-required:   no\r\n\r\nhello\r\n',
  );
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test("'starttls' required and TLS-Required: No: the message does not lower the connection's TLS (ETLS)", async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    ${REFUSED}`;
  const c = await converse(steps, { streamType: 'starttls' }, 'TLS-Required: No\r\n\r\nhello\r\n');
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETLS');
});

test('requireTls with TLS-Required: No (ECONFIG); two TLS-Required fields or another value (EINPUT): not connected', async () => {
  const rows: [string, boolean, string, RegExp][] = [
    [
      'TLS-Required: No\r\n\r\nhello\r\n',
      true,
      'ECONFIG',
      /the `requireTls` option asks for REQUIRETLS and the message's "TLS-Required: No" field asks that TLS not be required \(RFC 8689 §4\.3/,
    ],
    [
      'TLS-Required: No\r\nTLS-Required: No\r\n\r\nhello\r\n',
      false,
      'EINPUT',
      /the message has 2 TLS-Required fields; RFC 8689 §3 allows one/,
    ],
    [
      'TLS-Required: Yes\r\n\r\nhello\r\n',
      false,
      'EINPUT',
      /the TLS-Required field says "Yes"; RFC 8689 §3 defines only "No" \(to require TLS, ask for REQUIRETLS: the `requireTls` option\)/,
    ],
  ];
  for (const [message, requireTls, code, expected] of rows) {
    const c = await converse(script``, { requireTls }, message);
    assert.equal(c.error?.code, code, message);
    assert.match(c.error?.message ?? '', expected);
    assert.equal(c.outcome.received, '');
  }
});

test('requireTls with queueOnTransientFailure: ECONFIG, nothing queued or sent', async () => {
  const c = await converse(script``, { requireTls: true, queueOnTransientFailure: true });
  assert.equal(c.error?.code, 'ECONFIG');
  assert.match(
    c.error?.message ?? '',
    /`queueOnTransientFailure` option and the `requireTls` option cannot go together/,
  );
});

test('smtp-server over STARTTLS: REQUIRETLS offered after the handshake, and the envelope records it', async () => {
  let requireTls: boolean | undefined;
  // smtp-server hides REQUIRETLS unless asked (hideREQUIRETLS defaults to true; offered only after TLS).
  await withRealServer(
    {
      hideREQUIRETLS: false,
      onMailFrom(_address, session, callback) {
        requireTls = (session.envelope as { requireTLS?: boolean }).requireTLS;
        callback();
      },
    } as RealServerOptions,
    async (server) => {
      const result = await sendMail('From: a@x.org\r\nTo: b@y.org\r\n\r\nhello\r\n', {
        server: 'localhost',
        port: server.port,
        streamType: 'starttls',
        tls: { ca: fixture('ca.pem') },
        authSources: [],
        requireTls: true,
      });
      assert.equal(result.secure, true);
      assert.equal(server.received[0]?.mailArgs['REQUIRETLS'], true);
    },
  );
  assert.equal(requireTls, true);
});

test('smtp-server with REQUIRETLS hidden (its default): EPOLICY and no MAIL command at all', async () => {
  await withRealServer({}, async (server) => {
    await assert.rejects(
      sendMail('From: a@x.org\r\nTo: b@y.org\r\n\r\nhello\r\n', {
        server: 'localhost',
        port: server.port,
        streamType: 'starttls',
        tls: { ca: fixture('ca.pem') },
        authSources: [],
        requireTls: true,
      }),
      (error: Error & { code?: string }) => error.code === 'EPOLICY',
    );
    assert.equal(server.mailCommands, 0);
  });
});

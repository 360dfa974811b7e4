/**
 * STARTTLS per streamType (SPEC §3.4, RFC 3207) and implicit TLS, against the
 * scripted fake server with the fixture certificate. After `!tls` the
 * received bytes are what the server decrypted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { fixture, script } from './helpers/fake-server.js';

test('opportunistic by default: upgrade, forget the capabilities, EHLO again', async () => {
  // Before TLS the server claims PIPELINING; after TLS it does not. A client that
  // kept the old capabilities would pipeline MAIL/RCPT/DATA and fail the transcript.
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    !tls
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 8BITMIME
    ${DELIVERY}`;
  const c = await converse(steps, { server: 'localhost' });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, true);
  assert.equal(c.result?.tls?.authorized, true);
  assert.ok(c.trace.some((line) => line.startsWith('* TLS established')));
});

test("'plain' never sends STARTTLS, even when offered", async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    ${DELIVERY}`;
  const c = await converse(steps, { streamType: 'plain' });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, false);
});

test('opportunistic: not offered or refused (454), the message goes in clear text, secure: false', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 454 4.7.0 TLS not available due to temporary reason
    ${DELIVERY}`;
  const c = await converse(steps);
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, false);
});

test("'starttls' required but not offered: ETLS, QUIT, nothing sent in clear", async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { streamType: 'starttls' });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETLS');
  assert.match(c.error?.message ?? '', /does not offer STARTTLS/);
});

test("'starttls' required and refused with 454: ETLS with the reply, QUIT", async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 454 4.7.0 TLS not available
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { streamType: 'starttls' });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETLS');
  assert.equal(c.error?.detail, 'Sending failed: 454 4.7.0 TLS not available in response to STARTTLS');
  assert.match(c.error?.hint ?? '', /refused STARTTLS on port \d+: use port 465 with streamType 'ssl'/);
  assert.equal(c.error?.transient, true);
});

test('bytes injected after the 220 to STARTTLS: protocol error, no handshake, nothing more sent', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    S: 250-injected
    S: 250 AUTH PLAIN
    !tls
  `;
  const c = await converse(steps, { server: 'localhost', streamType: 'starttls' });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPROTOCOL');
  assert.match(c.error?.message ?? '', /injection/);
});

test('STARTTLS with a certificate from an unknown CA: ETLS, not one command sent over TLS', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 go ahead
    !tls
  `;
  const c = await converse(steps, { server: 'localhost', tls: { ca: fixture('other-ca.pem') } });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETLS');
  assert.match(c.error?.message ?? '', /certificate/i);
});

test('STARTTLS to a name the certificate does not cover: ETLS (host name checked)', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 go ahead
    !tls
  `;
  // Connect to 127.0.0.1 but verify as mail.example.org, which the fixture certificate does not name.
  const c = await converse(steps, { tls: { ca: fixture('ca.pem'), servername: 'mail.example.org' } });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETLS');
  assert.match(c.error?.message ?? '', /mail\.example\.org/);
});

test('implicit TLS (streamType ssl): TLS from the first byte, no STARTTLS', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 STARTTLS
    ${DELIVERY}`;
  const c = await converse(steps, { streamType: 'ssl' }, 'hello\r\n', { implicitTls: true });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
  assert.equal(c.result?.secure, true);
});

test('implicit TLS with the wrong CA: ETLS before any command', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
  `;
  const c = await converse(steps, { streamType: 'tls', tls: { ca: fixture('other-ca.pem') } }, 'hello\r\n', {
    implicitTls: true,
  });
  assert.equal(c.error?.code, 'ETLS');
  assert.equal(c.outcome.received, '');
  assert.ok(!c.trace.some((line) => line.startsWith('C: ')), 'no command in the transcript');
});

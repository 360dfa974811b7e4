/**
 * SmtpClient over the scripted fake server: one connection for several
 * messages, RSET after a failed transaction, per-message options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpClient } from '../src/client/client.js';
import { SmtpProtocolError } from '../src/errors.js';
import { assertNothingLeftOpen, SHORT_TIMEOUTS } from './helpers/converse.js';
import { clientBytes, script, startFakeServer } from './helpers/fake-server.js';

test('a refused message is followed by RSET; the next message goes through on the same connection', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<nobody@y.org>
    S: 550 5.1.1 no such user
    C: RSET
    S: 250 ok
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: To: b@y.org
    C:
    C: second
    C: .
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  const server = await startFakeServer(steps);
  const client = await SmtpClient.connect({
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    envelopeFrom: 'a@x.org',
    addMissingHeaders: false,
    authSources: [],
    timeouts: SHORT_TIMEOUTS,
  });
  const first = await client.send('To: nobody@y.org\n\nfirst\n').catch((e: unknown) => e);
  assert.ok(first instanceof SmtpProtocolError);
  assert.equal(first.code, 'ERECIPIENT');
  const second = await client.send('To: b@y.org\n\nsecond\n');
  assert.deepEqual(second.accepted, ['b@y.org']);
  await client.quit();
  const outcome = await server.done;
  assert.equal(outcome.received, clientBytes(steps));
  await assertNothingLeftOpen();
});

test('X-Message-SMTP-Method naming another server is refused by a client before anything is sent', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250 mail.example.org
    C: QUIT
    S: 221 bye
  `;
  const server = await startFakeServer(steps);
  const client = await SmtpClient.connect({
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    authSources: [],
    timeouts: SHORT_TIMEOUTS,
  });
  await assert.rejects(
    client.send('X-Message-SMTP-Method: smtp elsewhere.example\nFrom: a@x.org\nTo: b@y.org\n\nx\n'),
    { code: 'ECONFIG' },
  );
  await client.quit();
  assert.equal((await server.done).received, clientBytes(steps));
  await assertNothingLeftOpen();
});

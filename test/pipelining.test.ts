/**
 * Concurrent sends on one SmtpClient: transactions overlap as RFC 2920 allows
 * (the next MAIL follows the previous final dot before its reply), replies
 * stay matched, and a failed transaction in the middle corrupts nothing.
 * BDAT (RFC 3030) transcripts, pipelined and not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpProtocolError } from '../src/errors.js';
import { script } from './helpers/fake-server.js';
import { withScriptedClient as withClient } from './helpers/scripted-client.js';
import { TWO_CHUNKS } from './helpers/two-chunks.js';

const GREETING = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
`;

test('three concurrent sends, the middle one refused: pipelined across transactions, replies matched', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<one@y.org>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: one
    C: .
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<two@y.org>
    C: DATA
    S: 250 queued as 1
    S: 250 ok
    S: 550 5.1.1 no such user
    S: 554 5.5.1 no valid recipients
    C: RSET
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<three@y.org>
    C: DATA
    S: 250 reset
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: three
    C: .
    S: 250 queued as 3
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, {}, async (client) => {
    const sends = ['one', 'two', 'three'].map((name) => client.send(`${name}\r\n`, { recipients: [`${name}@y.org`] }));
    const outcomes = (await Promise.allSettled(sends)).map((o) =>
      o.status === 'fulfilled'
        ? o.value.reply.lines[0]
        : o.reason instanceof SmtpProtocolError
          ? o.reason.code
          : String(o.reason),
    );
    assert.deepEqual(outcomes, ['queued as 1', 'ERECIPIENT', 'queued as 3']);
  });
});

test('without PIPELINING concurrent sends go strictly one command at a time', async () => {
  const steps = script`
    ${GREETING}
    S: 250 mail.example.org
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<one@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: one
    C: .
    S: 250 queued as 1
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<two@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: two
    C: .
    S: 250 queued as 2
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, {}, async (client) => {
    const results = await Promise.all(
      ['one', 'two'].map((name) => client.send(`${name}\r\n`, { recipients: [`${name}@y.org`] })),
    );
    assert.deepEqual(
      results.map((r) => r.reply.lines[0]),
      ['queued as 1', 'queued as 2'],
    );
  });
});

test('BDAT with PIPELINING, one recipient: MAIL, RCPT and BDAT LAST with the message in one go', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 CHUNKING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 12 LAST
    C: .dot stays
    S: 250 ok
    S: 250 ok
    S: 250 2.0.0 queued
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, { chunking: true }, async (client) => {
    const result = await client.send('.dot stays\n', { recipients: ['b@y.org'] });
    assert.equal(result.reply.enhancedCode, '2.0.0');
  });
});

test('BDAT with two recipients: the envelope is checked before any message byte goes out', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 CHUNKING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 ok
    S: 250 ok
    S: 250 ok
    C: BDAT 7 LAST
    C: hello
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, { chunking: true }, async (client) => {
    await client.send('hello\n', { recipients: ['b@y.org', 'c@y.org'] });
  });
});

test('BDAT without PIPELINING: one command at a time', async () => {
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250 CHUNKING
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: BDAT 7 LAST
    C: hello
    S: 250 queued
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, { chunking: true }, async (client) => {
    await client.send('hello', { recipients: ['b@y.org'] });
  });
});

test('a refused BDAT chunk with PIPELINING: every reply owed is read, so the next transaction reads its own', async () => {
  // Two recipients: the envelope's replies come before the message (above); over 1 MiB: two BDAT chunks, the first
  // answered 552 after both went (RFC 3030 §2: the server discards the rest, and answers LAST too).
  const steps = script`
    ${GREETING}
    S: 250-mail.example.org
    S: 250-PIPELINING
    S: 250 CHUNKING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 ok
    S: 250 ok
    S: 250 ok
    ${TWO_CHUNKS.first}
    ${TWO_CHUNKS.last}
    S: 552 5.3.4 message too big for this chunk
    S: 554 5.5.1 transaction failed earlier
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 7 LAST
    C: small
    S: 250 ok
    S: 250 ok
    S: 250 2.0.0 queued as 2
    C: QUIT
    S: 221 bye
  `;
  await withClient(steps, { chunking: true }, async (client) => {
    await assert.rejects(
      client.send(TWO_CHUNKS.message, { recipients: ['b@y.org', 'c@y.org'] }),
      (error: unknown) => error instanceof SmtpProtocolError && error.code === 'EDATA' && /552/.test(error.message),
    );
    const result = await client.send('small\r\n', { recipients: ['b@y.org'] });
    assert.deepEqual(result.reply.lines, ['2.0.0 queued as 2']);
  });
});

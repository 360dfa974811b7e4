/**
 * Scripted conversations with a broken or hostile server and with bad caller
 * input: every case ends in a typed error, never a hang, with the socket closed
 * and the full client transcript asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTranscript, converse } from './helpers/converse.js';
import { script } from './helpers/fake-server.js';

const GREETING = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250 8BITMIME
`;

test('a reply with mixed codes is a protocol error; no QUIT on a broken stream', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 550 PIPELINING
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPROTOCOL');
  assert.match(c.error?.message ?? '', /mixed|code/i);
});

test('an over-long reply line is a protocol error before its line end arrives', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S~: 250-${'x'.repeat(20_000)}
    !hang
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EPROTOCOL');
  assert.ok((c.error?.message.length ?? 0) < 300, 'the error quotes a bounded part of the line');
});

test('the server closes in the middle of a reply: ECONNECTION, transient', async () => {
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org>
    S~: 250-first line of a reply that never ends
    !close
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ECONNECTION');
  assert.equal(c.error?.transient, true);
});

test('a server that never answers: timeout, socket closed, no hang', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    !hang
  `;
  const c = await converse(steps, { timeouts: { command: 150 } });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETIMEOUT');
  assert.match(c.error?.message ?? '', /150 ms.*EHLO client\.example/);
});

test('a server that never greets: the greeting timeout applies', async () => {
  const steps = script`
    !hang
  `;
  const c = await converse(steps, { timeouts: { greeting: 100 } });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ETIMEOUT');
  assert.match(c.error?.message ?? '', /greeting/);
});

test('RCPT refused: no DATA, the error lists the recipient and reply, then QUIT', async () => {
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 550 5.1.1 <b@y.org>: Recipient address rejected
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(
    c.error?.message,
    'Sending failed: 550 5.1.1 <b@y.org>: Recipient address rejected in response to RCPT TO:<b@y.org>',
  );
  assert.equal(c.error?.command, 'RCPT TO:<b@y.org>');
  assert.deepEqual(
    c.error?.rejected.map((r) => [r.recipient, r.reply.code, r.reply.enhancedCode]),
    [['b@y.org', 550, '5.1.1']],
  );
  assert.equal(c.error?.transient, false);
});

test('pipelined RCPT refused and a server that still answers DATA with 354: dropped without the final dot', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: DATA
    S: 250 ok
    S: 450 4.2.1 mailbox busy
    S: 354 go ahead anyway
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.equal(c.error?.transient, true);
  assert.deepEqual(
    c.error?.rejected.map((r) => r.recipient),
    ['b@y.org'],
  );
});

test('pipelined, one of two recipients refused: no DATA at all, the error lists it, QUIT', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: RCPT TO:<c@y.org>
    S: 250 ok
    S: 250 ok
    S: 450 4.2.1 mailbox busy
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps, { recipients: ['b@y.org', 'c@y.org'] });
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ERECIPIENT');
  assert.match(c.error?.message ?? '', /1 of 2 recipients refused: <c@y\.org> \(450 4\.2\.1 mailbox busy\)/);
});

test('DATA 554: EDATA naming DATA, then QUIT', async () => {
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 554 5.5.1 no valid recipients
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EDATA');
  assert.equal(c.error?.message, 'Sending failed: 554 5.5.1 no valid recipients in response to DATA');
});

test('final dot 552: ESIZE with the server text, then QUIT', async () => {
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    S: 552 5.3.4 message too big
    C: QUIT
    S: 221 bye
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'ESIZE');
  assert.equal(c.error?.detail, 'Sending failed: 552 5.3.4 message too big in response to .');
  assert.match(c.error?.hint ?? '', /accepts messages up to/);
});

test('connection lost after the final dot: EUNKNOWN_DELIVERY, not transient', async () => {
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org>
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: hello
    C: .
    !close
  `;
  const c = await converse(steps);
  assertTranscript(c, steps);
  assert.equal(c.error?.code, 'EUNKNOWN_DELIVERY');
  assert.equal(c.error?.transient, false);
});

for (const [name, bad] of [
  ['CR', '\r'],
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['NUL', '\0'],
] as const) {
  test(`${name} in an address is refused before anything is written`, async () => {
    const steps = script`
      S: 220 mail.example.org ESMTP
    `;
    const asRecipient = await converse(steps, { recipients: [`b@y.org${bad}RCPT TO:<evil@z.org>`] });
    assert.equal(asRecipient.error?.code, 'EINPUT');
    assert.equal(asRecipient.outcome.received, '');
    assert.ok(!asRecipient.error?.message.includes(bad));
    const asSender = await converse(steps, { envelopeFrom: `a@x.org${bad}DATA` });
    assert.equal(asSender.error?.code, 'EINPUT');
    assert.equal(asSender.outcome.received, '');
  });
}

test('a NUL byte in the message is refused before anything is written', async () => {
  const c = await converse(script`S: 220 ready`, {}, 'hel\0lo\r\n');
  assert.equal(c.error?.code, 'EINPUT');
  assert.equal(c.outcome.received, '');
});

test('a NUL byte or a read error in a streamed message: EINPUT, dropped without the final dot', async () => {
  // A stream's content is not known in advance: BODY=8BITMIME is declared when offered (RFC 6152).
  const steps = script`
    ${GREETING}
    C: MAIL FROM:<a@x.org> BODY=8BITMIME
    S: 250 ok
    C: RCPT TO:<b@y.org>
    S: 250 ok
    C: DATA
    S: 354 go
    C: first chunk
  `;
  // A pause between chunks, so that the first one is on the wire before the failure.
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
  async function* withNul(): AsyncGenerator<string> {
    yield 'first chunk\r\n';
    await pause();
    yield 'then a \0 byte\r\n';
  }
  const nul = await converse(steps, {}, withNul());
  assertTranscript(nul, steps);
  assert.equal(nul.error?.code, 'EINPUT');
  assert.match(nul.error?.message ?? '', /NUL byte at offset 20/);

  async function* failing(): AsyncGenerator<string> {
    yield 'first chunk\r\n';
    await pause();
    throw new Error('disk on fire');
  }
  const broken = await converse(steps, {}, failing());
  assertTranscript(broken, steps);
  assert.equal(broken.error?.code, 'EINPUT');
  assert.match(broken.error?.message ?? '', /disk on fire/);
});

/**
 * Fewest round trips by default (#18): BDAT when the server offers CHUNKING, DATA otherwise or with
 * `chunking: false`; the next transaction's commands in the same write as the previous final dot;
 * a server whose BDAT does not work; sendMail resolving on the final reply without waiting for the 221.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sendMail } from '../src/index.js';
import { SmtpProtocolError } from '../src/errors.js';
import { formatTrace, type TraceEvent } from '../src/wire/trace.js';
import { SHORT_TIMEOUTS, assertNothingLeftOpen, assertTranscript, converse } from './helpers/converse.js';
import { script, startFakeServer } from './helpers/fake-server.js';
import { withScriptedClient as withClient } from './helpers/scripted-client.js';

const CHUNKING = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250-PIPELINING
S: 250 CHUNKING
`;

const BDAT_ONE_WRITE = `
C: MAIL FROM:<a@x.org>
C: RCPT TO:<b@y.org>
C: BDAT 7 LAST
C: hello
S: 250 ok
S: 250 ok
S: 250 queued
`;

const BY_DATA = `
C: MAIL FROM:<a@x.org>
C: RCPT TO:<b@y.org>
C: DATA
S: 250 ok
S: 250 ok
S: 354 go
C: hello
C: .
S: 250 queued
`;

const QUIT = `
C: QUIT
S: 221 bye
`;

test('default options: a message in memory goes by BDAT when CHUNKING is offered, in one write with its envelope', async () => {
  const steps = script`${CHUNKING}${BDAT_ONE_WRITE}${QUIT}`;
  const c = await converse(steps);
  assert.equal(c.result?.reply.lines[0], 'queued');
  assertTranscript(c, steps);
  assert.ok(
    c.outcome.segments.some(
      (segment) => segment.startsWith('MAIL FROM:<a@x.org>\r\n') && segment.endsWith('hello\r\n'),
    ),
    'MAIL, RCPT, BDAT LAST and the message arrive in one segment',
  );
});

test('chunking: false sends by DATA although CHUNKING is offered', async () => {
  const steps = script`${CHUNKING}${BY_DATA}${QUIT}`;
  const c = await converse(steps, { chunking: false });
  assert.equal(c.result?.reply.lines[0], 'queued');
  assertTranscript(c, steps);
});

test('default options: DATA when CHUNKING is not offered', async () => {
  const steps = script`
    S: 220 mail.example.org ESMTP
    C: EHLO client.example
    S: 250-mail.example.org
    S: 250 PIPELINING
    ${BY_DATA}
    ${QUIT}
  `;
  const c = await converse(steps);
  assert.equal(c.result?.reply.lines[0], 'queued');
  assertTranscript(c, steps);
});

test('default options: a stream goes by BDAT too (envelope first, then the chunks); chunking: false by DATA', async () => {
  const byBdat = script`
    ${CHUNKING}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    S: 250 ok
    S: 250 ok
    C: BDAT 7 LAST
    C: hello
    S: 250 queued
    ${QUIT}
  `;
  const b = await converse(byBdat, {}, Readable.from([Buffer.from('hel'), Buffer.from('lo\r\n')]));
  assert.equal(b.result?.reply.lines[0], 'queued');
  assertTranscript(b, byBdat);

  const byData = script`${CHUNKING}${BY_DATA}${QUIT}`;
  const c = await converse(byData, { chunking: false }, Readable.from([Buffer.from('hel'), Buffer.from('lo\r\n')]));
  assert.equal(c.result?.reply.lines[0], 'queued');
  assertTranscript(c, byData);
});

test('with DATA and PIPELINING, the next transaction follows the final dot in the same write', async () => {
  const steps = script`
    ${CHUNKING}
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
    S: 250 queued 1
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: two
    C: .
    S: 250 queued 2
    ${QUIT}
  `;
  let segments: readonly string[] = [];
  await withClient(steps, { chunking: false }, async (client) => {
    const sends = ['one', 'two'].map((name) => client.send(`${name}\r\n`, { recipients: [`${name}@y.org`] }));
    const results = await Promise.all(sends);
    assert.deepEqual(
      results.map((r) => r.reply.lines[0]),
      ['queued 1', 'queued 2'],
    );
  }).then((outcome) => (segments = outcome.segments));
  assert.ok(
    segments.includes('one\r\n.\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<two@y.org>\r\nDATA\r\n'),
    `the final dot and the next MAIL group in one write: ${JSON.stringify(segments)}`,
  );
});

test('a server that offers CHUNKING and refuses BDAT as a command: a clear EDATA with the hint; then DATA', async () => {
  const steps = script`
    ${CHUNKING}
    C: MAIL FROM:<a@x.org>
    C: RCPT TO:<b@y.org>
    C: BDAT 7 LAST
    C: hello
    S: 250 ok
    S: 250 ok
    S: 502 5.5.1 BDAT not implemented
    ${BY_DATA}
    ${QUIT}
  `;
  const trace: string[] = [];
  const events: TraceEvent[] = [];
  const onTrace = (event: TraceEvent): void => void (trace.push(formatTrace(event)), events.push(event));
  await withClient(steps, { onTrace }, async (client) => {
    const error = await client.send('hello\r\n', { recipients: ['b@y.org'] }).then(
      () => assert.fail('BDAT was refused'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof SmtpProtocolError);
    assert.equal(error.code, 'EDATA');
    assert.equal(error.reply?.code, 502);
    assert.match(error.hint ?? '', /offers CHUNKING but refused BDAT.*chunking: false/);
    assert.ok(trace.includes('* BDAT refused as a command: DATA from now on'), trace.join('\n'));
    assert.deepEqual(events.find((event) => event.kind === 'fallback')?.fields, { from: 'BDAT', to: 'DATA' });
    const second = await client.send('hello\r\n', { recipients: ['b@y.org'] });
    assert.equal(second.reply.lines[0], 'queued');
  });
});

test('sendMail resolves on the final reply: it does not wait for the 221, and the open QUIT keeps no process alive', async () => {
  const steps = script`
    ${CHUNKING}
    ${BDAT_ONE_WRITE}
    C: QUIT
    !hang
  `;
  const server = await startFakeServer(steps);
  const controller = new AbortController();
  const options = {
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    envelopeFrom: 'a@x.org',
    recipients: ['b@y.org'],
    authSources: [],
    addMissingHeaders: false,
    retries: 1,
    timeouts: { ...SHORT_TIMEOUTS, command: 60_000 },
    signal: controller.signal,
  };
  // The server never answers QUIT: waiting for it would take the QUIT reply timeout (10 s).
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('sendMail waited for the reply to QUIT')), 5000);
  });
  const result = await Promise.race([sendMail('hello\r\n', options), hung]).finally(() => clearTimeout(timer));
  assert.equal(result.reply.lines[0], 'queued');
  // The caller's signal still closes the lingering connection at once (once QUIT, a turn or two later, is out).
  await new Promise((resolve) => setTimeout(resolve, 200));
  controller.abort();
  const outcome = await server.done;
  assert.equal(outcome.received.endsWith('QUIT\r\n'), true);
  await assertNothingLeftOpen();

  // In a process of its own: the process ends once the message is sent, while the server still holds the QUIT.
  const again = await startFakeServer(steps);
  const entry = JSON.stringify(new URL('../src/index.js', import.meta.url).href);
  const childOptions = JSON.stringify({ ...options, signal: undefined, port: again.port });
  const program = `
    const { sendMail } = await import(${entry});
    const result = await sendMail('hello\\r\\n', ${childOptions});
    process.stdout.write(result.reply.lines[0]);`;
  const child = await new Promise<{ stdout: string; error: Error | null }>((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', program],
      { timeout: 5000, cwd: fileURLToPath(new URL('.', import.meta.url)) },
      (error, stdout) => resolve({ stdout, error }),
    );
  });
  assert.equal(child.error, null, 'the process exits by itself, without waiting out the QUIT reply timeout');
  assert.equal(child.stdout, 'queued');
  const last = await again.done;
  assert.equal(last.received.endsWith('QUIT\r\n'), true);
});

/**
 * Message preparation (SPEC §6) without a network: recipients from the
 * headers, Bcc stripped, envelope sender, missing headers, the Emacs header
 * separator, streams kept streams. Each row states the whole expected result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SmtpProtocolError } from '../src/errors.js';
import { prepareMessage, type PrepareOptions, type Prepared } from '../src/message/prepare.js';

const KEEP = { addMissingHeaders: false } as const;

async function bodyText(prepared: Prepared): Promise<string> {
  const body = prepared.body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

interface Row {
  readonly name: string;
  readonly message: string;
  readonly to: readonly string[];
  /** The transmitted header block, when the row checks it. */
  readonly head?: string;
}

const rows: readonly Row[] = [
  {
    name: 'To, Cc and Bcc: all are recipients, Bcc is not transmitted',
    message: 'From: a@x.org\nTo: a@x.org\nCc: b@x.org, c@x.org\nBcc: d@x.org\nSubject: s\n\nbody\n',
    to: ['a@x.org', 'b@x.org', 'c@x.org', 'd@x.org'],
    head: 'From: a@x.org\nTo: a@x.org\nCc: b@x.org, c@x.org\nSubject: s\n\r\n',
  },
  {
    name: 'display names with commas in quotes',
    message: 'To: "Doe, John" <j@x.org>, "Roe, Jane" <r@x.org>\n\nb\n',
    to: ['j@x.org', 'r@x.org'],
  },
  { name: 'comments', message: 'To: a@x.org (Alice, at work), (note) b@x.org\n\nb\n', to: ['a@x.org', 'b@x.org'] },
  {
    name: 'folded lines with tabs',
    message: 'To: a@x.org,\n\tb@x.org,\n  c@x.org\nSubject: s\n\nb\n',
    to: ['a@x.org', 'b@x.org', 'c@x.org'],
  },
  {
    name: 'two To: lines both count',
    message: 'To: a@x.org\nSubject: s\nTo: b@x.org\n\nb\n',
    to: ['a@x.org', 'b@x.org'],
  },
  {
    name: 'a Resent-* block: only the Resent recipients',
    message: 'Resent-To: r@x.org\nResent-Bcc: rb@x.org\nTo: a@x.org\nCc: b@x.org\n\nb\n',
    to: ['r@x.org', 'rb@x.org'],
    head: 'Resent-To: r@x.org\nTo: a@x.org\nCc: b@x.org\n\r\n',
  },
  {
    name: 'lower- and upper-case field names',
    message: 'TO: a@x.org\ncc: b@x.org\nbCc: c@x.org\n\nb\n',
    to: ['a@x.org', 'b@x.org', 'c@x.org'],
    head: 'TO: a@x.org\ncc: b@x.org\n\r\n',
  },
  {
    name: 'X-To: and Reply-To: are not recipients',
    message: 'X-To: x@x.org\nReply-To: r@x.org\nTo: a@x.org\n\nb\n',
    to: ['a@x.org'],
  },
  { name: 'To:a@x.org,b@x.org without spaces', message: 'To:a@x.org,b@x.org\n\nb\n', to: ['a@x.org', 'b@x.org'] },
  { name: 'groups', message: 'To: friends: a@x.org, b@y.org;, c@z.org\n\nb\n', to: ['a@x.org', 'b@y.org', 'c@z.org'] },
  {
    name: 'undisclosed-recipients:; gives none',
    message: 'To: undisclosed-recipients:;\nBcc: hidden@x.org\n\nb\n',
    to: ['hidden@x.org'],
    head: 'To: undisclosed-recipients:;\n\r\n',
  },
  {
    name: 'a quoted local part with a space',
    message: 'To: "john doe"@x.org, "a@b.com x"@internal.example\n\nb\n',
    to: ['"john doe"@x.org', '"a@b.com x"@internal.example'],
  },
  {
    name: 'a Bcc with a continuation line is removed whole',
    message: 'To: a@x.org\nBcc: b@x.org,\n  c@x.org\nSubject: s\n\nb\n',
    to: ['a@x.org', 'b@x.org', 'c@x.org'],
    head: 'To: a@x.org\nSubject: s\n\r\n',
  },
  {
    name: 'exact duplicates dropped, order kept',
    message: 'To: b@x.org, a@x.org\nCc: b@x.org\n\nb\n',
    to: ['b@x.org', 'a@x.org'],
  },
  {
    name: 'CRLF message',
    message: 'To: a@x.org\r\nBcc: z@x.org\r\n\r\nb\r\n',
    to: ['a@x.org', 'z@x.org'],
    head: 'To: a@x.org\r\n\r\n',
  },
];

for (const row of rows) {
  test(`recipients: ${row.name}`, async () => {
    const prepared = await prepareMessage(row.message, { ...KEEP, envelopeFrom: 'me@x.org' });
    assert.deepEqual(prepared.envelope.to, row.to);
    if (row.head !== undefined) assert.equal(prepared.head.toString('utf8'), row.head);
  });
}

test('Bcc: inside the body is kept; the body is not touched', async () => {
  const body = 'Bcc: not-a-header@x.org\n.leading dot\r\nmixed\rends\n';
  const prepared = await prepareMessage(`To: a@x.org\nBcc: b@x.org\n\n${body}`, { ...KEEP, envelopeFrom: 'me@x.org' });
  assert.deepEqual(prepared.envelope.to, ['a@x.org', 'b@x.org']);
  assert.equal(await bodyText(prepared), body);
});

test('the Emacs header separator ends the headers and is sent as an empty line', async () => {
  const prepared = await prepareMessage('To: a@x.org\nSubject: s\n--text follows this line--\nbody\n', {
    ...KEEP,
    envelopeFrom: 'me@x.org',
  });
  assert.equal(prepared.head.toString('utf8'), 'To: a@x.org\nSubject: s\n\r\n');
  assert.equal(await bodyText(prepared), 'body\n');
});

test('envelope sender: envelopeFrom, else From:, else userMailAddress when it looks like an address', async () => {
  const cases: ReadonlyArray<readonly [string, PrepareOptions, string]> = [
    ['From: Alice <alice@x.org>\nTo: b@x.org\n\n', { envelopeFrom: 'bounce@x.org' }, 'bounce@x.org'],
    ['From: Alice <alice@x.org>\nTo: b@x.org\n\n', { userMailAddress: 'user@x.org' }, 'alice@x.org'],
    ['To: b@x.org\n\n', { userMailAddress: 'user@x.org' }, 'user@x.org'],
  ];
  for (const [message, options, expected] of cases) {
    assert.equal((await prepareMessage(message, { ...KEEP, ...options })).envelope.from, expected);
  }
  await assert.rejects(
    prepareMessage('To: b@x.org\n\n', { ...KEEP, userMailAddress: 'not an address' }),
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.equal(error.code, 'ECONFIG');
      assert.match(error.message, /no envelope sender/);
      return true;
    },
  );
});

test('missing Date, Message-ID and From are added after the existing fields, which stay as they are', async () => {
  const message = 'to:   b@y.org\nSubject:  Hi\n\nbody\n';
  const prepared = await prepareMessage(message, {
    userMailAddress: 'alice@example.org',
    userFullName: 'Alice Q. User',
  });
  const lines = prepared.head.toString('utf8').split('\n');
  assert.deepEqual(lines.slice(0, 2), ['to:   b@y.org', 'Subject:  Hi']);
  assert.match(
    lines[2] ?? '',
    /^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\r$/,
  );
  assert.match(lines[3] ?? '', /^Message-ID: <[^<>@\s]+@example\.org>\r$/);
  assert.equal(lines[4], 'From: "Alice Q. User" <alice@example.org>\r');
  assert.deepEqual(lines.slice(5), ['\r', '']);
});

test('present Date, Message-ID and From are never replaced; addMissingHeaders: false adds nothing', async () => {
  const message = 'Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <x@y>\nFrom: a@x.org\nTo: b@x.org\n\nb\n';
  const prepared = await prepareMessage(message, { userMailAddress: 'other@x.org' });
  // Nothing to change: the header block goes exactly as given (the wire encoder makes line ends CRLF).
  assert.equal(
    prepared.head.toString('utf8'),
    'Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <x@y>\nFrom: a@x.org\nTo: b@x.org\n\n',
  );
  const bare = await prepareMessage('To: b@x.org\n\nb\n', { ...KEEP, envelopeFrom: 'a@x.org' });
  assert.equal(bare.head.toString('utf8'), 'To: b@x.org\n\n');
});

test('recipients option overrides; sendtoDomain completes bare names in the envelope only', async () => {
  const prepared = await prepareMessage('To: bob, carol@y.org\n\nb\n', {
    ...KEEP,
    envelopeFrom: 'a@x.org',
    sendtoDomain: 'example.org',
  });
  assert.deepEqual(prepared.envelope.to, ['bob@example.org', 'carol@y.org']);
  assert.equal(prepared.head.toString('utf8'), 'To: bob, carol@y.org\n\n');
  const given = await prepareMessage('To: a@x.org\n\nb\n', {
    ...KEEP,
    envelopeFrom: 'a@x.org',
    recipients: ['z@z.org'],
  });
  assert.deepEqual(given.envelope.to, ['z@z.org']);
});

test('no recipients at all: EINPUT before anything else', async () => {
  await assert.rejects(
    prepareMessage('To: undisclosed-recipients:;\n\nb\n', { ...KEEP, envelopeFrom: 'a@x.org' }),
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.equal(error.code, 'EINPUT');
      assert.match(error.message, /no recipients/);
      return true;
    },
  );
});

test('X-Message-SMTP-Method is parsed and never transmitted; a bad one is ECONFIG', async () => {
  const prepared = await prepareMessage('To: a@x.org\nX-Message-SMTP-Method: smtp mail.example.org 465 bob\n\nb\n', {
    ...KEEP,
    envelopeFrom: 'a@x.org',
  });
  assert.deepEqual(prepared.method, { kind: 'smtp', host: 'mail.example.org', port: '465', user: 'bob' });
  assert.equal(prepared.head.toString('utf8'), 'To: a@x.org\n\r\n');
  await assert.rejects(
    prepareMessage('To: a@x.org\nX-Message-SMTP-Method: carrier-pigeon\n\nb\n', { ...KEEP, envelopeFrom: 'a@x.org' }),
    { code: 'ECONFIG' },
  );
});

test('a streamed message: only the header block is read up front, the body stays a stream', async () => {
  let pulled = 0;
  async function* source(): AsyncGenerator<string> {
    for (const part of ['To: a@x.org\nBc', 'c: b@x.org\n', '\nfirst body line\n', 'second\n', 'third\n']) {
      pulled++;
      yield part;
    }
  }
  const prepared = await prepareMessage(Readable.from(source(), { objectMode: true }), {
    ...KEEP,
    envelopeFrom: 'me@x.org',
  });
  assert.equal(pulled <= 4, true, `read ${pulled} chunks before the body was asked for`);
  assert.equal(Buffer.isBuffer(prepared.body), false);
  assert.equal(prepared.inMemory, false);
  assert.deepEqual(prepared.envelope.to, ['a@x.org', 'b@x.org']);
  assert.equal(prepared.head.toString('utf8'), 'To: a@x.org\n\r\n');
  assert.equal(await bodyText(prepared), 'first body line\nsecond\nthird\n');
});

test("a stream's first chunk is read where it is, never written to (CR or LF line ends, one or two chunks)", async () => {
  const cases: ReadonlyArray<{ chunks: readonly string[]; head: string; body: string }> = [
    // One chunk holding the whole header block: its CRs are read as LFs in a copy, not in the chunk.
    { chunks: ['To: a@x.org\rSubject: s\r\rbody\r'], head: 'To: a@x.org\nSubject: s\n\n', body: 'body\n' },
    { chunks: ['To: a@x.org\nSubject: s\n\nbody\n'], head: 'To: a@x.org\nSubject: s\n\n', body: 'body\n' },
    // The header block ends in the second chunk: the first is copied before anything is appended to it.
    { chunks: ['To: a@x.org\rSubj', 'ect: s\r\rbody\r'], head: 'To: a@x.org\nSubject: s\n\n', body: 'body\n' },
    {
      chunks: ['To: a@x.org\r\nSubj', 'ect: s\r\n\r\nbody\r\n'],
      head: 'To: a@x.org\r\nSubject: s\r\n\r\n',
      body: 'body\r\n',
    },
  ];
  for (const { chunks, head, body } of cases) {
    const given = chunks.map((text) => Buffer.from(text, 'latin1'));
    const copies = given.map((chunk) => Buffer.from(chunk));
    const prepared = await prepareMessage(Readable.from(given), { ...KEEP, envelopeFrom: 'me@x.org' });
    assert.equal(prepared.head.toString('latin1'), head, JSON.stringify(chunks));
    assert.equal(await bodyText(prepared), body, JSON.stringify(chunks));
    assert.deepEqual(given, copies, `the chunks given are unchanged: ${JSON.stringify(chunks)}`);
  }
});

test('scale: 100,000 addresses in one To: and 10,000 nested comment levels', async () => {
  const many = Array.from({ length: 100_000 }, (_, i) => `user${i}@example.org`).join(', ');
  const nested = `${'('.repeat(10_000)}deep${')'.repeat(10_000)} last@example.org`;
  const prepared = await prepareMessage(`To: ${many}\nCc: ${nested}\n\nb\n`, { ...KEEP, envelopeFrom: 'me@x.org' });
  assert.equal(prepared.envelope.to.length, 100_001);
  assert.equal(prepared.envelope.to[99_999], 'user99999@example.org');
  assert.equal(prepared.envelope.to[100_000], 'last@example.org');
});

test('a file stream is read 1 MiB at a time; a stream of small chunks keeps its own reads', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-reads-'));
  try {
    const file = path.join(dir, 'message.eml');
    const line = 'a line of the message\r\n';
    const text = `From: a@example.org\r\nTo: b@example.net\r\n\r\n${line.repeat(200_000)}`;
    await fs.writeFile(file, text);
    const stream = createReadStream(file); // 64 KiB reads by default
    const prepared = await prepareMessage(stream, KEEP);
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    for await (const chunk of prepared.body as AsyncIterable<Buffer>) {
      sizes.push(chunk.length);
      parts.push(chunk);
    }
    assert.equal(prepared.head.toString('latin1') + Buffer.concat(parts).toString('latin1'), text);
    assert.ok(
      sizes.length >= 3 && sizes.slice(1, -1).every((size) => size === 1 << 20),
      `read sizes ${sizes.join(' ')}`,
    );

    // Not a file stream: its chunks come as they were pushed, never concatenated.
    const pushed = Array.from({ length: 40 }, (_, i) =>
      Buffer.from(i === 0 ? 'From: a@example.org\r\nTo: b@example.net\r\n\r\n' : line),
    );
    const small = new Readable({ read() {} });
    for (const chunk of pushed) small.push(chunk);
    small.push(null);
    const other = await prepareMessage(small, KEEP);
    assert.equal(small.readableHighWaterMark, 16 * 1024);
    assert.equal(await bodyText(other), line.repeat(39));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a message in memory with CRLF line ends only is marked clean for the encoder; any other is not', async () => {
  const cleanOf = (prepared: Prepared): unknown => (prepared as Prepared & { lineEndsClean?: boolean }).lineEndsClean;
  const head = 'From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\n\r\n';
  const prepare = (text: string | Buffer): Promise<Prepared> => prepareMessage(text, KEEP);
  assert.equal(cleanOf(await prepare(`${head}line one\r\n.dot line\r\n`)), true);
  // A bare LF or a bare CR in the body, LF line ends, a header block rewritten (Bcc removed), a stream: not clean.
  assert.equal(cleanOf(await prepare(`${head}line one\nline two\r\n`)), false);
  assert.equal(cleanOf(await prepare(`${head}line one\rline two\r\n`)), false);
  assert.equal(cleanOf(await prepare(head.replaceAll('\r\n', '\n') + 'body\n')), false);
  assert.equal(cleanOf(await prepare(`Bcc: c@example.com\r\n${head}body\r\n`)), false);
  assert.equal(cleanOf(await prepareMessage(Readable.from([Buffer.from(`${head}body\r\n`)]), KEEP)), false);
  // Clean line ends do not let a NUL through: refused with its offset, as before.
  await assert.rejects(
    prepare(Buffer.from(`${head}a\0b\r\n`, 'latin1')),
    (error: unknown) =>
      error instanceof SmtpProtocolError &&
      error.code === 'EINPUT' &&
      error.message === `the message contains a NUL byte at offset ${head.length + 1}`,
  );
  // A lone CR inside a header field is still refused as header injection when the rest is clean.
  await assert.rejects(
    prepare(`From: a@example.org\r\nSubject: x\ry\r\nTo: b@example.net\r\n\r\nbody\r\n`),
    (error: unknown) => error instanceof SmtpProtocolError && error.code === 'EINPUT' && /lone CR/.test(error.message),
  );
});

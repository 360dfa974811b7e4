/**
 * The header block (message/header-block.ts, header-fields.ts, header-values.ts): where it ends,
 * folded fields, bounds, dates and the fields added or removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  MAIL_HEADER_SEPARATOR,
  MAX_HEADER_BYTES,
  findHeaderEnd,
  hasField,
  makeField,
  serializeHeaders,
  type HeaderEnd,
  type HeaderField,
} from '../src/message/header-block.js';
import { parseHeaders } from '../src/message/header-fields.js';
import { prepareMessage } from '../src/message/prepare.js';
import { formatDate, formatFrom, makeMessageId } from '../src/message/header-values.js';
import { SmtpProtocolError } from '../src/errors.js';

function isInputError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'EINPUT');
    assert.match(error.message, pattern);
    return true;
  };
}

function field(name: string, value: string, raw: string): HeaderField {
  return { name, key: name.toLowerCase(), value, raw: Buffer.from(raw, 'utf8') };
}

/** What a caller sees of each parsed field (values and raw bytes are read on demand). */
function parsed(block: Buffer): HeaderField[] {
  return parseHeaders(block).map(({ name, key, value, raw }) => ({ name, key, value, raw }));
}

const endRows: { name: string; input: string; expected: HeaderEnd; sameWhenIncomplete: boolean }[] = [
  {
    name: 'LF message',
    input: 'From: a@example.org\nSubject: hi\n\nbody\n',
    expected: { headerEnd: 32, bodyStart: 33, kind: 'blank' },
    sameWhenIncomplete: true,
  },
  {
    name: 'CRLF message',
    input: 'From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n',
    expected: { headerEnd: 34, bodyStart: 36, kind: 'blank' },
    sameWhenIncomplete: true,
  },
  {
    name: 'folded field with tab and spaces',
    input: 'Subject: one\r\n\ttwo\r\n  three\r\n\r\nx',
    expected: { headerEnd: 29, bodyStart: 31, kind: 'blank' },
    sameWhenIncomplete: true,
  },
  {
    name: 'separator with LF',
    input: `To: b@example.org\n${MAIL_HEADER_SEPARATOR}\nbody\n`,
    expected: { headerEnd: 18, bodyStart: 45, kind: 'separator' },
    sameWhenIncomplete: true,
  },
  {
    name: 'separator with CRLF',
    input: `To: b@example.org\r\n${MAIL_HEADER_SEPARATOR}\r\nbody`,
    expected: { headerEnd: 19, bodyStart: 47, kind: 'separator' },
    sameWhenIncomplete: true,
  },
  {
    name: 'separator with a trailing space is not the separator',
    input: `To: x\n${MAIL_HEADER_SEPARATOR} \n`,
    expected: { headerEnd: 6, bodyStart: 6, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'a body line that looks like a header is not in the block',
    input: 'To: x\n\nCc: y\n',
    expected: { headerEnd: 6, bodyStart: 7, kind: 'blank' },
    sameWhenIncomplete: true,
  },
  {
    name: 'no body, final CRLF',
    input: 'To: b@example.org\r\n',
    expected: { headerEnd: 19, bodyStart: 19, kind: 'end' },
    sameWhenIncomplete: false,
  },
  {
    name: 'no body, no final line end',
    input: 'To: b@example.org',
    expected: { headerEnd: 17, bodyStart: 17, kind: 'end' },
    sameWhenIncomplete: false,
  },
  {
    name: 'folded last field without line end',
    input: 'To: a,\n b',
    expected: { headerEnd: 9, bodyStart: 9, kind: 'end' },
    sameWhenIncomplete: false,
  },
  {
    name: 'unterminated separator at the end',
    input: `To: x\n${MAIL_HEADER_SEPARATOR}`,
    expected: { headerEnd: 6, bodyStart: 32, kind: 'separator' },
    sameWhenIncomplete: false,
  },
  { name: 'empty input', input: '', expected: { headerEnd: 0, bodyStart: 0, kind: 'end' }, sameWhenIncomplete: false },
  {
    name: 'empty first line: no headers',
    input: '\r\nTo: x\r\n',
    expected: { headerEnd: 0, bodyStart: 2, kind: 'blank' },
    sameWhenIncomplete: true,
  },
  {
    name: 'first line not a field',
    input: 'Hello world\nTo: x\n\n',
    expected: { headerEnd: 0, bodyStart: 0, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'mbox From_ line',
    input: 'From a@example.org Mon Nov 23 10:52:05 2026\nTo: x\n\n',
    expected: { headerEnd: 0, bodyStart: 0, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'first line a continuation',
    input: ' To: x\n\n',
    expected: { headerEnd: 0, bodyStart: 0, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'empty field name',
    input: 'To: x\n: y\n\n',
    expected: { headerEnd: 6, bodyStart: 6, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'non-ASCII field name',
    input: 'To: x\nTö: y\n\n',
    expected: { headerEnd: 6, bodyStart: 6, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
  {
    name: 'line without colon after fields',
    input: 'To: x\nplain text\n\n',
    expected: { headerEnd: 6, bodyStart: 6, kind: 'not-a-field' },
    sameWhenIncomplete: true,
  },
];

for (const row of endRows) {
  test(`findHeaderEnd: ${row.name}`, () => {
    const input = Buffer.from(row.input, 'utf8');
    assert.deepEqual(findHeaderEnd(input, true), row.expected);
    assert.deepEqual(findHeaderEnd(input, false), row.sameWhenIncomplete ? row.expected : undefined);
  });
}

test('findHeaderEnd: the block ends before a body line that looks like a header', () => {
  const input = Buffer.from('To: x\r\n\r\nCc: y\r\n');
  const end = findHeaderEnd(input, true);
  assert.deepEqual(parsed(input.subarray(0, end?.headerEnd)), [field('To', 'x', 'To: x\r\n')]);
});

const splitSamples = [
  'From: Ann <a@example.org>\r\nSubject: folded\r\n\tline\r\n\r\nTo: body@example.org\r\n',
  'From: a@example.org\nSubject: x\n\nbody\n',
  `To: b@example.org\r\nSubject: s\r\n${MAIL_HEADER_SEPARATOR}\r\nbody\r\n`,
];

for (const sample of splitSamples) {
  test(`findHeaderEnd: undefined until the end arrives, then the whole answer: ${JSON.stringify(sample.slice(0, 24))}`, () => {
    const input = Buffer.from(sample);
    const whole = findHeaderEnd(input, false);
    assert.ok(whole !== undefined && whole.bodyStart > whole.headerEnd);
    for (let k = 0; k <= input.length; k++) {
      const expected: HeaderEnd | undefined = k < whole.bodyStart ? undefined : whole;
      assert.deepEqual(findHeaderEnd(input.subarray(0, k), false), expected, `split at ${k}`);
    }
  });
}

test('findHeaderEnd: a line that cannot be a field is decided before its line end', () => {
  const input = Buffer.from('To: x\r\nhello there\r\n');
  const whole = { headerEnd: 7, bodyStart: 7, kind: 'not-a-field' };
  const answers = [];
  for (let k = 0; k <= input.length; k++) answers.push(findHeaderEnd(input.subarray(0, k), false));
  // 'hello ' is decided at its space: no field name contains one.
  assert.deepEqual(answers.slice(0, 13), Array(13).fill(undefined));
  assert.deepEqual(answers.slice(13), Array(input.length - 12).fill(whole));
});

test('findHeaderEnd: a partial separator, CR or continuation is not decided; a first-line continuation is', () => {
  assert.equal(findHeaderEnd(Buffer.from('To: x\n--text follows'), false), undefined);
  assert.deepEqual(findHeaderEnd(Buffer.from('To: x\n--text follows\r'), false), {
    headerEnd: 6,
    bodyStart: 6,
    kind: 'not-a-field',
  });
  assert.equal(findHeaderEnd(Buffer.from(`To: x\n${MAIL_HEADER_SEPARATOR}\r`), false), undefined);
  assert.equal(findHeaderEnd(Buffer.from('To: x\n\r'), false), undefined);
  assert.equal(findHeaderEnd(Buffer.from('To: x\n continued'), false), undefined);
  assert.deepEqual(findHeaderEnd(Buffer.from(' To'), false), { headerEnd: 0, bodyStart: 0, kind: 'not-a-field' });
});

test('findHeaderEnd: headers longer than MAX_HEADER_BYTES are refused', () => {
  const big = Buffer.from(`X-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\n\nbody`);
  assert.throws(() => findHeaderEnd(big, true), isInputError(/do not end within 16777216 bytes/));
  assert.throws(() => findHeaderEnd(big, false), isInputError(/do not end within/));
  const unfinished = Buffer.alloc(MAX_HEADER_BYTES, 0x61);
  unfinished.write('X-Big: ');
  assert.throws(() => findHeaderEnd(unfinished, false), isInputError(/do not end within/));
  assert.equal(findHeaderEnd(unfinished.subarray(0, MAX_HEADER_BYTES - 1), false), undefined);
});

test('findHeaderEnd: a blank line whose LF is the last byte of the bound is accepted', () => {
  const input = Buffer.alloc(MAX_HEADER_BYTES + 10, 0x61);
  input.write('X-Big: ');
  input[MAX_HEADER_BYTES - 2] = 0x0a;
  input[MAX_HEADER_BYTES - 1] = 0x0a;
  const expected = { headerEnd: MAX_HEADER_BYTES - 1, bodyStart: MAX_HEADER_BYTES, kind: 'blank' };
  assert.deepEqual(findHeaderEnd(input, false), expected);
  input[MAX_HEADER_BYTES - 2] = 0x61;
  assert.throws(() => findHeaderEnd(input, true), isInputError(/do not end within/));
});

test('findHeaderEnd: a huge first line that is not a field is the body', () => {
  const input = Buffer.alloc(MAX_HEADER_BYTES + 10, 0x61);
  input.write('hello there');
  assert.deepEqual(findHeaderEnd(input, false), { headerEnd: 0, bodyStart: 0, kind: 'not-a-field' });
});

test('parseHeaders: folded lines are unfolded, raw kept exact, name case kept', () => {
  const block = Buffer.from('SUBJECT: one\r\n\ttwo\r\n  three\r\nX-A:b\nx-empty:\r\nTo:  spaced \r\n');
  assert.deepEqual(parsed(block), [
    field('SUBJECT', 'one\ttwo  three', 'SUBJECT: one\r\n\ttwo\r\n  three\r\n'),
    field('X-A', 'b', 'X-A:b\n'),
    field('x-empty', '', 'x-empty:\r\n'),
    field('To', ' spaced ', 'To:  spaced \r\n'),
  ]);
});

test('parseHeaders: UTF-8 values are decoded (RFC 6532)', () => {
  assert.deepEqual(parsed(Buffer.from('Subject: Grüße, 世界\r\n')), [
    field('Subject', 'Grüße, 世界', 'Subject: Grüße, 世界\r\n'),
  ]);
});

test('parseHeaders: a last field without line end, and the empty block', () => {
  assert.deepEqual(parsed(Buffer.from('To: a,\n b')), [field('To', 'a, b', 'To: a,\n b')]);
  assert.deepEqual(parsed(Buffer.alloc(0)), []);
});

test('parseHeaders: raw is a view of the input, not a copy (no allocation per field)', () => {
  const block = Buffer.from('To: x\nCc: y\n');
  const [to, cc] = parseHeaders(block);
  assert.equal(to?.raw.buffer, block.buffer);
  assert.deepEqual(
    [to?.raw.byteOffset, to?.raw.length, cc?.raw.byteOffset, cc?.raw.length],
    [block.byteOffset, 6, block.byteOffset + 6, 6],
  );
});

for (const bad of [' leading space\n', 'To: x\n\nbody\n', 'not a field\n', `To: x\n${MAIL_HEADER_SEPARATOR}\n`]) {
  test(`parseHeaders refuses a block that is not only fields: ${JSON.stringify(bad)}`, () => {
    assert.throws(() => parseHeaders(Buffer.from(bad)), isInputError(/is not a header field/));
  });
}

const recipientBlock = Buffer.from(
  'From: a@example.org\r\nTo: b@example.org\r\nBcc: secret@example.org,\r\n  other@example.org\r\n' +
    'X-To: not@example.org\r\nReply-To: r@example.org\r\nbcc: s2@example.org\r\nto: c@example.org, d@example.org\r\n',
);

test('parseHeaders and hasField: every occurrence, unfolded, case-insensitive keys, exact names only', () => {
  const fields = parseHeaders(recipientBlock);
  const values = (key: string): string[] => fields.filter((f) => f.key === key).map((f) => f.value);
  assert.deepEqual(values('to'), ['b@example.org', 'c@example.org, d@example.org']);
  assert.deepEqual(values('bcc'), ['secret@example.org,  other@example.org', 's2@example.org']);
  assert.deepEqual(values('cc'), []);
  assert.equal(hasField(fields, 'reply-to'), true);
  assert.equal(hasField(fields, 'Cc'), false);
});

test('prepare removes Bcc with its continuation lines and touches nothing else', async () => {
  const prepared = await prepareMessage(Buffer.concat([recipientBlock, Buffer.from('\r\nbody\r\n')]), {
    addMissingHeaders: false,
  });
  const expected =
    'From: a@example.org\r\nTo: b@example.org\r\nX-To: not@example.org\r\nReply-To: r@example.org\r\n' +
    'to: c@example.org, d@example.org\r\n\r\n';
  assert.equal(prepared.head.toString('latin1'), expected);
});

test('serializeHeaders: raw bytes in order, then CRLF; a field without line end gets one', () => {
  const fields = [makeField('From', 'a@example.org'), ...parseHeaders(Buffer.from('To: b\nSubject: s'))];
  assert.deepEqual(serializeHeaders(fields), Buffer.from('From: a@example.org\r\nTo: b\nSubject: s\r\n\r\n'));
  assert.deepEqual(serializeHeaders([]), Buffer.from('\r\n'));
});

test('makeField: Name: value CRLF, and parses back to itself', () => {
  const made = makeField('Message-ID', '<x.y@example.org>');
  assert.deepEqual(made, field('Message-ID', '<x.y@example.org>', 'Message-ID: <x.y@example.org>\r\n'));
  assert.deepEqual(parsed(made.raw), [made]);
  assert.deepEqual(makeField('X-Empty', ''), field('X-Empty', '', 'X-Empty: \r\n'));
});

test('makeField folds long values before spaces, at most 76 characters a line', () => {
  const word = 'abcdefghij';
  const made = makeField('X-Long', Array(10).fill(word).join(' ') + '  end');
  const expected = `X-Long: ${Array(6).fill(word).join(' ')}\r\n${` ${word}`.repeat(4)}  end\r\n`;
  assert.deepEqual(made.raw, Buffer.from(expected));
  assert.deepEqual(parsed(made.raw), [made]);
});

test('makeField refuses a line longer than 998 octets, accepts 998', () => {
  assert.equal(makeField('X', 'a'.repeat(995)).raw.length, 1000);
  assert.throws(() => makeField('X', 'a'.repeat(996)), isInputError(/longer than 998 octets/));
});

const badFields: [string, string, RegExp][] = [
  ['X-Evil', 'a\r\nBcc: victim@example.org', /CR, LF or NUL/],
  ['X-Evil', 'a\nb', /CR, LF or NUL/],
  ['X-Evil', 'a\rb', /CR, LF or NUL/],
  ['X-Evil', 'a\0b', /CR, LF or NUL/],
  ['X-Evil\r\nBcc', 'a', /invalid header field name/],
  ['X\0', 'a', /invalid header field name/],
  ['Two Words', 'a', /invalid header field name/],
  ['Colon:', 'a', /invalid header field name/],
  ['', 'a', /invalid header field name/],
  ['Tö', 'a', /invalid header field name/],
];

for (const [name, value, message] of badFields) {
  test(`makeField refuses ${JSON.stringify(name)}: ${JSON.stringify(value)}`, () => {
    assert.throws(() => makeField(name, value), isInputError(message));
  });
}

const DATE_FORMAT =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;
const instants = [
  Date.UTC(2026, 10, 23, 9, 52, 5),
  Date.UTC(2000, 1, 29, 23, 59, 59, 999),
  Date.UTC(1999, 11, 31, 0, 0, 0),
  Date.UTC(2024, 6, 4, 1, 2, 3),
];

for (const instant of instants) {
  test(`formatDate(${new Date(instant).toISOString()}) in this machine's zone`, () => {
    const text = formatDate(new Date(instant));
    assert.match(text, DATE_FORMAT);
    assert.equal(new Date(text).getTime(), Math.floor(instant / 1000) * 1000);
    assert.equal(text.slice(0, 3), ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][new Date(instant).getDay()]);
  });
}

const zoneRows: [string, string][] = [
  ['UTC', 'Mon, 23 Nov 2026 09:52:05 +0000'],
  ['Asia/Kolkata', 'Mon, 23 Nov 2026 15:22:05 +0530'],
  ['America/St_Johns', 'Mon, 23 Nov 2026 06:22:05 -0330'],
  ['Pacific/Kiritimati', 'Mon, 23 Nov 2026 23:52:05 +1400'],
];

for (const [zone, expected] of zoneRows) {
  test(`formatDate in TZ=${zone}`, () => {
    const module = new URL('../src/message/header-values.js', import.meta.url).href;
    const script = `import { formatDate } from ${JSON.stringify(module)};
      process.stdout.write(formatDate(new Date(${Date.UTC(2026, 10, 23, 9, 52, 5)})));`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, TZ: zone },
    });
    assert.equal(output.toString(), expected);
  });
}

test('formatDate refuses an invalid Date and years before 1900', () => {
  assert.throws(() => formatDate(new Date(Number.NaN)), isInputError(/invalid Date/));
  assert.throws(() => formatDate(new Date(Date.UTC(1899, 5, 1))), isInputError(/year 1899 out of range/));
});

test('makeMessageId: <base36-time.16hex@domain>, unique', () => {
  const before = Date.now();
  const id = makeMessageId('example.org');
  const after = Date.now();
  const match = /^<([0-9a-z]+)\.[0-9a-f]{16}@example\.org>$/.exec(id);
  assert.ok(match?.[1] !== undefined, id);
  const time = parseInt(match[1], 36);
  assert.ok(time >= before && time <= after, `time ${time} not in [${before}, ${after}]`);
  assert.notEqual(makeMessageId('example.org'), makeMessageId('example.org'));
  assert.match(makeMessageId(undefined), /^<[0-9a-z]+\.[0-9a-f]{16}@localhost\.localdomain>$/);
  assert.match(makeMessageId(''), /^<[0-9a-z]+\.[0-9a-f]{16}@localhost\.localdomain>$/);
  assert.match(makeMessageId('[192.0.2.1]'), /^<[0-9a-z]+\.[0-9a-f]{16}@\[192\.0\.2\.1\]>$/);
});

for (const domain of ['a b', 'x>y', 'a..b', '.example.org', 'example.org\r\nBcc: x', '[a[b]']) {
  test(`makeMessageId refuses the domain ${JSON.stringify(domain)}`, () => {
    assert.throws(() => makeMessageId(domain), isInputError(/invalid Message-ID domain/));
  });
}

const fromRows: [string | undefined, string][] = [
  ['Ann Example', 'Ann Example <a@example.org>'],
  ['  Ann  Example ', 'Ann  Example <a@example.org>'],
  [undefined, 'a@example.org'],
  ['', 'a@example.org'],
  ['   ', 'a@example.org'],
  ['Example, Ann', '"Example, Ann" <a@example.org>'],
  ['John Q. Public', '"John Q. Public" <a@example.org>'],
  ['Ann "the" \\ Admin', '"Ann \\"the\\" \\\\ Admin" <a@example.org>'],
  ['=?UTF-8?B?QQ==?=', '"=?UTF-8?B?QQ==?=" <a@example.org>'],
  ['Jörg', '=?UTF-8?B?SsO2cmc=?= <a@example.org>'],
];

for (const [name, expected] of fromRows) {
  test(`formatFrom(${JSON.stringify(name)})`, () => {
    assert.equal(formatFrom('a@example.org', name), expected);
  });
}

/** Decodes a phrase made only of B encoded words, each on its own (whole characters). */
function decodeWords(phrase: string): { text: string; words: string[] } {
  const words = phrase.split(' ');
  const text = words
    .map((word) => {
      const match = /^=\?UTF-8\?B\?([A-Za-z0-9+/]*={0,2})\?=$/.exec(word);
      assert.ok(match?.[1] !== undefined, `not an encoded word: ${word}`);
      const decoded = Buffer.from(match[1], 'base64').toString('utf8');
      assert.ok(!decoded.includes('\ufffd'), `encoded word splits a character: ${word}`);
      return decoded;
    })
    .join('');
  return { text, words };
}

for (const name of ['Grüße, Jörg "J" Müller', '山田 太郎', `${'Ölçü 😀 '.repeat(40)}end`]) {
  test(`formatFrom encodes non-ASCII names (RFC 2047): ${name.slice(0, 16)}`, () => {
    const value = formatFrom('a@example.org', name);
    assert.ok(value.endsWith(' <a@example.org>'), value);
    const { text, words } = decodeWords(value.slice(0, -' <a@example.org>'.length));
    assert.equal(text, name);
    for (const word of words) assert.ok(word.length <= 75, `${word.length}: ${word}`);
    const lines = makeField('From', value).raw.toString('latin1').split('\r\n');
    assert.deepEqual(lines.at(-1), '');
    for (const line of lines) assert.ok(line.length <= 76, `line of ${line.length}: ${line}`);
  });
}

test('formatFrom refuses CR, LF and NUL, and an empty address', () => {
  for (const [address, name] of [
    ['a@example.org\r\nBcc: x', 'Ann'],
    ['a@example.org', 'Ann\nBcc: x'],
    ['a@example.org', 'A\0'],
    ['', 'Ann'],
  ] as const) {
    assert.throws(() => formatFrom(address, name), isInputError(/CR, LF or NUL/));
  }
});

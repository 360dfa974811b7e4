/**
 * Reply parsing (wire/reply-parser.ts, wire/reply.ts): multi-line replies, enhanced codes, partial input,
 * bytes buffered after a reply (the STARTTLS injection check) and the bounds on a reply's size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LINE_BYTES, MAX_REPLY_LINES, ReplyParser } from '../src/wire/reply-parser.js';
import { replyText, type Reply } from '../src/wire/reply.js';
import { SmtpProtocolError } from '../src/errors.js';

function parseAll(text: string): Reply[] {
  return new ReplyParser().push(Buffer.from(text, 'utf8'));
}

function isProtocolError(pattern: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'EPROTOCOL');
    assert.match(error.message, pattern);
    return true;
  };
}

const goodRows: { name: string; input: string; expected: Reply[] }[] = [
  {
    name: 'single line',
    input: '220 mail.example.org ESMTP Postfix\r\n',
    expected: [{ code: 220, enhancedCode: undefined, lines: ['mail.example.org ESMTP Postfix'] }],
  },
  {
    name: 'multi-line reply is one reply',
    input: '250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['mail.example.org', 'PIPELINING', '8BITMIME'] }],
  },
  {
    name: 'enhanced code present, kept in the text',
    input: '250 2.0.0 Ok: queued as 4ABC\r\n',
    expected: [{ code: 250, enhancedCode: '2.0.0', lines: ['2.0.0 Ok: queued as 4ABC'] }],
  },
  {
    name: 'enhanced code with three-digit subject and detail',
    input: '550 5.123.456 nope\r\n',
    expected: [{ code: 550, enhancedCode: '5.123.456', lines: ['5.123.456 nope'] }],
  },
  {
    name: 'enhanced code alone on the line',
    input: '451 4.7.1\r\n',
    expected: [{ code: 451, enhancedCode: '4.7.1', lines: ['4.7.1'] }],
  },
  {
    name: 'enhanced code taken from the first line of a multi-line reply',
    input: '550-5.1.1 User unknown\r\n550 5.1.1 really\r\n',
    expected: [{ code: 550, enhancedCode: '5.1.1', lines: ['5.1.1 User unknown', '5.1.1 really'] }],
  },
  {
    name: 'enhanced code class mismatch is undefined',
    input: '250 5.1.1 odd\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['5.1.1 odd'] }],
  },
  {
    name: 'enhanced code glued to text is undefined',
    input: '250 2.0.0Ok\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['2.0.0Ok'] }],
  },
  {
    name: 'version-like text is not an enhanced code',
    input: '220 2.5 server\r\n',
    expected: [{ code: 220, enhancedCode: undefined, lines: ['2.5 server'] }],
  },
  {
    name: 'bare code',
    input: '250\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: [''] }],
  },
  {
    name: 'code and space, no text',
    input: '354 \r\n',
    expected: [{ code: 354, enhancedCode: undefined, lines: [''] }],
  },
  {
    name: 'bare LF line ends',
    input: '250-first\n250 second\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['first', 'second'] }],
  },
  {
    name: 'only one trailing CR is stripped; the other, a control character, is escaped',
    input: '250 text\r\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['text\\x0d'] }],
  },
  {
    name: 'several replies in one chunk',
    input: '250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n',
    expected: [
      { code: 250, enhancedCode: '2.1.0', lines: ['2.1.0 Ok'] },
      { code: 250, enhancedCode: '2.1.5', lines: ['2.1.5 Ok'] },
      { code: 354, enhancedCode: undefined, lines: ['End data with <CR><LF>.<CR><LF>'] },
    ],
  },
  {
    name: 'UTF-8 text',
    input: '250 Grüße, 世界\r\n',
    expected: [{ code: 250, enhancedCode: undefined, lines: ['Grüße, 世界'] }],
  },
  {
    name: 'codes 200 and 599 are accepted',
    input: '200 low\r\n599 high\r\n',
    expected: [
      { code: 200, enhancedCode: undefined, lines: ['low'] },
      { code: 599, enhancedCode: undefined, lines: ['high'] },
    ],
  },
];

for (const row of goodRows) {
  test(`parses: ${row.name}`, () => {
    assert.deepEqual(parseAll(row.input), row.expected);
  });

  test(`parses one byte at a time: ${row.name}`, () => {
    const parser = new ReplyParser();
    const replies: Reply[] = [];
    for (const byte of Buffer.from(row.input, 'utf8')) replies.push(...parser.push(Buffer.from([byte])));
    assert.deepEqual(replies, row.expected);
    assert.equal(parser.buffered, 0);
  });
}

test('a chunk without a line end completes nothing', () => {
  const parser = new ReplyParser();
  assert.deepEqual(parser.push(Buffer.from('250 Ok')), []);
  assert.deepEqual(parser.push(Buffer.from('\r\n')), [{ code: 250, enhancedCode: undefined, lines: ['Ok'] }]);
});

test('buffered counts a partial line', () => {
  const parser = new ReplyParser();
  parser.push(Buffer.from('220 mail.exa'));
  assert.equal(parser.buffered, 12);
});

test('buffered counts the finished lines of an unfinished multi-line reply', () => {
  const parser = new ReplyParser();
  assert.deepEqual(parser.push(Buffer.from('250-one\r\n250-two\n250 th')), []);
  assert.equal(parser.buffered, 9 + 8 + 6);
});

test('buffered is 0 after a complete reply', () => {
  const parser = new ReplyParser();
  parser.push(Buffer.from('250-one\r\n250 two\r\n'));
  assert.equal(parser.buffered, 0);
});

test('buffered counts bytes that follow a complete reply (STARTTLS injection)', () => {
  const parser = new ReplyParser();
  const replies = parser.push(Buffer.from('220 2.0.0 Ready to start TLS\r\n250-injected\r\n'));
  assert.deepEqual(replies, [{ code: 220, enhancedCode: '2.0.0', lines: ['2.0.0 Ready to start TLS'] }]);
  assert.equal(parser.buffered, 14);
});

const badRows: { name: string; input: string; message: RegExp }[] = [
  { name: 'mixed codes', input: '250-one\r\n251 two\r\n', message: /mixed codes/ },
  { name: 'non-digit code', input: '2x0 hello\r\n', message: /three-digit code/ },
  { name: 'text instead of a reply', input: 'hello world\r\n', message: /three-digit code/ },
  { name: 'too short', input: '25\r\n', message: /three-digit code/ },
  { name: 'a line of spaces', input: '   \r\n', message: /three-digit code/ },
  { name: 'code 199', input: '199 low\r\n', message: /199 out of range/ },
  { name: 'code 600', input: '600 high\r\n', message: /600 out of range/ },
  { name: 'code 000', input: '000 zero\r\n', message: /out of range/ },
  { name: 'bad separator', input: '250x\r\n', message: /not followed by/ },
  { name: 'tab separator', input: '250\tOk\r\n', message: /not followed by/ },
];

for (const row of badRows) {
  test(`refuses: ${row.name}`, () => {
    assert.throws(() => parseAll(row.input), isProtocolError(row.message));
  });
}

test('the error quotes at most about 60 characters of the line', () => {
  const line = `hello ${'x'.repeat(500)}\r\n`;
  assert.throws(
    () => parseAll(line),
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.ok(error.message.length < 160, `message too long: ${error.message.length}`);
      assert.ok(!error.message.includes('x'.repeat(61)));
      return true;
    },
  );
});

test('the error escapes control characters in the quote', () => {
  assert.throws(
    () => parseAll('\u0007\u001b[31m hi\r\n'),
    (error: unknown) => {
      assert.ok(error instanceof SmtpProtocolError);
      assert.ok(!/[\u0000-\u001f]/.test(error.message));
      return true;
    },
  );
});

test('a line of MAX_LINE_BYTES is accepted, with CRLF split from it', () => {
  const parser = new ReplyParser();
  const text = 'a'.repeat(MAX_LINE_BYTES - 4);
  assert.deepEqual(parser.push(Buffer.from(`250 ${text}\r`)), []);
  assert.deepEqual(parser.push(Buffer.from('\n')), [{ code: 250, enhancedCode: undefined, lines: [text] }]);
});

test('a line of MAX_LINE_BYTES + 1 is refused when complete', () => {
  const line = `250 ${'a'.repeat(MAX_LINE_BYTES - 3)}\r\n`;
  assert.throws(() => parseAll(line), isProtocolError(/longer than 8192 octets/));
});

test('an over-long line fails before its LF arrives', () => {
  const parser = new ReplyParser();
  assert.throws(() => parser.push(Buffer.alloc(9000, 0x61)), isProtocolError(/longer than 8192 octets/));
});

test('an over-long line fails as soon as the buffer passes the bound, in small chunks', () => {
  const parser = new ReplyParser();
  const chunk = Buffer.alloc(1000, 0x61);
  let pushed = 0;
  assert.throws(
    () => {
      for (;;) {
        parser.push(chunk);
        pushed += chunk.length;
      }
    },
    isProtocolError(/longer than/),
  );
  assert.equal(pushed, 8000);
});

test('more than MAX_REPLY_LINES lines is refused', () => {
  const input = '250-x\r\n'.repeat(MAX_REPLY_LINES) + '250 end\r\n';
  assert.throws(() => parseAll(input), isProtocolError(/longer than 1000 lines/));
});

test('MAX_REPLY_LINES lines are accepted', () => {
  const input = '250-x\r\n'.repeat(MAX_REPLY_LINES - 1) + '250 end\r\n';
  const [reply] = parseAll(input);
  assert.equal(reply?.lines.length, MAX_REPLY_LINES);
});

test('after an error the parser keeps failing', () => {
  const parser = new ReplyParser();
  assert.throws(() => parser.push(Buffer.from('bad\r\n')), isProtocolError(/three-digit/));
  assert.throws(() => parser.push(Buffer.from('250 Ok\r\n')), isProtocolError(/three-digit/));
});

test('replyText joins the lines after the code', () => {
  assert.equal(
    replyText({ code: 250, enhancedCode: '2.0.0', lines: ['2.0.0 Ok queued as 123'] }),
    '250 2.0.0 Ok queued as 123',
  );
  assert.equal(replyText({ code: 550, enhancedCode: undefined, lines: ['one', 'two'] }), '550 one two');
  assert.equal(replyText({ code: 250, enhancedCode: undefined, lines: [''] }), '250');
});

test('random pipelined replies, valid or not: one chunk and one byte at a time give the same replies or the same error', () => {
  let state = 0x5eed;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % n;
  };
  const codes = ['250', '354', '550', '221', '199', '600', '25x', '2', ''];
  const rests = ['', ' ok', '-more', ' 2.1.0 fine', '-', 'x', ' é'];
  const ends = ['\r\n', '\n'];
  const outcome = (parse: (parser: ReplyParser) => Reply[]): Reply[] | string => {
    try {
      return parse(new ReplyParser());
    } catch (error) {
      return (error as Error).message;
    }
  };
  for (let round = 0; round < 300; round++) {
    let text = '';
    const lines = 1 + random(8);
    for (let i = 0; i < lines; i++) {
      const code = random(4) === 0 ? (codes[random(codes.length)] as string) : (codes[random(3)] as string);
      text += code + (rests[random(rests.length)] as string) + (ends[random(ends.length)] as string);
    }
    const bytes = Buffer.from(text, 'utf8');
    const whole = outcome((parser) => parser.push(bytes));
    const bytewise = outcome((parser) => [...bytes].flatMap((byte) => parser.push(Buffer.from([byte]))));
    assert.deepEqual(whole, bytewise, JSON.stringify(text));
  }
});

test('empty lines before, between and inside replies are skipped and reported, byte by byte too', () => {
  const input = '\r\n220 hi\r\n\n250-first\r\n\r\n250 last\r\n\r\n';
  for (const size of [input.length, 1]) {
    let skipped = 0;
    const parser = new ReplyParser(() => skipped++);
    const replies: Reply[] = [];
    for (let at = 0; at < input.length; at += size)
      replies.push(...parser.push(Buffer.from(input.slice(at, at + size))));
    assert.deepEqual(replies.map(replyText), ['220 hi', '250 first last']);
    assert.equal(skipped, 4);
    assert.equal(parser.buffered, 0);
  }
});

test('enhanced codes on random first lines: the same as RFC 3463 §2 written as a regular expression', () => {
  const reference = (code: number, line: string): string | undefined => {
    const match = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/.exec(line);
    return match === null || match[1] !== String(code)[0] ? undefined : `${match[1]}.${match[2]}.${match[3]}`;
  };
  let seed = 7;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pieces = ['2', '4', '5', '0', '1', '9', '.', ' ', 'x', '12', '345', '.5', '2.0.0', '5.7.1 ', '4.123.456'];
  const codes = [250, 421, 452, 550, 354];
  let found = 0;
  for (let i = 0; i < 10_000; i++) {
    let line = '';
    for (let n = random(6); n >= 0; n--) line += pieces[random(pieces.length)];
    const code = codes[random(codes.length)] as number;
    const [reply] = new ReplyParser().push(Buffer.from(`${code} ${line}\r\n`, 'latin1'));
    const expected = reference(code, line);
    assert.equal(reply?.enhancedCode, expected, JSON.stringify(`${code} ${line}`));
    if (expected !== undefined) found++;
  }
  assert.ok(found > 200, `only ${found} lines had an enhanced code`);
});

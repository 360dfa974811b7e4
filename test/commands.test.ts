/**
 * Command encoding (wire/commands.ts): each verb's line, address limits, and CR/LF/NUL/control
 * characters refused with a message that never echoes them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  auth,
  clientName,
  data,
  ehlo,
  helo,
  mailFrom,
  noop,
  quit,
  rcptTo,
  rset,
  saslResponse,
  starttls,
  verb,
  type MailParameters,
} from '../src/wire/commands.js';
import { SmtpProtocolError } from '../src/errors.js';

const encodeRows: { name: string; encode: () => string; expected: string }[] = [
  { name: 'EHLO', encode: () => ehlo('client.example.org'), expected: 'EHLO client.example.org\r\n' },
  { name: 'EHLO address literal', encode: () => ehlo('[192.0.2.1]'), expected: 'EHLO [192.0.2.1]\r\n' },
  { name: 'HELO', encode: () => helo('client.example.org'), expected: 'HELO client.example.org\r\n' },
  { name: 'STARTTLS', encode: starttls, expected: 'STARTTLS\r\n' },
  { name: 'MAIL FROM', encode: () => mailFrom('a@b.org'), expected: 'MAIL FROM:<a@b.org>\r\n' },
  { name: 'MAIL FROM null reverse-path', encode: () => mailFrom(''), expected: 'MAIL FROM:<>\r\n' },
  {
    name: 'MAIL FROM with every parameter, in order',
    encode: () => mailFrom('a@b.org', { smtputf8: true, body: '8BITMIME', size: 12 }),
    expected: 'MAIL FROM:<a@b.org> SIZE=12 BODY=8BITMIME SMTPUTF8\r\n',
  },
  {
    name: 'MAIL FROM SIZE=0',
    encode: () => mailFrom('a@b.org', { size: 0 }),
    expected: 'MAIL FROM:<a@b.org> SIZE=0\r\n',
  },
  {
    name: 'MAIL FROM BODY=7BIT',
    encode: () => mailFrom('a@b.org', { body: '7BIT' }),
    expected: 'MAIL FROM:<a@b.org> BODY=7BIT\r\n',
  },
  {
    name: 'MAIL FROM smtputf8 false adds nothing',
    encode: () => mailFrom('a@b.org', { smtputf8: false, size: undefined }),
    expected: 'MAIL FROM:<a@b.org>\r\n',
  },
  {
    name: 'MAIL FROM non-ASCII address with SMTPUTF8',
    encode: () => mailFrom('jörg@例え.jp', { smtputf8: true }),
    expected: 'MAIL FROM:<jörg@例え.jp> SMTPUTF8\r\n',
  },
  { name: 'RCPT TO', encode: () => rcptTo('c@d.org'), expected: 'RCPT TO:<c@d.org>\r\n' },
  { name: 'RCPT TO quoted local part', encode: () => rcptTo('"a b"@d.org'), expected: 'RCPT TO:<"a b"@d.org>\r\n' },
  { name: 'DATA', encode: data, expected: 'DATA\r\n' },
  { name: 'RSET', encode: rset, expected: 'RSET\r\n' },
  { name: 'NOOP', encode: noop, expected: 'NOOP\r\n' },
  { name: 'VERB', encode: verb, expected: 'VERB\r\n' },
  { name: 'QUIT', encode: quit, expected: 'QUIT\r\n' },
  { name: 'AUTH without initial response', encode: () => auth('LOGIN'), expected: 'AUTH LOGIN\r\n' },
  {
    name: 'AUTH with initial response',
    encode: () => auth('PLAIN', 'AHVzZXIAcGFzcw=='),
    expected: 'AUTH PLAIN AHVzZXIAcGFzcw==\r\n',
  },
  { name: 'AUTH empty initial response is =', encode: () => auth('EXTERNAL', ''), expected: 'AUTH EXTERNAL =\r\n' },
  { name: 'AUTH mechanism with - and _', encode: () => auth('SCRAM-SHA-256_X'), expected: 'AUTH SCRAM-SHA-256_X\r\n' },
  { name: 'SASL response', encode: () => saslResponse('dXNlcg=='), expected: 'dXNlcg==\r\n' },
  { name: 'SASL empty response', encode: () => saslResponse(''), expected: '\r\n' },
  { name: 'SASL cancel', encode: () => saslResponse('*'), expected: '*\r\n' },
];

for (const row of encodeRows) {
  test(`encodes ${row.name}`, () => {
    assert.equal(row.encode(), row.expected);
  });
}

/** Asserts EINPUT with a message matching `pattern` and free of control characters. */
function assertInputError(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'EINPUT');
    assert.match(error.message, pattern);
    assert.ok(!/[\u0000-\u001f\u007f]/.test(error.message), 'message echoes a control character');
    return true;
  });
}

const positions: { name: string; encode: (value: string) => string; message: RegExp }[] = [
  { name: 'EHLO name', encode: (v) => ehlo(`client${v}.example.org`), message: /^client name contains a line break/ },
  { name: 'HELO name', encode: (v) => helo(`client${v}`), message: /^client name contains a line break/ },
  {
    name: 'MAIL FROM address',
    encode: (v) => mailFrom(`a${v}@b.org`),
    message: /^sender address contains a line break/,
  },
  {
    name: 'RCPT TO address',
    encode: (v) => rcptTo(`c@d.org${v}`),
    message: /^recipient address contains a line break/,
  },
  { name: 'AUTH mechanism', encode: (v) => auth(`PLAIN${v}`), message: /^SASL mechanism must be/ },
  {
    name: 'AUTH initial response',
    encode: (v) => auth('PLAIN', `AHVz${v}ZXI=`),
    message: /^SASL initial response contains a line break/,
  },
  {
    name: 'SASL response',
    encode: (v) => saslResponse(`dXNl${v}cg==`),
    message: /^SASL response contains a line break/,
  },
];

const badChars: { name: string; value: string }[] = [
  { name: 'CR', value: '\r' },
  { name: 'LF', value: '\n' },
  { name: 'CRLF', value: '\r\n' },
  { name: 'NUL', value: '\0' },
  { name: 'TAB', value: '\t' },
  { name: 'ESC', value: '\u001b' },
  { name: 'DEL', value: '\u007f' },
  { name: 'CRLF and a command', value: '\r\nRCPT TO:<evil@example.org>\r\n' },
];

for (const position of positions) {
  for (const bad of badChars) {
    test(`${position.name} refuses ${bad.name}`, () => {
      assertInputError(() => position.encode(bad.value), position.message);
    });
  }
}

const refusedRows: { name: string; run: () => string; message: RegExp }[] = [
  {
    name: "'>' injection in RCPT TO",
    run: () => rcptTo('a@b.org> NOTIFY=NEVER'),
    message: /^recipient address contains "<" or ">"$/,
  },
  {
    name: "'>' injection in MAIL FROM",
    run: () => mailFrom('a@b.org> RET=FULL'),
    message: /^sender address contains "<" or ">"$/,
  },
  { name: "'<' in an address", run: () => rcptTo('<a@b.org'), message: /contains "<" or ">"/ },
  { name: 'address of 321 octets', run: () => rcptTo(`${'a'.repeat(313)}@b.org.x`), message: /longer than 320 octets/ },
  {
    name: 'address of 322 octets but 164 characters',
    run: () => mailFrom(`${'é'.repeat(158)}@b.org`),
    message: /longer than 320 octets/,
  },
  { name: 'empty recipient', run: () => rcptTo(''), message: /^recipient address is empty$/ },
  { name: 'empty EHLO name', run: () => ehlo(''), message: /^client name is empty$/ },
  { name: 'empty HELO name', run: () => helo(''), message: /^client name is empty$/ },
  { name: 'EHLO name with a space', run: () => ehlo('my host'), message: /^client name contains a space$/ },
  { name: 'negative SIZE', run: () => mailFrom('a@b.org', { size: -1 }), message: /SIZE/ },
  { name: 'fractional SIZE', run: () => mailFrom('a@b.org', { size: 1.5 }), message: /SIZE/ },
  { name: 'NaN SIZE', run: () => mailFrom('a@b.org', { size: Number.NaN }), message: /SIZE/ },
  { name: 'unsafe SIZE', run: () => mailFrom('a@b.org', { size: 2 ** 53 }), message: /SIZE/ },
  {
    name: 'unknown BODY from untyped callers',
    run: () => mailFrom('a@b.org', { body: '8BITMIME\r\nRSET' } as unknown as MailParameters),
    message: /BODY/,
  },
  { name: 'lower-case AUTH mechanism', run: () => auth('plain'), message: /^SASL mechanism must be/ },
  { name: 'empty AUTH mechanism', run: () => auth(''), message: /^SASL mechanism must be/ },
  { name: 'AUTH mechanism of 21 characters', run: () => auth('A'.repeat(21)), message: /^SASL mechanism must be/ },
  { name: 'AUTH mechanism with a space', run: () => auth('PLAIN X'), message: /^SASL mechanism must be/ },
  {
    name: 'AUTH initial response with a space',
    run: () => auth('PLAIN', 'abc def'),
    message: /^SASL initial response contains a space$/,
  },
];

for (const row of refusedRows) {
  test(`refuses ${row.name}`, () => {
    assertInputError(row.run, row.message);
  });
}

test('an address of exactly 320 octets is accepted', () => {
  const address = `${'a'.repeat(312)}@b.org.x`;
  assert.equal(Buffer.byteLength(address), 320);
  assert.equal(rcptTo(address), `RCPT TO:<${address}>\r\n`);
});

test('SASL errors never echo the secret', () => {
  assert.throws(
    () => auth('PLAIN', 'c2VjcmV0\n'),
    (error: unknown) => error instanceof SmtpProtocolError && !error.message.includes('c2VjcmV0'),
  );
});

const clientNameRows: [string, string][] = [
  ['mail.example.org', 'mail.example.org'],
  ['localhost', 'localhost'],
  ['', 'localhost.localdomain'],
  ['192.0.2.1', '[192.0.2.1]'],
  ['255.255.255.255', '[255.255.255.255]'],
  ['0.0.0.0', '[0.0.0.0]'],
  ['256.1.1.1', '256.1.1.1'],
  ['1.2.3', '1.2.3'],
  ['01.2.3.4', '01.2.3.4'],
  ['2001:db8::1', '[IPv6:2001:db8::1]'],
  ['::1', '[IPv6:::1]'],
  ['::', '[IPv6:::]'],
  ['fe80::', '[IPv6:fe80::]'],
  ['2001:0db8:0000:0000:0000:ff00:0042:8329', '[IPv6:2001:0db8:0000:0000:0000:ff00:0042:8329]'],
  ['::ffff:192.0.2.1', '[IPv6:::ffff:192.0.2.1]'],
  ['1:2:3:4:5:6:192.0.2.1', '[IPv6:1:2:3:4:5:6:192.0.2.1]'],
  ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7'],
  ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9'],
  ['1:2:3:4::5:6:7:8', '1:2:3:4::5:6:7:8'],
  ['1::2::3', '1::2::3'],
  ['12345::1', '12345::1'],
  ['192.0.2.1::1', '192.0.2.1::1'],
  ['[192.0.2.1]', '[192.0.2.1]'],
];

for (const [input, expected] of clientNameRows) {
  test(`clientName('${input}') is '${expected}'`, () => {
    assert.equal(clientName(input), expected);
  });
}

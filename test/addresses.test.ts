/**
 * Address lists (message/addresses.ts): RFC 5322 forms, hostile sizes parsed in linear time, and
 * garbage skipped while what is well formed around it is kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainOf, looksLikeAddress, parseAddressList, parseMailbox, type Mailbox } from '../src/message/addresses.js';

function mailbox(address: string, name?: string): Mailbox {
  return { address, name };
}

const listRows: { name: string; input: string; expected: Mailbox[] }[] = [
  { name: 'one bare address', input: 'a@x.org', expected: [mailbox('a@x.org')] },
  { name: 'two addresses', input: 'a@x.org, b@y.org', expected: [mailbox('a@x.org'), mailbox('b@y.org')] },
  { name: 'no space after the comma', input: 'a@x.org,b@y.org', expected: [mailbox('a@x.org'), mailbox('b@y.org')] },
  { name: 'display name and angle address', input: 'Bob <b@y.org>', expected: [mailbox('b@y.org', 'Bob')] },
  { name: 'angle address without a name', input: '<b@y.org>', expected: [mailbox('b@y.org')] },
  {
    name: 'comma inside a quoted display name is not a separator',
    input: '"Doe, John" <j@x.org>, b@y.org',
    expected: [mailbox('j@x.org', 'Doe, John'), mailbox('b@y.org')],
  },
  {
    name: 'quoted-pairs in the display name are resolved',
    input: '"a \\"quoted\\" name" <q@x.org>',
    expected: [mailbox('q@x.org', 'a "quoted" name')],
  },
  { name: 'a trailing comment is not a name', input: 'a@x.org (Alice, at work)', expected: [mailbox('a@x.org')] },
  { name: 'comments between every token', input: '(c) a (d) @ (e) x.org (f)', expected: [mailbox('a@x.org')] },
  { name: 'nested comments', input: '(a (b (c)) d) z@x.org', expected: [mailbox('z@x.org')] },
  { name: 'escaped parenthesis inside a comment', input: '(a \\) b) z@x.org', expected: [mailbox('z@x.org')] },
  { name: 'comments inside the angle address', input: '<(c)a@x.org(d)>', expected: [mailbox('a@x.org')] },
  {
    name: 'comment inside the display name separates words',
    input: 'Bob (the builder) Smith <b@y.org>',
    expected: [mailbox('b@y.org', 'Bob Smith')],
  },
  { name: 'quoted local part with a space', input: '"john doe"@x.org', expected: [mailbox('"john doe"@x.org')] },
  {
    name: 'quoted local part holding an @',
    input: '"a@b.com x"@internal.example',
    expected: [mailbox('"a@b.com x"@internal.example')],
  },
  {
    name: 'quoted local part keeps its backslashes',
    input: 'Q <"a\\"b"@x.org>',
    expected: [mailbox('"a\\"b"@x.org', 'Q')],
  },
  { name: 'group', input: 'friends: a@x.org, b@y.org;', expected: [mailbox('a@x.org'), mailbox('b@y.org')] },
  { name: 'empty group', input: 'undisclosed-recipients:;', expected: [] },
  { name: 'group then an address', input: 'g: a@x.org; c@z.org', expected: [mailbox('a@x.org'), mailbox('c@z.org')] },
  {
    name: 'address, group with a quoted name, address',
    input: 'a@x.org, "Team, all": Bob <b@y.org>;, c@z.org',
    expected: [mailbox('a@x.org'), mailbox('b@y.org', 'Bob'), mailbox('c@z.org')],
  },
  { name: 'IPv4 address literal', input: 'user@[192.0.2.1]', expected: [mailbox('user@[192.0.2.1]')] },
  { name: 'IPv6 address literal', input: 'user@[IPv6:2001:db8::1]', expected: [mailbox('user@[IPv6:2001:db8::1]')] },
  {
    name: 'whitespace inside an address literal is removed',
    input: 'user@[ 192.0.2.1 ]',
    expected: [mailbox('user@[192.0.2.1]')],
  },
  { name: 'obsolete route', input: '<@relay.org:a@x.org>', expected: [mailbox('a@x.org')] },
  {
    name: 'obsolete route with two hops and a name',
    input: 'Al <@r1.org,@r2.org:a@x.org>, b@y.org',
    expected: [mailbox('a@x.org', 'Al'), mailbox('b@y.org')],
  },
  {
    name: 'folding with CRLF and tab',
    input: 'a@x.org,\r\n\tBob\r\n Smith <b@y.org>',
    expected: [mailbox('a@x.org'), mailbox('b@y.org', 'Bob Smith')],
  },
  {
    name: 'folding with LF and spaces',
    input: 'a@x.org,\n   b@y.org',
    expected: [mailbox('a@x.org'), mailbox('b@y.org')],
  },
  {
    name: 'folding inside a quoted display name',
    input: '"Doe,\r\n John" <j@x.org>',
    expected: [mailbox('j@x.org', 'Doe, John')],
  },
  { name: 'empty list element', input: 'a@x.org,, b@y.org', expected: [mailbox('a@x.org'), mailbox('b@y.org')] },
  { name: 'trailing comma', input: 'a@x.org, b@y.org,', expected: [mailbox('a@x.org'), mailbox('b@y.org')] },
  { name: 'only separators', input: ' , ;, ', expected: [] },
  { name: 'empty value', input: '', expected: [] },
  { name: 'whitespace only', input: ' \r\n\t', expected: [] },
  { name: 'bare local user name', input: 'bob', expected: [mailbox('bob')] },
  { name: 'bare local user name in a list', input: 'bob, a@x.org', expected: [mailbox('bob'), mailbox('a@x.org')] },
  { name: 'UTF-8 display name', input: 'Jürgen <j@x.de>', expected: [mailbox('j@x.de', 'Jürgen')] },
  { name: 'UTF-8 local part is kept', input: 'jürgen@x.de', expected: [mailbox('jürgen@x.de')] },
  {
    name: 'RFC 2047 encoded word is left as it is',
    input: '=?UTF-8?B?SsO8cmdlbg==?= <j@x.de>',
    expected: [mailbox('j@x.de', '=?UTF-8?B?SsO8cmdlbg==?=')],
  },
  {
    name: 'dot-atom with spaces and comments between tokens',
    input: 'a . b @ x . org',
    expected: [mailbox('a.b@x.org')],
  },
  { name: 'dot-atom with comments between tokens', input: 'a(1).(2)b@(3)x(4).org', expected: [mailbox('a.b@x.org')] },
  { name: 'exact duplicates are kept', input: 'a@x.org, a@x.org', expected: [mailbox('a@x.org'), mailbox('a@x.org')] },
  {
    name: 'dots in an unquoted display name',
    input: 'John Q. Public <jqp@x.org>',
    expected: [mailbox('jqp@x.org', 'John Q. Public')],
  },
  {
    name: 'whitespace in the display name is collapsed, quoted parts too',
    input: '  Bob   "the   builder"\t<b@y.org>',
    expected: [mailbox('b@y.org', 'Bob the builder')],
  },
  { name: 'empty quoted display name is no name', input: '"" <a@x.org>', expected: [mailbox('a@x.org')] },
  {
    name: 'semicolon as a separator outside a group',
    input: 'a@x.org; b@y.org',
    expected: [mailbox('a@x.org'), mailbox('b@y.org')],
  },
  { name: 'unquoted address as display name', input: 'a@x.org <a@x.org>', expected: [mailbox('a@x.org', 'a@x.org')] },
  { name: 'empty dot-separated parts in a local part', input: 'a..b@x.jp', expected: [mailbox('a..b@x.jp')] },
];

for (const row of listRows) {
  test(`parseAddressList: ${row.name}`, () => {
    assert.deepEqual(parseAddressList(row.input), row.expected);
  });
}

/** Garbage is skipped; what is well-formed around it is kept. */
const garbageRows: { name: string; input: string; expected: Mailbox[] }[] = [
  {
    name: 'unbalanced quote swallows the rest',
    input: 'a@x.org, "broken <b@y.org>, c@z.org',
    expected: [mailbox('a@x.org')],
  },
  {
    name: 'unclosed comment swallows the rest',
    input: 'a@x.org, (broken b@y.org, c@z.org',
    expected: [mailbox('a@x.org')],
  },
  { name: 'unclosed comment after an address', input: 'a@x.org (broken', expected: [mailbox('a@x.org')] },
  {
    name: 'unclosed angle bracket',
    input: 'a@x.org, Bob <b@y.org, c@z.org',
    expected: [mailbox('a@x.org'), mailbox('c@z.org')],
  },
  {
    name: 'stray closing angle bracket',
    input: 'a@x.org, b@y.org>, c@z.org',
    expected: [mailbox('a@x.org'), mailbox('c@z.org')],
  },
  {
    name: 'stray closing parenthesis',
    input: 'a@x.org, b)@y.org, c@z.org',
    expected: [mailbox('a@x.org'), mailbox('c@z.org')],
  },
  { name: 'nested angle brackets', input: '<<a@x.org>>, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'two angle addresses in one element', input: '<a@x.org> <b@y.org>, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'unclosed address literal', input: 'a@x.org, u@[192.0.2.1', expected: [mailbox('a@x.org')] },
  { name: 'bracket inside an address literal', input: 'u@[1[2], c@z.org', expected: [mailbox('c@z.org')] },
  {
    name: 'phrase without an address',
    input: 'a@x.org, John Doe, c@z.org',
    expected: [mailbox('a@x.org'), mailbox('c@z.org')],
  },
  { name: 'two @', input: 'a@b@c.org, c@z.org', expected: [mailbox('c@z.org')] },
  {
    name: 'empty local part, empty domain, null address',
    input: '@x.org, a@, <>, c@z.org',
    expected: [mailbox('c@z.org')],
  },
  { name: 'text after the angle address', input: 'Bob <b@y.org> extra, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'control character in an atom', input: 'a\u0000b@x.org, c@z.org', expected: [mailbox('c@z.org')] },
  {
    name: 'control character in a quoted string',
    input: '"a\u0007" <a@x.org>, c@z.org',
    expected: [mailbox('c@z.org')],
  },
  { name: 'escaped CR in a quoted string', input: '"a\\\rb"@x.org, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'bad dots in the domain', input: 'a@x..org, a@.x.org, a@x.org., c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'two words in the domain', input: 'a@x org, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'route without a colon', input: '<@relay.org a@x.org>, c@z.org', expected: [mailbox('c@z.org')] },
  {
    name: 'unclosed angle after a route: the comma separates again',
    input: 'Al <@relay.org:a@x.org, b@y.org',
    expected: [mailbox('b@y.org')],
  },
  { name: 'route and nothing else', input: '<@relay.org:>, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'backslash outside quotes', input: 'a\\b@x.org, c@z.org', expected: [mailbox('c@z.org')] },
  { name: 'quoted string only as the domain', input: 'a@"x.org", c@z.org', expected: [mailbox('c@z.org')] },
  {
    name: 'lone colon drops what came before',
    input: 'a@x.org, junk: c@z.org',
    expected: [mailbox('a@x.org'), mailbox('c@z.org')],
  },
  { name: 'only garbage', input: '"""', expected: [] },
  { name: 'unclosed comment only', input: '(', expected: [] },
];

for (const row of garbageRows) {
  test(`parseAddressList skips garbage: ${row.name}`, () => {
    assert.deepEqual(parseAddressList(row.input), row.expected);
  });
}

const mailboxRows: { name: string; input: string; expected: Mailbox | undefined }[] = [
  { name: 'the first of several', input: 'Bob <b@y.org>, c@z.org', expected: mailbox('b@y.org', 'Bob') },
  { name: 'the first usable one', input: 'Bob <b@y.org, c@z.org', expected: mailbox('c@z.org') },
  { name: 'empty value', input: '', expected: undefined },
  { name: 'empty group', input: 'undisclosed-recipients:;', expected: undefined },
  { name: 'only garbage', input: 'John Doe', expected: undefined },
];

for (const row of mailboxRows) {
  test(`parseMailbox: ${row.name}`, () => {
    assert.deepEqual(parseMailbox(row.input), row.expected);
  });
}

const looksRows: [string, boolean][] = [
  ['a@x.org', true],
  ['"a b"@x.org', true],
  ['"a@b"@x.org', true],
  ['"a\\"b"@x.org', true],
  ['user@[192.0.2.1]', true],
  ['user@[IPv6:2001:db8::1]', true],
  ['jürgen@x.de', true],
  ['', false],
  ['bob', false],
  ['@x.org', false],
  ['a@', false],
  ['a b@x.org', false],
  ['a@x.org ', false],
  ['<a@x.org>', false],
  ['Bob <a@x.org>', false],
  ['a@x.org (Bob)', false],
  ['a@x.org, b@y.org', false],
  ['a@b@x.org', false],
  ['a@x.org\r\n', false],
  ['a\u0000@x.org', false],
  ['a\t@x.org', false],
  ['"a\u0001"@x.org', false],
  ['"a@x.org', false],
  ['"a\\"@x.org', false],
  ['a@"x.org"', false],
  ['a\\b@x.org', false],
];

for (const [input, expected] of looksRows) {
  test(`looksLikeAddress(${JSON.stringify(input)}) is ${expected}`, () => {
    assert.equal(looksLikeAddress(input), expected);
  });
}

const domainRows: [string, string | undefined][] = [
  ['a@x.org', 'x.org'],
  ['"a@b.com x"@internal.example', 'internal.example'],
  ['"a\\"@b"@c.org', 'c.org'],
  ['a@b@c.org', 'c.org'],
  ['user@[192.0.2.1]', '[192.0.2.1]'],
  ['user@[IPv6:2001:db8::1]', '[IPv6:2001:db8::1]'],
  ['jürgen@bücher.de', 'bücher.de'],
  ['bob', undefined],
  ['a@', undefined],
  ['"a@b"', undefined],
  ['', undefined],
];

for (const [input, expected] of domainRows) {
  test(`domainOf(${JSON.stringify(input)}) is ${String(expected)}`, () => {
    assert.equal(domainOf(input), expected);
  });
}

test('100,000 comma-separated addresses parse to 100,000 mailboxes', () => {
  const addresses = Array.from({ length: 100_000 }, (_, i) => `u${i}@x.org`);
  const parsed = parseAddressList(addresses.join(', '));
  assert.deepEqual(
    parsed,
    addresses.map((address) => mailbox(address)),
  );
});

test('10,000 nested comment levels before an address', () => {
  const value = `${'('.repeat(10_000)}x${')'.repeat(10_000)} a@x.org`;
  assert.deepEqual(parseAddressList(value), [mailbox('a@x.org')]);
});

test('10,000 unclosed comment levels swallow the rest', () => {
  assert.deepEqual(parseAddressList(`b@y.org, ${'('.repeat(10_000)} a@x.org`), [mailbox('b@y.org')]);
});

test('a 1 MB quoted display name', () => {
  const name = 'n '.repeat(512 * 1024).trimEnd();
  assert.deepEqual(parseAddressList(`"${name}" <a@x.org>`), [mailbox('a@x.org', name)]);
});

test('a 1 MB display name of unquoted words', () => {
  const name = 'word '.repeat(200 * 1024).trimEnd();
  assert.deepEqual(parseAddressList(`${name} <a@x.org>, b@y.org`), [mailbox('a@x.org', name), mailbox('b@y.org')]);
});

test('a 1 MB unterminated quoted string', () => {
  assert.deepEqual(parseAddressList(`a@x.org, "${'q'.repeat(1024 * 1024)}`), [mailbox('a@x.org')]);
});

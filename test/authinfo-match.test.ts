/**
 * Choosing the authinfo entry (auth/authinfo.ts findEntry) as Emacs auth-source does: order, default,
 * user restriction, port aliases, and why no entry matched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  findEntry,
  formatEntry,
  mismatch,
  parseAuthinfo,
  type AuthinfoEntry,
  type CredentialQuery,
} from '../src/auth/authinfo.js';
import { SmtpProtocolError } from '../src/errors.js';

const FILE = 'authinfo';

function parse(text: string): AuthinfoEntry[] {
  return parseAuthinfo(text, FILE);
}

function only(text: string): AuthinfoEntry {
  const [first, ...rest] = parse(text);
  assert.ok(first !== undefined && rest.length === 0, 'expected exactly one entry');
  return first;
}

const mismatchRows: {
  name: string;
  entry: string;
  query: CredentialQuery;
  expected: 'host' | 'port' | 'user' | undefined;
}[] = [
  {
    name: 'all fields equal',
    entry: 'machine h login u port 587',
    query: { host: 'h', port: '587', user: 'u' },
    expected: undefined,
  },
  {
    name: 'missing fields in the entry match anything',
    entry: 'machine h',
    query: { host: 'h', port: '25', user: 'u' },
    expected: undefined,
  },
  {
    name: 'query without user matches any login',
    entry: 'machine h login u',
    query: { host: 'h', port: '25' },
    expected: undefined,
  },
  {
    name: 'default matches any host',
    entry: 'default login u',
    query: { host: 'anything', port: '25' },
    expected: undefined,
  },
  { name: 'other host', entry: 'machine h', query: { host: 'g', port: '25' }, expected: 'host' },
  {
    name: 'host reported before port and user',
    entry: 'machine h port 1 login x',
    query: { host: 'g', port: '2', user: 'y' },
    expected: 'host',
  },
  {
    name: 'port reported before user',
    entry: 'machine h port 1 login x',
    query: { host: 'h', port: '2', user: 'y' },
    expected: 'port',
  },
  {
    name: 'user restriction',
    entry: 'machine h login x',
    query: { host: 'h', port: '25', user: 'y' },
    expected: 'user',
  },
  {
    name: 'port is a string: smtp is not 25',
    entry: 'machine h port smtp',
    query: { host: 'h', port: '25' },
    expected: 'port',
  },
  {
    name: 'port is a string: 587 is 587',
    entry: 'machine h port 587',
    query: { host: 'h', port: '587' },
    expected: undefined,
  },
  {
    name: 'port is a string: 0587 is not 587',
    entry: 'machine h port 0587',
    query: { host: 'h', port: '587' },
    expected: 'port',
  },
  {
    name: 'service aliases: smtp is 25',
    entry: 'machine h port smtp',
    query: { host: 'h', port: '25', serviceAliases: true },
    expected: undefined,
  },
  {
    name: 'service aliases: 587 is submission',
    entry: 'machine h port 587',
    query: { host: 'h', port: 'submission', serviceAliases: true },
    expected: undefined,
  },
  {
    name: 'service aliases: smtps is submissions',
    entry: 'machine h port smtps',
    query: { host: 'h', port: 'submissions', serviceAliases: true },
    expected: undefined,
  },
  {
    name: 'service aliases: smtp is not 587',
    entry: 'machine h port smtp',
    query: { host: 'h', port: '587', serviceAliases: true },
    expected: 'port',
  },
  {
    name: 'host is case-sensitive by default',
    entry: 'machine Mail.Example.ORG',
    query: { host: 'mail.example.org', port: '25' },
    expected: 'host',
  },
  {
    name: 'host case-insensitive when opted in',
    entry: 'machine Mail.Example.ORG',
    query: { host: 'mail.example.org', port: '25', caseInsensitiveHosts: true },
    expected: undefined,
  },
  {
    name: 'user is case-sensitive',
    entry: 'machine h login Bob',
    query: { host: 'h', port: '25', user: 'bob' },
    expected: 'user',
  },
];

for (const row of mismatchRows) {
  test(`mismatch: ${row.name}`, () => {
    assert.equal(mismatch(only(row.entry), row.query), row.expected);
  });
}

test('findEntry: first match in order', () => {
  const entries = parse('machine h login first\nmachine h login second');
  assert.deepEqual(findEntry(entries, { host: 'h', port: '25' }).entry, entries[0]);
});

test('findEntry: a default before a later machine wins, as in Emacs', () => {
  const entries = parse('default login anon\nmachine h login bob');
  assert.deepEqual(findEntry(entries, { host: 'h', port: '25' }).entry, entries[0]);
});

test('findEntry: a default after the machine is only a fallback', () => {
  const entries = parse('machine h login bob\ndefault login anon');
  assert.deepEqual(findEntry(entries, { host: 'h', port: '25' }).entry, entries[0]);
  assert.deepEqual(findEntry(entries, { host: 'other', port: '25' }).entry, entries[1]);
});

test('findEntry: the user restriction skips other logins', () => {
  const entries = parse('machine h login alice password a\nmachine h login bob password b');
  assert.deepEqual(findEntry(entries, { host: 'h', port: '25', user: 'bob' }).entry, entries[1]);
});

test('findEntry: no match is undefined, with why each entry did not match (fields, never values)', () => {
  assert.deepEqual(findEntry(parse('machine h port 587\nmachine other'), { host: 'h', port: '25' }), {
    entry: undefined,
    reasons: ['line 1: port', 'line 2: host'],
  });
});

const roundTrip: { name: string; password: string; line: string }[] = [
  { name: 'plain value written bare', password: 'hunter2', line: 'machine h login u port 587 password hunter2' },
  { name: 'space', password: 'two words', line: 'machine h login u port 587 password "two words"' },
  { name: 'tab', password: 'a\tb', line: 'machine h login u port 587 password "a\tb"' },
  { name: '# inside is bare', password: 'pa#ss', line: 'machine h login u port 587 password pa#ss' },
  { name: 'leading #', password: '#secret', line: 'machine h login u port 587 password "#secret"' },
  { name: 'double quote with a space', password: 'say "hi"', line: `machine h login u port 587 password 'say "hi"'` },
  { name: 'single quote with a space', password: "it's me", line: `machine h login u port 587 password "it's me"` },
  { name: 'leading double quote', password: '"abc', line: `machine h login u port 587 password '"abc'` },
  { name: 'leading single quote', password: "'abc", line: `machine h login u port 587 password "'abc"` },
  { name: 'both quotes, no blank: bare', password: `a"b'c`, line: `machine h login u port 587 password a"b'c` },
  {
    name: 'the brief example',
    password: 's3cret "pass" #1',
    line: `machine h login u port 587 password 's3cret "pass" #1'`,
  },
  { name: 'keyword-like value', password: 'default', line: 'machine h login u port 587 password default' },
];

for (const row of roundTrip) {
  test(`formatEntry round trip: ${row.name}`, () => {
    const values = { host: 'h', port: '587', user: 'u', password: row.password };
    const line = formatEntry(values);
    assert.equal(line, row.line);
    assert.deepEqual(parseAuthinfo(line, FILE), [
      { host: 'h', isDefault: false, user: 'u', password: row.password, port: '587', extra: {}, line: 1 },
    ]);
  });
}

test('formatEntry round trip: every field quoted when needed', () => {
  const values = { host: 'odd host', port: '#587', user: `o"neil x`, password: "p'w d" };
  assert.deepEqual(parseAuthinfo(formatEntry(values), FILE), [
    { host: 'odd host', isDefault: false, user: `o"neil x`, password: "p'w d", port: '#587', extra: {}, line: 1 },
  ]);
});

const refused: { name: string; field: 'host' | 'user' | 'port' | 'password'; value: string; message: string }[] = [
  {
    name: 'both quote kinds and a blank',
    field: 'password',
    value: `Zx9 "it's"`,
    message: 'Cannot write the password to an authinfo file: it needs quotes but contains both kinds of quote',
  },
  {
    name: 'newline',
    field: 'password',
    value: 'Zx9\nsecret',
    message: 'Cannot write the password to an authinfo file: it contains a line break',
  },
  {
    name: 'carriage return',
    field: 'user',
    value: 'Zx9\rsecret',
    message: 'Cannot write the user to an authinfo file: it contains a line break',
  },
  {
    name: 'empty',
    field: 'password',
    value: '',
    message: 'Cannot write the password to an authinfo file: it is empty',
  },
  { name: 'empty host', field: 'host', value: '', message: 'Cannot write the host to an authinfo file: it is empty' },
  {
    name: 'the word machine',
    field: 'password',
    value: 'machine',
    message: 'Cannot write the password to an authinfo file: it is the keyword that starts an entry',
  },
];

for (const row of refused) {
  test(`formatEntry refuses: ${row.name}`, () => {
    const values = { host: 'h', port: '587', user: 'u', password: 'p', [row.field]: row.value };
    assert.throws(
      () => formatEntry(values),
      (error: unknown) => {
        assert.ok(error instanceof SmtpProtocolError);
        assert.equal(error.code, 'ECONFIG');
        assert.equal(error.message, row.message);
        return true;
      },
    );
  });
}

/**
 * The authinfo / netrc parser (auth/authinfo.ts): every token form, and errors that never contain a value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthinfo, type AuthinfoEntry } from '../src/auth/authinfo.js';
import { SmtpProtocolError } from '../src/errors.js';

const FILE = '/home/u/.authinfo';

/** A whole entry: every field given, so rows compare complete values. */
function entry(fields: Partial<AuthinfoEntry> & { line: number }): AuthinfoEntry {
  return {
    host: undefined,
    isDefault: false,
    user: undefined,
    password: undefined,
    port: undefined,
    extra: {},
    ...fields,
  };
}

function isConfigError(message: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'ECONFIG');
    assert.equal(error.message, message);
    return true;
  };
}

const goodRows: { name: string; input: string; expected: AuthinfoEntry[] }[] = [
  { name: 'empty text', input: '', expected: [] },
  { name: 'only blanks and comments', input: '  \n# nothing here\n\t\n', expected: [] },
  {
    name: 'one line, every field',
    input: 'machine smtp.example.org login bob port 587 password hunter2\n',
    expected: [entry({ host: 'smtp.example.org', user: 'bob', port: '587', password: 'hunter2', line: 1 })],
  },
  {
    name: 'double-quoted value with spaces',
    input: 'machine a password "two words"',
    expected: [entry({ host: 'a', password: 'two words', line: 1 })],
  },
  {
    name: 'single-quoted value with spaces and a double quote',
    input: `machine a password 'say "hi" now'`,
    expected: [entry({ host: 'a', password: 'say "hi" now', line: 1 })],
  },
  {
    name: 'no escapes inside quotes: the backslash is kept',
    input: 'machine a password "a\\b"',
    expected: [entry({ host: 'a', password: 'a\\b', line: 1 })],
  },
  {
    name: 'quoted # is part of the value',
    input: 'machine a password "#secret"',
    expected: [entry({ host: 'a', password: '#secret', line: 1 })],
  },
  {
    name: 'comment lines and a comment after an entry',
    input: '# mail\nmachine a login bob # the work account\n  # indented comment\nmachine b login eve\n',
    expected: [entry({ host: 'a', user: 'bob', line: 2 }), entry({ host: 'b', user: 'eve', line: 4 })],
  },
  {
    name: '# inside a bare token is not a comment',
    input: 'machine a password pa#ss',
    expected: [entry({ host: 'a', password: 'pa#ss', line: 1 })],
  },
  {
    name: 'a value on the line after its key (and after a comment line) is kept, as in Emacs',
    input: 'machine a password\n# the password:\nnext-line',
    expected: [entry({ host: 'a', password: 'next-line', line: 1 })],
  },
  {
    name: 'entry spanning several lines',
    input: 'machine smtp.example.org\n  login bob\n  port 587\n  password hunter2\n\nmachine other\n',
    expected: [
      entry({ host: 'smtp.example.org', user: 'bob', port: '587', password: 'hunter2', line: 1 }),
      entry({ host: 'other', line: 6 }),
    ],
  },
  {
    name: 'default matches any host and has no host',
    input: 'machine a login x\ndefault login anon password guest',
    expected: [
      entry({ host: 'a', user: 'x', line: 1 }),
      entry({ isDefault: true, user: 'anon', password: 'guest', line: 2 }),
    ],
  },
  {
    name: 'host is machine and starts an entry',
    input: 'host a login x\nhost b login y',
    expected: [entry({ host: 'a', user: 'x', line: 1 }), entry({ host: 'b', user: 'y', line: 2 })],
  },
  {
    name: 'aliases: account, secret, protocol',
    input: 'machine a account bob secret s protocol smtp',
    expected: [entry({ host: 'a', user: 'bob', password: 's', port: 'smtp', line: 1 })],
  },
  {
    name: 'alias: user',
    input: 'machine a user bob',
    expected: [entry({ host: 'a', user: 'bob', line: 1 })],
  },
  {
    name: 'duplicate key: the last wins, across aliases',
    input: 'machine a login one user two password p1 secret p2 port 25 port 587',
    expected: [entry({ host: 'a', user: 'two', password: 'p2', port: '587', line: 1 })],
  },
  {
    name: 'other keys kept in extra',
    input: 'machine a smtp-auth plain key /k.pem cert /c.pem smtp-auth login',
    expected: [entry({ host: 'a', extra: { 'smtp-auth': 'login', key: '/k.pem', cert: '/c.pem' }, line: 1 })],
  },
  {
    name: '__proto__ as a key stays an ordinary extra key',
    input: 'machine a __proto__ x',
    expected: [entry({ host: 'a', extra: Object.fromEntries([['__proto__', 'x']]), line: 1 })],
  },
  {
    name: 'tabs as separators',
    input: 'machine\ta\tlogin\tbob\t\tpassword\tp',
    expected: [entry({ host: 'a', user: 'bob', password: 'p', line: 1 })],
  },
  {
    name: 'CRLF line ends, quoted value at the end of a line',
    input: 'machine a\r\nlogin bob\r\npassword "p w"\r\nmachine b\r\n',
    expected: [entry({ host: 'a', user: 'bob', password: 'p w', line: 1 }), entry({ host: 'b', line: 4 })],
  },
  {
    name: 'quoted "machine" is an ordinary value',
    input: 'machine a login "machine"',
    expected: [entry({ host: 'a', user: 'machine', line: 1 })],
  },
  {
    name: 'a UTF-8 byte order mark is skipped',
    input: '\uFEFFmachine a',
    expected: [entry({ host: 'a', line: 1 })],
  },
];

for (const row of goodRows) {
  test(`parseAuthinfo: ${row.name}`, () => {
    assert.deepEqual(parseAuthinfo(row.input, FILE), row.expected);
  });
}

const errorRows: { name: string; input: string; message: string }[] = [
  {
    // Emacs: `#` comments out the rest of the line, so `password` silently
    // takes the next line's first token (here the word "login") as its value.
    // We refuse instead, because the comment is on the key's own line.
    name: 'unquoted #secret on the line of its key',
    input: 'machine a password #secret\nlogin',
    message: `${FILE}:1: the value of the key "password" starts with '#', which begins a comment; quote the value`,
  },
  {
    name: 'machine as a value (missing value)',
    input: 'machine a\nlogin machine b',
    message: `${FILE}:2: "machine" where the value of the key "login" was expected (a missing value?)`,
  },
  {
    name: 'machine as a value on the next line names the key line',
    input: 'machine a login bob password\nmachine b',
    message: `${FILE}:1: "machine" where the value of the key "password" was expected (a missing value?)`,
  },
  {
    name: 'machine without a host at the end',
    input: 'machine a login b\nmachine',
    message: `${FILE}:2: the key "machine" has no value at the end of the file`,
  },
  {
    name: 'trailing key without a value',
    input: 'machine a\n\nlogin bob port',
    message: `${FILE}:3: the key "port" has no value at the end of the file`,
  },
  {
    name: 'trailing unknown key is not named (it may be a value)',
    input: 'machine a login password Zx9-secret',
    message: `${FILE}:1: a key (not shown: it may be a misplaced value) has no value at the end of the file`,
  },
  {
    name: 'unterminated double quote',
    input: 'machine a\npassword "abc',
    message: `${FILE}:2: unterminated double quote (a quoted value ends on its line)`,
  },
  {
    name: 'a quote does not continue on the next line',
    input: "machine a password 'abc\ndef'",
    message: `${FILE}:1: unterminated single quote (a quoted value ends on its line)`,
  },
  {
    name: 'text glued to a closing quote',
    input: 'machine a password "abc"def',
    message: `${FILE}:1: text right after a closing quote; separate it with a space`,
  },
  {
    name: 'tokens before the first machine',
    input: '# header\nlogin bob password x\nmachine a',
    message: `${FILE}:2: text before the first "machine" or "default" belongs to no entry (probably a typo)`,
  },
];

for (const row of errorRows) {
  test(`parseAuthinfo error: ${row.name}`, () => {
    assert.throws(() => parseAuthinfo(row.input, FILE), isConfigError(row.message));
  });
}

test('parseAuthinfo: no error message or stack contains the password', () => {
  const secret = 'Zx9-secret';
  const broken = [
    `machine a login bob password ${secret} port`,
    `machine a login password ${secret}`,
    `password ${secret}\nmachine a`,
    `machine a password "${secret}`,
    `machine a password "${secret}"x`,
    `machine a password '${secret}\nmachine b'`,
    `machine a password ${secret} login machine`,
    `machine a login ${secret} smtp-auth`,
  ];
  for (const input of broken) {
    let caught: unknown;
    try {
      parseAuthinfo(input, FILE);
    } catch (error) {
      caught = error;
    }
    assert.ok(caught instanceof SmtpProtocolError, `expected an error for ${JSON.stringify(input)}`);
    assert.equal(caught.code, 'ECONFIG');
    assert.ok(!caught.message.includes(secret), caught.message);
    assert.ok(!(caught.stack ?? '').includes(secret), caught.stack);
  }
});

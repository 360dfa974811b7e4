/**
 * The queue's .el file (queue/el-file.ts): Emacs 28's form and Emacs 27's quoted one, written and
 * read back, Lisp escapes, line numbers in errors, and bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatQueueEl, lispString, parseQueueEl, type QueuedSettings } from '../src/queue/el-file.js';
import { SmtpProtocolError } from '../src/errors.js';

const FILE = '/q/0-1700000000.el';

/** What Emacs 28 and later write (values bare: the form is read, not evaluated). */
const EMACS28_STORED = `(setq      smtpmail-recipient-address-list ("hidden@example.com" "bob@example.com")
     smtpmail-smtp-server "mail.example.org"
     smtpmail-stream-type starttls
     smtpmail-smtp-service 587
     smtpmail-smtp-user "bob"
)
`;

/** What Emacs 27 and older wrote (values quoted for load), still read. */
const EMACS_STORED = `(setq      smtpmail-recipient-address-list '("hidden@example.com" "bob@example.com")
     smtpmail-smtp-server '"mail.example.org"
     smtpmail-stream-type 'starttls
     smtpmail-smtp-service '587
     smtpmail-smtp-user '"bob"
)
`;

const FULL: QueuedSettings = {
  recipients: ['hidden@example.com', 'bob@example.com'],
  server: 'mail.example.org',
  streamType: 'starttls',
  service: 587,
  user: 'bob',
};

const formatRows: { name: string; settings: QueuedSettings; stored: boolean; expected: string }[] = [
  {
    name: 'recipients only',
    settings: { recipients: ['bob@example.com'] },
    stored: false,
    expected: `(setq      smtpmail-recipient-address-list ("bob@example.com")\n)\n`,
  },
  {
    name: 'stored is false: the server settings are not written even when given',
    settings: FULL,
    stored: false,
    expected: `(setq      smtpmail-recipient-address-list ("hidden@example.com" "bob@example.com")\n)\n`,
  },
  { name: 'every stored variable', settings: FULL, stored: true, expected: EMACS28_STORED },
  {
    name: 'stored, with nil user and stream type and a service name string',
    settings: { recipients: ['a@example.com'], server: 'mail.example.org', service: 'submission' },
    stored: true,
    expected: [
      `(setq      smtpmail-recipient-address-list ("a@example.com")\n`,
      `     smtpmail-smtp-server "mail.example.org"\n`,
      `     smtpmail-stream-type nil\n`,
      `     smtpmail-smtp-service "submission"\n`,
      `     smtpmail-smtp-user nil\n`,
      `)\n`,
    ].join(''),
  },
  {
    name: 'stored, everything nil',
    settings: { recipients: [] },
    stored: true,
    expected: [
      '(setq      smtpmail-recipient-address-list nil',
      '     smtpmail-smtp-server nil',
      '     smtpmail-stream-type nil',
      '     smtpmail-smtp-service nil',
      '     smtpmail-smtp-user nil',
      ')\n',
    ].join('\n'),
  },
  {
    name: 'an empty recipient list prints as nil',
    settings: { recipients: [] },
    stored: false,
    expected: `(setq      smtpmail-recipient-address-list nil\n)\n`,
  },
  {
    name: 'only " and \\ are escaped',
    settings: { recipients: ['"odd\\name"@example.com', 'plain@example.com'] },
    stored: false,
    expected:
      String.raw`(setq      smtpmail-recipient-address-list ("\"odd\\name\"@example.com" "plain@example.com")` +
      '\n)\n',
  },
  {
    name: 'non-ASCII and a newline are written raw',
    settings: { recipients: ['jörg@bücher.example'], server: 'a\nb', streamType: 'ssl', service: 465 },
    stored: true,
    expected: [
      '(setq      smtpmail-recipient-address-list ("jörg@bücher.example")',
      '     smtpmail-smtp-server "a\nb"',
      '     smtpmail-stream-type ssl',
      '     smtpmail-smtp-service 465',
      '     smtpmail-smtp-user nil',
      ')\n',
    ].join('\n'),
  },
];

for (const row of formatRows) {
  test(`formatQueueEl: ${row.name}`, () => {
    assert.equal(formatQueueEl(row.settings, row.stored), row.expected);
  });
}

test('formatQueueEl: non-ASCII is plain UTF-8 in the bytes written', () => {
  const bytes = Buffer.from(formatQueueEl({ recipients: ['ö@example.com'] }, false), 'utf8');
  const expected = Buffer.concat([
    Buffer.from(`(setq      smtpmail-recipient-address-list ("`, 'latin1'),
    Buffer.from([0xc3, 0xb6]),
    Buffer.from(`@example.com")\n)\n`, 'latin1'),
  ]);
  assert.deepEqual(bytes, expected);
});

const formatErrorRows: { name: string; settings: QueuedSettings; message: RegExp }[] = [
  { name: 'port out of range', settings: { recipients: [], service: 70000 }, message: /70000 is not a port number/ },
  { name: 'port not an integer', settings: { recipients: [], service: 1.5 }, message: /1\.5 is not a port number/ },
  { name: 'port NaN', settings: { recipients: [], service: Number.NaN }, message: /NaN is not a port number/ },
  {
    // A JavaScript caller can pass anything; printed bare, this would be code in a file Emacs loads.
    name: 'stream type that is not one of the symbols',
    settings: { recipients: [], streamType: 'tls (shell-command "x")' as 'tls' },
    message: /is not a stream type/,
  },
];

for (const row of formatErrorRows) {
  test(`formatQueueEl refuses: ${row.name}`, () => {
    assert.throws(
      () => formatQueueEl(row.settings, true),
      (error: unknown) =>
        error instanceof SmtpProtocolError && error.code === 'EQUEUE' && row.message.test(error.message),
    );
  });
}

test('formatQueueEl: stored is false ignores an unwritable service', () => {
  assert.equal(
    formatQueueEl({ recipients: [], service: 0 }, false),
    `(setq      smtpmail-recipient-address-list nil\n)\n`,
  );
});

const lispStringRows: [string, string][] = [
  ['', '""'],
  ['bob@example.com', '"bob@example.com"'],
  ['say "hi"', String.raw`"say \"hi\""`],
  ['back\\slash', String.raw`"back\\slash"`],
  ['line\nbreak\ttab', '"line\nbreak\ttab"'],
  ['ünï', '"ünï"'],
];

for (const [input, expected] of lispStringRows) {
  test(`lispString: ${JSON.stringify(input)}`, () => {
    assert.equal(lispString(input), expected);
  });
}

const roundTrips: QueuedSettings[] = [
  FULL,
  { recipients: ['a@example.com'] },
  { recipients: [] },
  { recipients: ['x@example.com'], service: 'submissions', streamType: 'tls' },
  { recipients: ['x@example.com'], server: 'smtp.example.net', streamType: 'plain', service: 25 },
  { recipients: ['x@example.com'], streamType: 'network', service: 65535, user: 'a "quoted" \\ user' },
  {
    recipients: ['"q\\"@example.com', 'jörg@bücher.example', 'new\nline@example.com', 'semi;colon@example.com'],
    user: 'ü',
  },
];

for (const settings of roundTrips) {
  test(`round trip: ${JSON.stringify(settings)}`, () => {
    assert.deepEqual(parseQueueEl(formatQueueEl(settings, true), FILE), settings);
  });
}

test('round trip without stored variables keeps only the recipients', () => {
  assert.deepEqual(parseQueueEl(formatQueueEl(FULL, false), FILE), { recipients: FULL.recipients });
});

const readRows: { name: string; input: string; expected: QueuedSettings }[] = [
  { name: 'the file Emacs 27 wrote (quoted values)', input: EMACS_STORED, expected: FULL },
  { name: 'the file Emacs 28 writes (bare values)', input: EMACS28_STORED, expected: FULL },
  {
    name: 'unquoted values',
    input:
      '(setq smtpmail-recipient-address-list ("a@example.com")\n smtpmail-smtp-server "mail"\n smtpmail-stream-type ' +
      'ssl\n smtpmail-smtp-service 465\n smtpmail-smtp-user nil)',
    expected: { recipients: ['a@example.com'], server: 'mail', streamType: 'ssl', service: 465 },
  },
  {
    name: 'comments, a ; inside a string, no final newline',
    input:
      ';; -*- coding: utf-8 -*-\n(setq ; queued by Emacs\n smtpmail-recipient-address-list ' +
      '\'("semi;colon@example.com") ; who\n)\n; end',
    expected: { recipients: ['semi;colon@example.com'] },
  },
  {
    name: 'CRLF line ends',
    input: EMACS_STORED.replaceAll('\n', '\r\n'),
    expected: FULL,
  },
  {
    name: 'CRLF line ends inside a string spanning lines are LF, as Emacs decodes them',
    input: '(setq smtpmail-recipient-address-list \'("a\r\nb"))\r\n',
    expected: { recipients: ['a\nb'] },
  },
  {
    name: 'extra whitespace, tabs, a space after the quote, variables in another order',
    input:
      '\n\n  (  setq\tsmtpmail-smtp-user   \'"u"\n\n\t smtpmail-recipient-address-list\t\' ( "a"\n  "b" )  )  \n\n',
    expected: { recipients: ['a', 'b'], user: 'u' },
  },
  { name: "nil recipients ('nil)", input: "(setq smtpmail-recipient-address-list 'nil)", expected: { recipients: [] } },
  {
    name: "empty list recipients ('())",
    input: "(setq smtpmail-recipient-address-list '())",
    expected: { recipients: [] },
  },
  { name: 'unquoted () is nil too', input: '(setq smtpmail-recipient-address-list ())', expected: { recipients: [] } },
  {
    name: 'nil and () in every stored variable',
    input:
      '(setq smtpmail-recipient-address-list \'("a") smtpmail-smtp-server \'() ' +
      "smtpmail-stream-type nil smtpmail-smtp-service 'nil smtpmail-smtp-user ())",
    expected: { recipients: ['a'] },
  },
  {
    name: 'accepted string escapes',
    input: '(setq smtpmail-recipient-address-list \'("q\\"b\\\\n\\nt\\tr\\re\\es\\sx\\\ny"))',
    expected: { recipients: ['q"b\\n\nt\tr\re\x1bs x' + 'y'] },
  },
  {
    name: 'service as a name string, stream type network',
    input:
      '(setq smtpmail-recipient-address-list \'("a") smtpmail-stream-type \'network smtpmail-smtp-service \'"smtps")',
    expected: { recipients: ['a'], streamType: 'network', service: 'smtps' },
  },
  {
    name: 'a leading byte order mark',
    input: '\uFEFF(setq smtpmail-recipient-address-list \'("a"))',
    expected: { recipients: ['a'] },
  },
];

for (const row of readRows) {
  test(`parseQueueEl: ${row.name}`, () => {
    assert.deepEqual(parseQueueEl(row.input, FILE), row.expected);
  });
}

/** Asserts EQUEUE, the `${file}:${line}: ` prefix and the gist of the problem. */
function refusal(line: number, problem: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SmtpProtocolError, 'expected an SmtpProtocolError');
    assert.equal(error.code, 'EQUEUE');
    const prefix = `${FILE}:${line}: `;
    assert.ok(
      error.message.startsWith(prefix),
      `${JSON.stringify(error.message)} should start with ${JSON.stringify(prefix)}`,
    );
    assert.match(error.message.slice(prefix.length), problem);
    return true;
  };
}

/** A setq with its recipient list, left open for the rows to finish. */
const START = '(setq smtpmail-recipient-address-list \'("a@example.com")';

const refusalRows: { name: string; input: string; line: number; problem: RegExp }[] = [
  {
    name: 'a function call as the whole form',
    input: '(shell-command "rm -rf ~")',
    line: 1,
    problem: /not a call to shell-command/,
  },
  {
    name: 'a second form after the setq',
    input: `${START})\n\n(shell-command "x")\n`,
    line: 3,
    problem: /extra forms/,
  },
  { name: 'a second setq', input: `${START})\n${START})`, line: 2, problem: /extra forms/ },
  {
    name: '(progn ...) around a setq',
    input: '(progn\n (setq smtpmail-recipient-address-list nil))',
    line: 1,
    problem: /not a call to progn/,
  },
  // Reading stops at the depth bound before the head is looked at.
  {
    name: '(progn ...) around a setq with a list',
    input: `(progn\n ${START}))`,
    line: 2,
    problem: /nested deeper than 2/,
  },
  { name: 'a quoted form', input: `'${START})`, line: 1, problem: /not a quoted value/ },
  { name: 'a string as the whole form', input: '\n"a"', line: 2, problem: /not a string/ },
  { name: 'an empty file', input: '', line: 1, problem: /no \(setq \.\.\.\) form/ },
  { name: 'only comments', input: ';; nothing\n\n', line: 3, problem: /no \(setq \.\.\.\) form/ },
  {
    name: 'an unknown variable',
    input: `${START}\n     smtpmail-smtp-server '"m"\n     smtpmail-foo '1)`,
    line: 3,
    problem: /^smtpmail-foo is not a queue variable$/,
  },
  {
    name: 'a variable Emacs would run code from',
    input: `${START}\n  load-path '("/tmp"))`,
    line: 2,
    problem: /^load-path is not a queue variable$/,
  },
  {
    name: 'a quoted variable name',
    input: '(setq \'smtpmail-smtp-user \'"u")',
    line: 1,
    problem: /expected a variable name, not a quoted value/,
  },
  {
    name: 'a string as variable name',
    input: '(setq "x" "y")',
    line: 1,
    problem: /expected a variable name, not a string/,
  },
  {
    name: 'a function call as the recipient list',
    input: '(setq\n smtpmail-recipient-address-list (shell-command "x"))',
    line: 2,
    problem: /smtpmail-recipient-address-list is a call to shell-command; nothing is evaluated/,
  },
  {
    name: 'a function call as the server',
    input: `${START}\n smtpmail-smtp-server (getenv "HOST"))`,
    line: 2,
    problem: /a call to getenv/,
  },
  {
    name: 'a quoted list with a symbol',
    input: '(setq\n smtpmail-recipient-address-list \'("a"\n shell-command))',
    line: 3,
    problem: /only strings, not the symbol shell-command/,
  },
  {
    name: 'a number in the recipient list',
    input: '(setq smtpmail-recipient-address-list \'("a" 1))',
    line: 1,
    problem: /only strings, not 1/,
  },
  {
    name: 'a string as the recipient list',
    input: '(setq smtpmail-recipient-address-list "a")',
    line: 1,
    problem: /list of strings or nil, not a string/,
  },
  {
    name: 'a nested list',
    input: '(setq smtpmail-recipient-address-list\n \'(("a")))',
    line: 2,
    problem: /nested deeper than 2/,
  },
  {
    name: 'backquote',
    input: '(setq smtpmail-recipient-address-list\n `("a"))',
    line: 2,
    problem: /^'`' is not accepted/,
  },
  {
    name: 'comma',
    input: '(setq smtpmail-recipient-address-list \'("a" ,x))',
    line: 1,
    problem: /^',' is not accepted/,
  },
  {
    name: '#s( record syntax',
    input: '(setq smtpmail-recipient-address-list #s(a))',
    line: 1,
    problem: /^'#' is not accepted/,
  },
  { name: "#' function syntax", input: "(setq smtpmail-smtp-user #'ignore)", line: 1, problem: /^'#' is not accepted/ },
  {
    name: 'a string with properties',
    input: '(setq smtpmail-smtp-user #("u" 0 1 (face bold)))',
    line: 1,
    problem: /^'#' is not accepted/,
  },
  { name: 'a vector', input: '(setq smtpmail-smtp-user ["u"])', line: 1, problem: /^'\[' is not accepted/ },
  { name: 'a character literal', input: '(setq smtpmail-smtp-service ?a)', line: 1, problem: /^'\?' is not accepted/ },
  {
    name: 'a dotted pair',
    input: '(setq smtpmail-recipient-address-list \'("a" . "b"))',
    line: 1,
    problem: /dotted pair/,
  },
  {
    name: 'a non-ASCII symbol character',
    input: '(setq smtpmail-smtp-user ü)',
    line: 1,
    problem: /^U\+00FC is not accepted/,
  },
  {
    name: 'an unterminated string (the line where it starts)',
    input: `(setq\n smtpmail-smtp-user "bob\n\n`,
    line: 2,
    problem: /unterminated string/,
  },
  {
    name: 'a backslash at the end of the text',
    input: '(setq smtpmail-smtp-user "bob\\',
    line: 1,
    problem: /unterminated string/,
  },
  {
    name: 'an unknown escape',
    input: '(setq smtpmail-recipient-address-list\n \'("a\n\\x41"))',
    line: 3,
    problem: /unknown escape in a string: backslash before 'x'/,
  },
  {
    name: 'a control-character escape',
    input: '(setq smtpmail-smtp-user "\\^@")',
    line: 1,
    problem: /backslash before '\^'/,
  },
  { name: 'an unclosed list', input: `${START}\n`, line: 2, problem: /the list opened on line 1 is not closed/ },
  { name: 'an unbalanced )', input: ')', line: 1, problem: /unbalanced/ },
  {
    name: 'a quote before )',
    input: "(setq smtpmail-recipient-address-list\n')",
    line: 2,
    problem: /a quote must be followed by a value/,
  },
  {
    name: 'a quoted quote',
    input: '(setq smtpmail-recipient-address-list \'\'("a"))',
    line: 1,
    problem: /a quote must be followed by a value/,
  },
  {
    name: 'odd setq',
    input: `${START}\n smtpmail-smtp-user)`,
    line: 2,
    problem: /odd number of arguments to setq: smtpmail-smtp-user has no value/,
  },
  {
    name: 'a variable set twice',
    input: `${START}\n smtpmail-smtp-user '"a"\n smtpmail-smtp-user '"b")`,
    line: 3,
    problem: /^smtpmail-smtp-user is set twice$/,
  },
  {
    name: 'the recipient list set twice',
    input: `${START}\n ${START.slice(6)})`,
    line: 2,
    problem: /^smtpmail-recipient-address-list is set twice$/,
  },
  {
    name: 'no recipient list',
    input: '\n(setq smtpmail-smtp-server \'"m")',
    line: 2,
    problem: /smtpmail-recipient-address-list is missing/,
  },
  { name: 'an empty setq', input: '(setq)', line: 1, problem: /smtpmail-recipient-address-list is missing/ },
  {
    name: 'an unknown stream type',
    input: `${START}\n smtpmail-stream-type 'tls-please)`,
    line: 2,
    problem: /stream-type must be one of .*, not the symbol tls-please/,
  },
  {
    name: 'a stream type as a string',
    input: `${START}\n smtpmail-stream-type '"starttls")`,
    line: 2,
    problem: /stream-type must be one of .*, not a string/,
  },
  {
    name: 'service 70000',
    input: `${START}\n smtpmail-smtp-service '70000)`,
    line: 2,
    problem: /smtp-service must be a port \(1\.\.65535\).*not 70000/,
  },
  { name: 'service 0', input: `${START}\n smtpmail-smtp-service 0)`, line: 2, problem: /not 0$/ },
  { name: 'service -25', input: `${START}\n smtpmail-smtp-service -25)`, line: 2, problem: /not -25$/ },
  {
    name: 'a float service',
    input: `${START}\n smtpmail-smtp-service 587.0)`,
    line: 2,
    problem: /not the symbol 587\.0$/,
  },
  {
    name: 'a huge integer service',
    input: `${START}\n smtpmail-smtp-service ${'9'.repeat(400)})`,
    line: 2,
    problem: /not 9{40}\.\.\.$/,
  },
  {
    name: 'a symbol as the server',
    input: `${START}\n smtpmail-smtp-server 'mail)`,
    line: 2,
    problem: /smtp-server must be a string or nil, not the symbol mail/,
  },
  {
    name: 'a number as the user',
    input: `${START}\n smtpmail-smtp-user 7)`,
    line: 2,
    problem: /smtp-user must be a string or nil, not 7/,
  },
  { name: 'oversized input', input: `${START})` + ' '.repeat(1024 * 1024), line: 1, problem: /longer than 1 MiB/ },
  {
    name: 'oversized in UTF-8 bytes, not in characters',
    input: `(setq smtpmail-smtp-user "${'ö'.repeat(600_000)}")`,
    line: 1,
    problem: /longer than 1 MiB/,
  },
];

for (const row of refusalRows) {
  test(`parseQueueEl refuses: ${row.name}`, () => {
    assert.throws(() => parseQueueEl(row.input, FILE), refusal(row.line, row.problem));
  });
}

test('parseQueueEl: a line count survives a string spanning lines', () => {
  const input = `(setq smtpmail-recipient-address-list '("a\nb\\\nc")\n smtpmail-foo 1)`;
  assert.throws(() => parseQueueEl(input, FILE), refusal(4, /smtpmail-foo/));
});

test('parseQueueEl: 100000 recipients are read, one more is refused on its line', () => {
  const many = (count: number): string => `(setq smtpmail-recipient-address-list\n '(${'"a@b.c"\n'.repeat(count)}))`;
  assert.equal(parseQueueEl(many(100_000), FILE).recipients.length, 100_000);
  assert.throws(() => parseQueueEl(many(100_001), FILE), refusal(100_002, /more than 100000 items/));
});

test('parseQueueEl: 1 MiB exactly is read', () => {
  const input = `${START})`;
  assert.deepEqual(parseQueueEl(input + ' '.repeat(1024 * 1024 - input.length), FILE), {
    recipients: ['a@example.com'],
  });
});

test('parseQueueEl: a long offending token is cut short in the message', () => {
  const long = `smtpmail-${'x'.repeat(10_000)}`;
  for (const input of [`${START} ${long} 1)`, `(${long})`, `${START} smtpmail-stream-type '${long})`]) {
    assert.throws(
      () => parseQueueEl(input, FILE),
      (error: unknown) =>
        error instanceof SmtpProtocolError && error.message.length < FILE.length + 160 && error.message.includes('...'),
    );
  }
});

test('parseQueueEl: string contents never appear in a message', () => {
  const secret = 'Zx9-not-for-logs';
  for (const input of [
    `(setq smtpmail-recipient-address-list "${secret}")`,
    `${START} smtpmail-stream-type "${secret}")`,
    `"${secret}"`,
  ]) {
    assert.throws(
      () => parseQueueEl(input, FILE),
      (error: unknown) => error instanceof SmtpProtocolError && !error.message.includes(secret),
    );
  }
});

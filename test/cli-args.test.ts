/**
 * The command line's argument parser (cli/args.ts): every flag as a table of rows, and the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliUsageError, MAX_ARGUMENTS, parseCliArgs, type CliArgs } from '../src/cli/args.js';

/** A whole value: defaults filled in, so each row names only what it changes. */
function args(fields: Partial<CliArgs> = {}): CliArgs {
  return {
    action: 'send',
    recipients: [],
    fromHeaders: false,
    ignoreDots: false,
    authinfo: [],
    debug: false,
    dryRun: false,
    json: false,
    checkAll: false,
    queueOnFailure: false,
    fcc: false,
    noChunking: false,
    requireTls: false,
    ignored: [],
    ...fields,
  };
}

const goodRows: { name: string; argv: string[]; expected: CliArgs }[] = [
  { name: 'no arguments', argv: [], expected: args() },
  {
    name: 'Emacs sendmail-send-it',
    argv: ['-oi', '-f', 'me@example.org', '-oem', '-odb', '-t'],
    expected: args({ ignoreDots: true, envelopeFrom: 'me@example.org', ignored: ['-oem', '-odb'], fromHeaders: true }),
  },
  {
    name: 'Emacs message-mode',
    argv: ['-oi', '-f', 'me@example.org', '-t'],
    expected: args({ ignoreDots: true, envelopeFrom: 'me@example.org', fromHeaders: true }),
  },
  {
    name: 'git send-email',
    argv: ['-i', 'a@example.net', 'b@example.net'],
    expected: args({ ignoreDots: true, recipients: ['a@example.net', 'b@example.net'] }),
  },
  {
    name: 'mutt',
    argv: ['-oi', '--', 'a@example.net'],
    expected: args({ ignoreDots: true, recipients: ['a@example.net'] }),
  },
  { name: '-f with the address attached', argv: ['-fme@x.org'], expected: args({ envelopeFrom: 'me@x.org' }) },
  { name: '-r with a separate address', argv: ['-r', 'me@x.org'], expected: args({ envelopeFrom: 'me@x.org' }) },
  { name: '-r with the address attached', argv: ['-rme@x.org'], expected: args({ envelopeFrom: 'me@x.org' }) },
  {
    name: '-f given twice: the last wins',
    argv: ['-f', 'a@x.org', '-fb@x.org'],
    expected: args({ envelopeFrom: 'b@x.org' }),
  },
  { name: '-F with a separate name', argv: ['-F', 'Jane Doe'], expected: args({ fullName: 'Jane Doe' }) },
  { name: '-F with the name attached', argv: ['-FJane'], expected: args({ fullName: 'Jane' }) },
  { name: '-ti', argv: ['-ti'], expected: args({ fromHeaders: true, ignoreDots: true }) },
  { name: '-it', argv: ['-it'], expected: args({ fromHeaders: true, ignoreDots: true }) },
  { name: '-t -i', argv: ['-t', '-i'], expected: args({ fromHeaders: true, ignoreDots: true }) },
  {
    name: 'historical options ignored and recorded; -bm is the default action',
    argv: ['-bm', '-v', '-odi', '-oQ/tmp', '-oem', '-t'],
    expected: args({ ignored: ['-v', '-odi', '-oQ/tmp', '-oem'], fromHeaders: true }),
  },
  {
    name: "Debian cron's sendmail -i -FCronDaemon -B8BITMIME -oem root",
    argv: ['-i', '-FCronDaemon', '-B8BITMIME', '-oem', 'root'],
    expected: args({ ignoreDots: true, fullName: 'CronDaemon', ignored: ['-B8BITMIME', '-oem'], recipients: ['root'] }),
  },
  {
    name: 'DSN flags (Postfix meanings) become the dsn option, in any case, attached or not',
    argv: ['-N', 'success,Failure', '-Rhdrs', '-V', 'envid-123', '-B', '7bit', '-t'],
    expected: args({
      dsn: { notify: ['SUCCESS', 'FAILURE'], ret: 'HDRS', envid: 'envid-123' },
      ignored: ['-B7BIT'],
      fromHeaders: true,
    }),
  },
  { name: '-N never', argv: ['-Nnever', '-t'], expected: args({ dsn: { notify: 'NEVER' }, fromHeaders: true }) },
  {
    name: '-N delay,delay,failure: each event once; a repeated -R: the last one',
    argv: ['-N', 'DELAY, delay,failure', '-R', 'hdrs', '-R', 'FULL', '-t'],
    expected: args({ dsn: { notify: ['DELAY', 'FAILURE'], ret: 'FULL' }, fromHeaders: true }),
  },
  { name: '--require-tls', argv: ['--require-tls', '-t'], expected: args({ requireTls: true, fromHeaders: true }) },
  {
    name: 'ignored options with values: -h, -L, -p, -O, -X, -A',
    argv: [
      '-h',
      '17',
      '-Lcron',
      '-p',
      'local',
      '-O',
      'DeliveryMode=b',
      '-X/tmp/log',
      '-Am',
      '-n',
      '-m',
      '-G',
      '-U',
      '-t',
    ],
    expected: args({
      ignored: ['-h 17', '-L cron', '-p local', '-O DeliveryMode=b', '-X /tmp/log', '-A m', '-n', '-m', '-G', '-U'],
      fromHeaders: true,
    }),
  },
  {
    name: '-q flushes the queue',
    argv: ['-q', '--queue-dir', '/q'],
    expected: args({ action: 'flush', queueDir: '/q' }),
  },
  { name: '-bp lists the queue', argv: ['-bp'], expected: args({ action: 'list' }) },
  { name: '-bV prints the version', argv: ['-bV'], expected: args({ action: 'version' }) },
  {
    name: '-a selects an account (msmtp)',
    argv: ['-a', 'work', '-t'],
    expected: args({ account: 'work', fromHeaders: true }),
  },
  { name: '-oitrue', argv: ['-oitrue'], expected: args({ ignoreDots: true }) },
  {
    name: 'smtpmail options of the day-one issue',
    argv: ['--maildomain', 'example.org', '--passwordeval', 'pass show mail', '--queue-on-failure', '-t'],
    expected: args({
      maildomain: 'example.org',
      passwordeval: 'pass show mail',
      queueOnFailure: true,
      fromHeaders: true,
    }),
  },
  { name: '--no-chunking', argv: ['--no-chunking', '--fcc'], expected: args({ noChunking: true, fcc: true }) },
  { name: '--server=x --port 587', argv: ['--server=x', '--port', '587'], expected: args({ server: 'x', port: 587 }) },
  { name: 'port as a service name', argv: ['--port=submission'], expected: args({ port: 'submission' }) },
  { name: 'port bounds', argv: ['--port', '1', '--port', '65535'], expected: args({ port: 65535 }) },
  { name: 'a value may contain =', argv: ['--user=a=b'], expected: args({ user: 'a=b' }) },
  { name: 'an = value may start with -', argv: ['--user=-x'], expected: args({ user: '-x' }) },
  {
    name: 'repeated value option: the last wins',
    argv: ['--server', 'a', '--server', 'b'],
    expected: args({ server: 'b' }),
  },
  {
    name: 'every stream type',
    argv: ['--stream-type', 'plain', '--stream-type=starttls', '--stream-type', 'ssl', '--stream-type', 'tls'],
    expected: args({ streamType: 'tls' }),
  },
  {
    name: 'auth mechanisms upper-cased and trimmed, in order',
    argv: ['--auth-mechanisms', 'cram-md5, Plain ,xoauth2'],
    expected: args({ authMechanisms: ['CRAM-MD5', 'PLAIN', 'XOAUTH2'] }),
  },
  {
    name: 'authinfo repeatable, in order',
    argv: ['--authinfo', 'a', '--authinfo=b'],
    expected: args({ authinfo: ['a', 'b'] }),
  },
  {
    name: 'every string option',
    argv: [
      '--user',
      'bob',
      '--local-domain',
      'l.example',
      '--sendto-domain=s.example',
      '--ca',
      '/ca.pem',
      '--queue-dir',
      '/q',
      '--config',
      '/c.json',
      '--account=work',
    ],
    expected: args({
      user: 'bob',
      localDomain: 'l.example',
      sendtoDomain: 's.example',
      ca: '/ca.pem',
      queueDir: '/q',
      config: '/c.json',
      account: 'work',
    }),
  },
  {
    name: 'flags',
    argv: ['--debug', '--dry-run', '--json', '--check-all'],
    expected: args({ debug: true, dryRun: true, json: true, checkAll: true }),
  },
  {
    name: 'options and recipients mixed',
    argv: ['a@x', '--debug', 'b@x', '-i'],
    expected: args({ recipients: ['a@x', 'b@x'], debug: true, ignoreDots: true }),
  },
  {
    name: 'comma-separated recipients, empties dropped',
    argv: ['a@x, b@y', ',c@z,, ', ' '],
    expected: args({ recipients: ['a@x', 'b@y', 'c@z'] }),
  },
  {
    name: 'recipients are address lists: a quoted comma splits nothing, names and comments go',
    argv: ['"Doe, J" <j@example.org>', 'Root <root@example.org> (admin), k@example.org', 'undisclosed-recipients:;'],
    expected: args({ recipients: ['j@example.org', 'root@example.org', 'k@example.org'] }),
  },
  {
    name: 'recipients after -- may be lists',
    argv: ['--', 'a@x,b@y', 'c@z'],
    expected: args({ recipients: ['a@x', 'b@y', 'c@z'] }),
  },
  {
    name: '--queue with recipients',
    argv: ['--queue', '-t', 'a@x'],
    expected: args({ action: 'queue', fromHeaders: true, recipients: ['a@x'] }),
  },
  { name: 'the same action twice', argv: ['--queue', '--queue'], expected: args({ action: 'queue' }) },
  {
    name: '--flush-queue',
    argv: ['--flush-queue', '--queue-dir', '/q'],
    expected: args({ action: 'flush', queueDir: '/q' }),
  },
  {
    name: '--check with --check-recipient',
    argv: ['--check', '--check-recipient', 'a@x', '--json'],
    expected: args({ action: 'check', checkRecipient: 'a@x', json: true }),
  },
  {
    name: '--help ignores recipients',
    argv: ['--help', 'a@x', '-t'],
    expected: args({ action: 'help', recipients: ['a@x'], fromHeaders: true }),
  },
  { name: '--version', argv: ['--version'], expected: args({ action: 'version' }) },
  {
    name: 'exactly the argument limit',
    argv: Array.from({ length: MAX_ARGUMENTS }, () => '-i'),
    expected: args({ ignoreDots: true }),
  },
];

for (const row of goodRows) {
  test(`parseCliArgs: ${row.name}`, () => {
    assert.deepEqual(parseCliArgs(row.argv), row.expected);
  });
}

test('parseCliArgs: optional properties not given are absent, not undefined', () => {
  assert.deepEqual(Object.keys(parseCliArgs(['-t'])).sort(), [
    'action',
    'authinfo',
    'checkAll',
    'debug',
    'dryRun',
    'fcc',
    'fromHeaders',
    'ignoreDots',
    'ignored',
    'json',
    'noChunking',
    'queueOnFailure',
    'recipients',
    'requireTls',
  ]);
});

function isUsageError(substring: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof CliUsageError, 'expected a CliUsageError');
    assert.equal(error.exitCode, 64);
    assert.equal(error.name, 'CliUsageError');
    assert.ok(error.message.includes(substring), `${JSON.stringify(error.message)} lacks ${JSON.stringify(substring)}`);
    return true;
  };
}

const errorRows: { name: string; argv: string[]; message: string }[] = [
  { name: 'unknown long option', argv: ['--sever', 'x'], message: 'unknown option --sever' },
  { name: 'unknown long option with a value', argv: ['--sever=x'], message: 'unknown option --sever' },
  { name: 'unknown short option', argv: ['-x'], message: 'unknown option -x' },
  { name: 'a lone -', argv: ['-'], message: 'unknown option -' },
  {
    name: 'sendmail -bs (SMTP on stdin) is refused, saying why',
    argv: ['-bs'],
    message: 'option -bs: SMTP on standard input is not supported',
  },
  { name: '-bv is refused', argv: ['-bv'], message: 'option -bv: address verification is not supported' },
  {
    name: '-q with an interval is refused',
    argv: ['-q15m'],
    message: 'option -q15m is not supported: smtpmail runs no queue daemon',
  },
  { name: '-C is refused, naming --config', argv: ['-C', '/etc/postfix'], message: 'use --config FILE' },
  { name: 'a bad -B value', argv: ['-B', '9BIT'], message: 'option -B needs one of 7BIT, 8BITMIME, not 9BIT' },
  {
    name: 'a bad -N value',
    argv: ['-N', 'never,success'],
    message: 'option -N needs "never" or a list of success, failure, delay',
  },
  { name: '-V needs an envid', argv: ['-V'], message: 'option -V needs a value' },
  { name: 'a bad -R value', argv: ['-R', 'body'], message: 'option -R needs one of HDRS, FULL, not body' },
  {
    name: '-V longer than RFC 3461 allows once xtext-encoded',
    argv: ['-V', '+'.repeat(34)],
    message: 'option -V: the envelope id is 102 characters once xtext-encoded; RFC 3461 §4.4 allows 100',
  },
  {
    name: '-V with a non-ASCII character',
    argv: ['-V', 'café'],
    message: 'option -V: the envelope id must be printable US-ASCII',
  },
  { name: '--require-tls takes no value', argv: ['--require-tls=yes'], message: 'option --require-tls takes no value' },
  { name: '-h needs a hop count (help is --help)', argv: ['-h'], message: 'option -h needs a value' },
  { name: 'a recipient that is no address', argv: ['foo bar'], message: 'recipient "foo bar" is not an address' },
  { name: 'list with recipients', argv: ['-bp', 'a@x'], message: 'option -bp takes no recipients' },
  { name: 'combined flags with another letter', argv: ['-tv'], message: 'unknown option -tv' },
  { name: '-o without a letter', argv: ['-o'], message: 'option -o needs an option letter' },
  {
    name: 'an unknown option is shown escaped',
    argv: ['--a\x1b[2Jb'],
    message: 'unknown option "--a\\u001b[2Jb"',
  },
  { name: 'missing value at the end', argv: ['--server'], message: 'option --server needs a value' },
  {
    name: 'missing value before another option',
    argv: ['--server', '--debug'],
    message: 'option --server needs a value',
  },
  { name: 'empty = value', argv: ['--port='], message: 'option --port needs a value' },
  { name: '-f at the end', argv: ['-t', '-f'], message: 'option -f needs a value' },
  { name: '-F before an option', argv: ['-F', '-t'], message: 'option -F needs a value' },
  {
    name: 'an option after --',
    argv: ['--', '-oProxyCommand=x'],
    message: `recipient "-oProxyCommand=x" starts with '-'`,
  },
  { name: 'recipient starting with -', argv: ['--', '-x@y'], message: `recipient "-x@y" starts with '-'` },
  { name: 'a dash inside a recipient list', argv: ['a@x, -oX'], message: `recipient "-oX" starts with '-'` },
  {
    name: 'CR in a value',
    argv: ['--server', 'x\r\nRCPT TO:<y>'],
    message: 'the value of --server contains CR, LF or NUL',
  },
  { name: 'LF in an attached -f', argv: ['-fa@x\n'], message: 'the value of -f contains CR, LF or NUL' },
  { name: 'CR LF in -V', argv: ['-V', 'id\r\nRSET'], message: 'the value of -V contains CR, LF or NUL' },
  { name: 'NUL in an ignored option', argv: ['-oQ/tmp\0'], message: 'the value of -o contains CR, LF or NUL' },
  { name: 'LF in a recipient', argv: ['a@x\nb@y'], message: 'recipient "a@x\\nb@y" contains CR, LF or NUL' },
  { name: 'CR at the end of a recipient (not trimmed away)', argv: ['--', 'a@x\r'], message: 'contains CR, LF or NUL' },
  {
    name: 'bad stream type',
    argv: ['--stream-type', 'TLS'],
    message: 'option --stream-type needs one of plain, starttls, ssl, tls, not "TLS"',
  },
  { name: 'port 70000', argv: ['--port', '70000'], message: 'option --port needs a number from 1 to 65535' },
  { name: 'port 0', argv: ['--port=0'], message: 'option --port needs a number from 1 to 65535' },
  {
    name: 'port not a service name',
    argv: ['--port', 'Sub mission'],
    message: 'or a service name (smtp, submission, smtps, submissions), not "Sub mission"',
  },
  {
    name: 'bad mechanism name',
    argv: ['--auth-mechanisms', 'PLAIN;LOGIN'],
    message: 'bad mechanism name "PLAIN;LOGIN"',
  },
  {
    name: 'empty mechanism in the list',
    argv: ['--auth-mechanisms', 'PLAIN,,LOGIN'],
    message: 'bad mechanism name ""',
  },
  {
    name: 'two actions',
    argv: ['--queue', '--flush-queue'],
    message: 'options --queue and --flush-queue cannot be combined',
  },
  {
    name: 'help and version',
    argv: ['--help', '--version'],
    message: 'options --help and --version cannot be combined',
  },
  {
    name: 'flush with recipients',
    argv: ['--flush-queue', 'a@x'],
    message: 'option --flush-queue takes no recipients',
  },
  { name: 'check with recipients', argv: ['a@x', '--check'], message: 'option --check takes no recipients' },
  { name: 'flush with -t', argv: ['--flush-queue', '-t'], message: 'option --flush-queue cannot be combined with -t' },
  {
    name: '--check-recipient without --check',
    argv: ['--check-recipient', 'a@x'],
    message: 'option --check-recipient needs --check',
  },
  { name: 'a flag with a value', argv: ['--debug=yes'], message: 'option --debug takes no value' },
  { name: 'an action with a value', argv: ['--help='], message: 'option --help takes no value' },
  {
    name: 'one argument over the limit',
    argv: Array.from({ length: MAX_ARGUMENTS + 1 }, () => '-i'),
    message: `too many arguments (${MAX_ARGUMENTS + 1}; at most ${MAX_ARGUMENTS})`,
  },
];

for (const row of errorRows) {
  test(`parseCliArgs error: ${row.name}`, () => {
    assert.throws(() => parseCliArgs(row.argv), isUsageError(row.message));
  });
}

test('parseCliArgs: a long unknown option is cut in the message', () => {
  assert.throws(
    () => parseCliArgs([`--${'x'.repeat(1000)}`]),
    (error: unknown) => {
      assert.ok(error instanceof CliUsageError);
      assert.ok(error.message.length < 100, error.message);
      return true;
    },
  );
});

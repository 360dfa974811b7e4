/**
 * README's table of sendmail flags is the table the parser implements
 * (cli-sendmail-flags.ts), row for row, and every flag a row names parses
 * as its treatment says: implemented or ignored ones are accepted, refused
 * ones are a usage error that says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CliUsageError, parseCliArgs } from '../src/cli/args.js';
import { SENDMAIL_FLAGS } from '../src/cli/sendmail-flags.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('README lists every row of the sendmail flag table, with its treatment', () => {
  for (const row of SENDMAIL_FLAGS) {
    assert.ok(
      README.includes(`| \`${row.flags}\` | ${row.treatment} | ${row.note} |`),
      `README lacks the row for ${row.flags}`,
    );
  }
});

/** An example of each flag a row names, with a value where it takes one. */
const EXAMPLES: Readonly<Record<string, string[]>> = {
  '-t': ['-t'],
  '-i': ['-i', '-t'],
  '-oi': ['-oi', '-t'],
  '-oitrue': ['-oitrue', '-t'],
  '-f ADDR': ['-f', 'a@x.org', '-t'],
  '-r ADDR': ['-r', 'a@x.org', '-t'],
  '-F NAME': ['-F', 'N', '-t'],
  '-bm': ['-bm', '-t'],
  '-bp': ['-bp'],
  '-q': ['-q'],
  '-bV': ['-bV'],
  '-a ACCOUNT': ['-a', 'work', '-t'],
  '-N DSN': ['-N', 'never', '-t'],
  '-R RET': ['-R', 'full', '-t'],
  '-V ENVID': ['-V', 'x', '-t'],
  '-B TYPE': ['-B', '8BITMIME', '-t'],
  '-oXXX (-oem': ['-oem', '-t'],
  '-odb': ['-odb', '-t'],
  '-odi': ['-odi', '-t'],
  '-om': ['-om', '-t'],
  '-oQ...)': ['-oQ/var', '-t'],
  '-v': ['-v', '-t'],
  '-h N': ['-h', '3', '-t'],
  '-L LABEL': ['-L', 'l', '-t'],
  '-p PROTO': ['-p', 'p', '-t'],
  '-O OPT=VALUE': ['-O', 'A=B', '-t'],
  '-X FILE': ['-X', 'f', '-t'],
  '-A c or m': ['-A', 'c', '-t'],
  '-n': ['-n', '-t'],
  '-m': ['-m', '-t'],
  '-G': ['-G', '-t'],
  '-U': ['-U', '-t'],
  '-bs': ['-bs'],
  '-bd': ['-bd'],
  '-bD': ['-bD'],
  '-bh': ['-bh'],
  '-bH': ['-bH'],
  '-bi': ['-bi'],
  '-bl': ['-bl'],
  '-bP': ['-bP'],
  '-bt': ['-bt'],
  '-bv': ['-bv'],
  '-I': ['-I'],
  '-qINTERVAL': ['-q30m'],
  '-qR...': ['-qRexample.org'],
  '-qS...': ['-qSx'],
  '-qI...': ['-qIabc'],
  '-qf': ['-qf'],
  '-C FILE': ['-C', 'f'],
  '-d...': ['-d0.1'],
  '-M...': ['-Mrm'],
};

test('each flag of the table parses as its row says', () => {
  for (const row of SENDMAIL_FLAGS) {
    for (const flag of row.flags.split(', ')) {
      const argv = EXAMPLES[flag];
      assert.ok(argv !== undefined, `no example for ${flag}`);
      if (row.treatment === 'refused') {
        assert.throws(
          () => parseCliArgs(argv),
          (error: unknown) => error instanceof CliUsageError && !/unknown option/.test(error.message),
          flag,
        );
      } else {
        const parsed = parseCliArgs(argv);
        if (row.treatment === 'ignored') assert.equal(parsed.ignored.length, 1, flag);
      }
    }
  }
});

test('README pipes messages into smtpmail with -i (or -oi) only, and says what a lone dot does without it', () => {
  const commands = README.split('\n').filter((line) =>
    /(\|\s*smtpmail\s+-|^\s*(\S+=\S+\s+)?smtpmail\b.*<\s*\S)/.test(line),
  );
  assert.ok(commands.length >= 5, `README examples found: ${commands.length}`);
  for (const line of commands) assert.match(line, /\s-(i|oi|ti|it)\b/, line);
  assert.match(README, /Without `-i` \(or `-oi`\) a line holding a lone `\.` ends the message/);
});

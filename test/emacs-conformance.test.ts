/**
 * What Emacs's smtpmail does on purpose, done here too (issue #16 items 2-7):
 * CR-ended messages, non-ASCII header text as RFC 2047 encoded words, MIME
 * fields for an 8-bit body, Fcc (never transmitted; appended to an mbox only
 * when asked), no blank Subject, and ONEX / VERB / XUSR in Emacs's order.
 * Where Emacs is installed, Emacs's own RFC 2047 decoder reads back what this
 * library encoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sendMail, SmtpClient } from '../src/index.js';
import { encodeField } from '../src/message/header-encoding.js';
import { makeField } from '../src/message/header-block.js';
import { assertTranscript, converse, DELIVERY } from './helpers/converse.js';
import { script, startFakeServer } from './helpers/fake-server.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';
import { runCli, withHome } from './helpers/run-cli.js';

/** A small RFC 2047 decoder for the tests (utf-8 only): encoded words, and the space between adjacent ones dropped. */
function decode(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_whole, kind: string, text: string) =>
      kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(
            text
              .replace(/_/g, ' ')
              .replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          ).toString('utf8'),
    );
}

/** The header block received, unfolded, as name → value. */
function headersOf(data: Buffer): Map<string, string> {
  const block = data.toString('latin1').split('\r\n\r\n')[0] ?? '';
  const map = new Map<string, string>();
  for (const line of block.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    map.set(line.slice(0, colon), line.slice(colon + 2));
  }
  return map;
}

const withServer = (run: (server: RealServer) => Promise<void>): Promise<void> =>
  withRealServer({ disabledCommands: ['STARTTLS', 'AUTH'] }, run);
const send = (server: RealServer, message: string | Buffer, extra = {}): ReturnType<typeof sendMail> =>
  sendMail(message, { server: '127.0.0.1', port: server.port, authSources: [], retries: 1, ...extra });

test('non-ASCII header text goes out as RFC 2047 encoded words: unstructured fields by runs of words, address fields by display name and comment', async () => {
  await withServer(async (server) => {
    const message = [
      'From: Jürgen Müller <juergen@example.org>',
      'To: "Doe, Jürgen" <j@example.org>, Plain Name <p@example.org>, Zoë (comment ñ) <z@example.org>',
      'Cc: Grüppe: a@example.org;',
      'Subject: Grüße aus Köln',
      'X-Custom: naïve café',
      'Keywords: =?utf-8?Q?already?= encoded',
      '',
      'ASCII body',
      '',
    ].join('\n');
    const result = await send(server, message);
    assert.deepEqual(result.envelope.to, ['j@example.org', 'p@example.org', 'z@example.org', 'a@example.org']);
    const [received] = server.received;
    assert.equal(received?.body, undefined, 'no BODY=8BITMIME: everything is 7-bit now');
    const data = received?.data ?? Buffer.alloc(0);
    assert.ok(!data.some((byte) => byte >= 0x80), 'no raw 8-bit byte left');
    const headers = headersOf(data);
    assert.match(headers.get('Subject') ?? '', /^=\?utf-8\?[BQ]\?.+\?= aus =\?utf-8\?[BQ]\?.+\?=$/);
    assert.equal(decode(headers.get('Subject') ?? ''), 'Grüße aus Köln');
    assert.equal(decode(headers.get('X-Custom') ?? ''), 'naïve café');
    assert.equal(headers.get('Keywords'), '=?utf-8?Q?already?= encoded');
    assert.match(headers.get('From') ?? '', /^=\?utf-8\?[BQ]\?.+\?= <juergen@example\.org>$/);
    assert.equal(decode(headers.get('From') ?? ''), 'Jürgen Müller <juergen@example.org>');
    assert.equal(
      decode(headers.get('To') ?? ''),
      'Doe, Jürgen <j@example.org>, Plain Name <p@example.org>, Zoë (comment ñ) <z@example.org>',
    );
    assert.doesNotMatch(headers.get('To') ?? '', /"/, 'a quoted display name is unquoted and encoded whole');
    assert.equal(decode(headers.get('Cc') ?? ''), 'Grüppe: a@example.org;');
  });
});

test('encoded words stay within 75 characters, lines within 76 where spaces allow, and never cut a character', () => {
  const subject = `Hello wörld, ${'Ä'.repeat(60)} and ${'日本語のメール'.repeat(4)} end`;
  const field = encodeField(makeField('Subject', subject));
  const text = field.raw.toString('latin1');
  for (const line of text.split('\r\n').filter((l) => l !== ''))
    assert.ok(line.length <= 76, `${line.length}: ${line}`);
  for (const word of text.match(/=\?[^?]+\?[BQ]\?[^?]*\?=/g) ?? []) assert.ok(word.length <= 75, word);
  assert.equal(decode(field.value), subject);
});

test('a message that needs SMTPUTF8 anyway, to a server that offers it: UTF-8 headers are sent as they are', async () => {
  await withServer(async (server) => {
    await send(server, 'From: Jörg <jörg@bücher.example>\nTo: b@example.net\nSubject: Grüße\n\nhi\n');
    const text = server.received[0]?.data.toString('utf8') ?? '';
    assert.match(text, /^From: Jörg <jörg@bücher\.example>\r\n/);
    assert.match(text, /\r\nSubject: Grüße\r\n/);
  });
});

test('an 8-bit UTF-8 body without MIME fields gets MIME-Version, Content-Type and Content-Transfer-Encoding; an ASCII body or one with a Content-Type does not', async () => {
  await withServer(async (server) => {
    await send(server, 'From: a@example.org\nTo: b@example.net\nSubject: s\n\nGrüße\n', { addMissingHeaders: true });
    await send(server, 'From: a@example.org\nTo: b@example.net\nSubject: s\n\nplain\n');
    await send(
      server,
      'From: a@example.org\nTo: b@example.net\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\nGrüße\n--x--\n',
    );
    const [eightBit, ascii, multipart] = server.received.map((r) => headersOf(r.data));
    assert.equal(eightBit?.get('MIME-Version'), '1.0');
    assert.equal(eightBit?.get('Content-Type'), 'text/plain; charset=utf-8');
    assert.equal(eightBit?.get('Content-Transfer-Encoding'), '8bit');
    assert.equal(server.received[0]?.body, '8BITMIME');
    assert.equal(ascii?.has('MIME-Version'), false);
    assert.equal(multipart?.has('MIME-Version'), false);
    assert.equal([...(server.received[2]?.data.toString('utf8').matchAll(/^Content-Type:/gim) ?? [])].length, 1);
  });
});

test('a blank Subject is not sent', async () => {
  await withServer(async (server) => {
    await send(server, 'From: a@example.org\nTo: b@example.net\nSubject:   \n\nhi\n');
    assert.doesNotMatch(server.received[0]?.data.toString('utf8') ?? '', /^Subject:/im);
  });
});

test('Fcc is never transmitted; with honorFcc the message is appended to the named mbox (From line, >From quoting)', async () => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-fcc-'));
  try {
    await withServer(async (server) => {
      const mbox = path.join(directory, 'sent.mbox');
      const message =
        `From: a@example.org\nTo: b@example.net\nBcc: secret@example.net\nFcc: ${mbox}\nSubject: ` +
        `copy\n\nFrom here on\n>From there\n`;
      await send(server, message, { addMissingHeaders: false });
      assert.doesNotMatch(server.received[0]?.data.toString('utf8') ?? '', /^Fcc:/im);
      await assert.rejects(fs.access(mbox), { code: 'ENOENT' }, 'without honorFcc no file is written');
      await send(server, message, { addMissingHeaders: false, honorFcc: true });
      await send(server, message.replace('Subject: copy', 'Subject: second'), {
        addMissingHeaders: false,
        honorFcc: true,
      });
      const text = await fs.readFile(mbox, 'utf8');
      const entries = text.split(/\n(?=From a@example\.org )/);
      assert.equal(entries.length, 2);
      assert.match(
        entries[0] ?? '',
        /^From a@example\.org \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\nFrom: a@example\.org\nTo: b@example\.net\nBcc: secret@example\.net\nSubject: copy\n\n>From here on\n>From there\n$/,
      );
      assert.doesNotMatch(text, /^Fcc:/m);
      assert.equal((await fs.stat(mbox)).mode & 0o777, 0o600);
      assert.doesNotMatch(server.received[1]?.data.toString('utf8') ?? '', /^Bcc:/im);
    });
  } finally {
    await fs.rm(directory, { recursive: true, force: true });
  }
});

test('smtpmail honours Fcc only with --fcc', async () => {
  await withServer(async (server) => {
    await withHome(async (home, env) => {
      const mbox = path.join(home, 'sent');
      const message = `From: a@example.org\nTo: b@example.net\nFcc: ${mbox}\n\nhi\n`;
      const plain = ['--server', '127.0.0.1', '--port', String(server.port), '--stream-type', 'plain', '-t', '-i'];
      assert.equal((await runCli(plain, message, env)).code, 0);
      await assert.rejects(fs.access(mbox), { code: 'ENOENT' });
      assert.equal((await runCli([...plain, '--fcc'], message, env)).code, 0);
      assert.match(await fs.readFile(mbox, 'utf8'), /^From a@example\.org .*\nFrom: a@example\.org\n/);
    });
  });
});

const EXTENSIONS = `
S: 220 mail.example.org ESMTP
C: EHLO client.example
S: 250-mail.example.org
S: 250-XONE
S: 250-XVRB
S: 250 XUSR
`;

test("ONEX (for XONE), VERB (for XVRB, when asked) and XUSR before MAIL, in Emacs's order, on a one-message connection", async () => {
  const steps = script`
    ${EXTENSIONS}
    C: ONEX
    S: 250 one
    C: VERB
    S: 250 verbose
    C: XUSR
    S: 250 user
    ${DELIVERY}
  `;
  const c = await converse(steps, { verb: true });
  assert.equal(c.error, undefined);
  assertTranscript(c, steps);
});

test('a connection that may carry several messages (SmtpClient) sends no ONEX; XUSR still', async () => {
  const steps = script`
    ${EXTENSIONS}
    C: XUSR
    S: 250 user
    C: QUIT
    S: 221 bye
  `;
  const server = await startFakeServer(steps);
  const client = await SmtpClient.connect({
    server: server.host,
    port: server.port,
    clientName: 'client.example',
    authSources: [],
  });
  await client.quit();
  assert.equal((await server.done).received, 'EHLO client.example\r\nXUSR\r\nQUIT\r\n');
});

test('a CR-ended message with explicit recipients: Date and Message-ID go into the header, not after the body', async () => {
  await withServer(async (server) => {
    await send(server, 'From: a@example.org\rSubject: mac\r\rline\r', { recipients: ['b@example.net'] });
    assert.match(
      server.received[0]?.data.toString('utf8') ?? '',
      /^From: a@example\.org\r\nSubject: mac\r\nDate: [^\r]+\r\nMessage-ID: <[^>]+>\r\n\r\nline\r\n$/,
    );
  });
});

function emacsAvailable(): boolean {
  try {
    execFileSync('emacs', ['--version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

test(
  "Emacs's own RFC 2047 decoder reads back every encoded field as its text",
  { skip: emacsAvailable() ? false : 'emacs is not installed: skipped (apt-get install emacs-nox)' },
  () => {
    const samples = [
      'Grüße aus Köln',
      'naïve café',
      `${'Ä'.repeat(70)} x`,
      '日本語のメール mixed with ASCII words and ñ',
      'a=b?c_d ü (paren) "quote"',
    ];
    const encoded = samples.map((text) => encodeField(makeField('Subject', text)).value);
    // Code points, so that no terminal or locale coding stands between Emacs's strings and these.
    const lisp =
      `(progn (require 'rfc2047) (dolist (s '(${encoded.map((e) => JSON.stringify(e)).join(' ')})) ` +
      `(princ (mapconcat #'number-to-string (string-to-list (rfc2047-decode-string s)) ",")) (princ "\\n")))`;
    const out = execFileSync('emacs', ['--batch', '-Q', '--eval', lisp], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', HOME: os.tmpdir() },
    });
    const decoded = out
      .split('\n')
      .slice(0, samples.length)
      .map((line) => String.fromCodePoint(...line.split(',').map(Number)));
    assert.deepEqual(decoded, samples);
  },
);

/**
 * README "Composing a message" kept honest: the recipe (demo/compose.ts,
 * nodemailer's MailComposer) is sent with sendMail to npm smtp-server in
 * process, and what the server received is checked: the envelope (the Bcc
 * recipient included), no Bcc among the delivered headers, the attachment and
 * the non-ASCII header text decoded back (RFC 2047 and MIME decoded here, by
 * hand, not by the composer). Then the traps: MailComposer leaves Bcc out
 * unless told to keep it, it encodes headers its own way (a raw UTF-8 header
 * gets smtpmail's Emacs-style encoding instead), and a part sent as `binary`
 * does not survive a line protocol.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { sendMail, type SendOptions } from '../src/index.js';
import { composeReport, sendReport } from '../demo/compose.js';
import { SHORT_TIMEOUTS } from './helpers/converse.js';
import { fixture } from './helpers/fake-server.js';
import { withRealServer, type RealServer } from './helpers/real-server.js';

const SUBJECT = 'Grüße aus Köln: der Bericht';
const TO = ['zoe@example.net', 'bob@example.net', 'archive@example.org'];

function options(server: RealServer): SendOptions {
  return {
    server: 'localhost',
    port: server.port,
    tls: { ca: fixture('ca.pem') },
    timeouts: SHORT_TIMEOUTS,
    authSources: [],
  };
}

/** The header fields of a message or part, unfolded, in order: [name, value]. */
function headerFields(block: string): [string, string][] {
  const unfolded = block.replace(/\r?\n(?=[ \t])/g, '');
  return unfolded.split(/\r?\n/).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
}

function field(block: string, name: string): string {
  const found = headerFields(block).filter(([key]) => key.toLowerCase() === name.toLowerCase());
  assert.equal(found.length, 1, `one ${name} field`);
  return (found[0] as [string, string])[1];
}

/** Quoted-printable (RFC 2045) bytes; with `underscore`, RFC 2047's Q (`_` is a space). */
function qpDecode(text: string, underscore = false): Buffer {
  const bytes: number[] = [];
  const soft = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i] as string;
    if (c === '=' && /^[0-9A-F]{2}$/i.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (underscore && c === '_') bytes.push(0x20);
    else bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (UTF-8, B or Q) decoded; blanks between two adjacent words dropped (§6.2). */
function decode2047(value: string): string {
  return value
    .replace(/(\?=)[ \t]+(?==\?)/g, '$1')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_word, kind: string, text: string) =>
      (kind.toLowerCase() === 'b' ? Buffer.from(text, 'base64') : qpDecode(text, true)).toString('utf8'),
    );
}

interface Part {
  readonly head: string;
  readonly body: string;
}

/** The leaves of a MIME message, multiparts opened (the boundary from each Content-Type). */
function leaves(entity: string): Part[] {
  const end = entity.indexOf('\r\n\r\n');
  const head = entity.slice(0, end);
  const body = entity.slice(end + 4);
  const type = headerFields(head).find(([key]) => key.toLowerCase() === 'content-type')?.[1] ?? 'text/plain';
  const boundary = /^multipart\/.*;\s*boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (boundary === undefined) return [{ head, body }];
  const pieces = body.split(`--${boundary}`);
  // pieces[0] is the preamble, the last one the part after the closing `--boundary--`
  return pieces.slice(1, -1).flatMap((piece) => leaves(piece.replace(/^\r\n/, '').replace(/\r\n$/, '')));
}

/** The message as smtpmail puts it on the wire: every bare LF (the caller's own text, kept by MailComposer) as CRLF. */
function crlf(data: Buffer): string {
  return data.toString('latin1').replace(/(?<!\r)\n/g, '\r\n');
}

function headOf(data: Buffer): string {
  const text = data.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n'));
}

test('the README recipe: text + HTML, a binary attachment, non-ASCII names and Subject, To/Cc/Bcc', async () => {
  const report = randomBytes(5000);
  await withRealServer({}, async (server) => {
    const result = await sendReport(report, options(server));
    assert.deepEqual(result.envelope, { from: 'juergen@example.org', to: TO });
    assert.equal(server.received.length, 1);
    const got = server.received[0]!;
    assert.equal(got.secure, true);
    assert.equal(got.from, 'juergen@example.org');
    assert.deepEqual(got.to, TO, 'the Bcc recipient is in the envelope');
    const text = got.data.toString('latin1');
    const head = headOf(got.data);
    assert.doesNotMatch(head, /^bcc:/im);
    assert.ok(!text.includes('archive@example.org'), 'the Bcc address appears nowhere in the delivered message');
    assert.equal(decode2047(field(head, 'Subject')), SUBJECT);
    assert.equal(decode2047(field(head, 'From')), 'Jürgen Müller <juergen@example.org>');
    assert.equal(decode2047(field(head, 'To')), 'Zoë Ångström <zoe@example.net>');
    assert.equal(field(head, 'Cc'), 'Bob <bob@example.net>');
    // The composer wrote Message-ID and Date; smtpmail's addMissingHeaders found them and added none.
    assert.match(field(head, 'Message-ID'), /^<[^<>@\s]+@example\.org>$/);
    assert.match(field(head, 'Date'), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    // Quoted-printable and base64 only: a 7-bit message, so MAIL FROM declares no BODY=8BITMIME.
    assert.ok(!/[\x80-\xff]/.test(text), '7-bit');
    assert.equal(got.body, undefined);

    const parts = leaves(text);
    assert.deepEqual(
      parts.map((part) => field(part.head, 'Content-Type')),
      ['text/plain; charset=utf-8', 'text/html; charset=utf-8', 'application/octet-stream; name=bericht.bin'],
    );
    const [plain, html, attachment] = parts as [Part, Part, Part];
    assert.equal(field(plain.head, 'Content-Transfer-Encoding'), 'quoted-printable');
    assert.equal(qpDecode(plain.body).toString('utf8'), 'Hallo Zoë,\r\nanbei der Bericht.\r\n');
    assert.equal(qpDecode(html.body).toString('utf8'), '<p>Hallo Zoë,</p><p>anbei der Bericht.</p>');
    assert.equal(field(attachment.head, 'Content-Disposition'), 'attachment; filename=bericht.bin');
    assert.equal(field(attachment.head, 'Content-Transfer-Encoding'), 'base64');
    assert.ok(Buffer.from(attachment.body, 'base64').equals(report), 'the attachment decodes to the original bytes');
  });
});

test('MailComposer leaves Bcc out unless keepBcc: its recipient is lost; keepBcc or an explicit envelope keeps it', async () => {
  await withRealServer({}, async (server) => {
    // The trap: the composer's default drops the Bcc: line, so smtpmail never learns of that recipient.
    const dropped = composeReport(randomBytes(100));
    dropped.keepBcc = false;
    const droppedBytes = await dropped.build();
    assert.doesNotMatch(headOf(droppedBytes), /^bcc:/im);
    const lost = await sendMail(droppedBytes, options(server));
    assert.deepEqual(lost.envelope.to, ['zoe@example.net', 'bob@example.net']);
    assert.deepEqual(server.received[0]!.to, ['zoe@example.net', 'bob@example.net']);
    assert.equal(server.received[0]!.data.toString('latin1'), crlf(droppedBytes), 'delivered as composed (CRLF)');

    // Fix 1: the composer's own envelope (it still knows the Bcc) as the recipients.
    assert.deepEqual(dropped.getEnvelope(), { from: 'juergen@example.org', to: TO });
    const explicit = await sendMail(droppedBytes, { ...options(server), recipients: dropped.getEnvelope().to });
    assert.deepEqual(explicit.envelope.to, TO);
    assert.deepEqual(server.received[1]!.to, TO);
    assert.equal(server.received[1]!.data.toString('latin1'), crlf(droppedBytes));

    // Fix 2 (the recipe): keepBcc writes the Bcc: line; smtpmail takes its recipient and removes the line.
    const kept = composeReport(randomBytes(100));
    const keptBytes = await kept.build();
    const bccLine = 'Bcc: archive@example.org\r\n';
    assert.ok(keptBytes.includes(bccLine));
    const delivered = await sendMail(keptBytes, options(server));
    assert.deepEqual(delivered.envelope.to, TO);
    assert.deepEqual(server.received[2]!.to, TO);
    assert.equal(server.received[2]!.data.toString('latin1'), crlf(keptBytes).replace(bccLine, ''));
  });
});

test('non-ASCII header text: MailComposer encodes it its own way; raw UTF-8 gets smtpmail’s Emacs-style words', async () => {
  await withRealServer({}, async (server) => {
    const composed = new MailComposer({
      from: { name: 'Jürgen Müller', address: 'juergen@example.org' },
      to: 'zoe@example.net',
      subject: SUBJECT,
      text: 'Hallo Zoë\n',
    }).compile();
    await sendMail(await composed.build(), options(server));
    const raw = `From: Jürgen Müller <juergen@example.org>\nTo: zoe@example.net\nSubject: ${SUBJECT}\n\nHallo Zoë\n`;
    await sendMail(raw, options(server));
    const [fromComposer, fromRaw] = server.received.map((got) => headOf(got.data)) as [string, string];

    // MailComposer: the whole field in Q words (UTF-8 in capitals), split where it folds, even inside a word;
    // smtpmail leaves encoded words as they are.
    assert.equal(
      field(fromComposer, 'Subject'),
      '=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln=3A_der_Ber?= =?UTF-8?Q?icht?=',
    );
    assert.equal(field(fromComposer, 'From'), '=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>');
    // Raw UTF-8: smtpmail encodes as Emacs's mail-encode-header, only the non-ASCII words.
    assert.equal(field(fromRaw, 'Subject'), '=?utf-8?Q?Gr=C3=BC=C3=9Fe?= aus =?utf-8?Q?K=C3=B6ln:?= der Bericht');
    assert.equal(field(fromRaw, 'From'), '=?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>');
    for (const head of [fromComposer, fromRaw]) {
      assert.equal(decode2047(field(head, 'Subject')), SUBJECT);
      assert.equal(decode2047(field(head, 'From')), 'Jürgen Müller <juergen@example.org>');
    }
    // The 8-bit body: MailComposer sends it quoted-printable (7-bit); the raw one goes 8-bit,
    // with the MIME fields smtpmail adds and BODY=8BITMIME.
    assert.equal(server.received[0]!.body, undefined);
    assert.equal(field(fromComposer, 'Content-Transfer-Encoding'), 'quoted-printable');
    assert.equal(server.received[1]!.body, '8BITMIME');
    assert.equal(field(fromRaw, 'Content-Transfer-Encoding'), '8bit');
  });
});

test('a part forced to Content-Transfer-Encoding: binary is changed on the way (line ends become CRLF)', async () => {
  const bytes = Buffer.from([1, 0x0a, 2, 0x0d, 3, 0x0d, 0x0a]);
  await withRealServer({}, async (server) => {
    const message = new MailComposer({
      from: 'juergen@example.org',
      to: 'zoe@example.net',
      subject: 'binary',
      attachments: [{ filename: 'raw.bin', content: bytes, contentTransferEncoding: 'binary' }],
    }).compile();
    await sendMail(await message.build(), options(server));
    const [attachment] = leaves(server.received[0]!.data.toString('latin1')) as [Part];
    assert.equal(field(attachment.head, 'Content-Transfer-Encoding'), 'binary');
    assert.deepEqual([...Buffer.from(attachment.body, 'latin1')], [1, 0x0d, 0x0a, 2, 0x0d, 0x0a, 3, 0x0d, 0x0a]);
  });
});

test('line ends: MailComposer keeps the bare LF of the caller’s text; with newline: "windows" it sends what it built', async () => {
  await withRealServer({}, async (server) => {
    const mail = { from: 'juergen@example.org', to: 'zoe@example.net', subject: 'lines', text: 'eins\nzwei\n' };
    const asIs = await new MailComposer(mail).compile().build();
    assert.match(asIs.toString('latin1'), /\r\n\r\neins\nzwei\n/);
    const windows = await new MailComposer({ ...mail, newline: 'windows' }).compile().build();
    assert.doesNotMatch(windows.toString('latin1'), /(?<!\r)\n/);
    await sendMail(asIs, options(server));
    await sendMail(windows, options(server));
    assert.equal(server.received[0]!.data.toString('latin1'), crlf(asIs));
    assert.ok(server.received[1]!.data.equals(windows), 'delivered byte for byte as built');
  });
});

/**
 * README "Composing a message", as run: nodemailer's MailComposer (a dev
 * dependency here, the user's own dependency there) builds the MIME message,
 * smtpmail sends it. test/compose.test.ts sends it to an in-process server.
 */
import MailComposer from 'nodemailer/lib/mail-composer';
import { sendMail, type SendOptions } from 'smtpmail';

export function composeReport(report: Buffer) {
  const message = new MailComposer({
    from: { name: 'Jürgen Müller', address: 'juergen@example.org' },
    to: { name: 'Zoë Ångström', address: 'zoe@example.net' },
    cc: 'Bob <bob@example.net>',
    bcc: 'archive@example.org',
    subject: 'Grüße aus Köln: der Bericht',
    text: 'Hallo Zoë,\nanbei der Bericht.\n',
    html: '<p>Hallo Zoë,</p><p>anbei der Bericht.</p>',
    attachments: [{ filename: 'bericht.bin', content: report }],
  }).compile();
  message.keepBcc = true; // else the Bcc: line is left out and smtpmail never sees that recipient
  return message;
}

export async function sendReport(report: Buffer, options: SendOptions) {
  return sendMail(await composeReport(report).build(), options);
}

/**
 * A process for the kill -9 test (queue-crash.test.ts): queues messages and
 * flushes the queue to a server, over and over, saying on standard output
 * (synchronously, before going on) which message it reported queued and which
 * flush report said sent. The test kills it with SIGKILL at a random moment.
 *
 * argv: queueDir port firstId count
 */
import { writeSync } from 'node:fs';
import { sendMail, sendQueuedMail } from '../../src/index.js';

const [queueDir = '', portText = '0', firstText = '0', countText = '0'] = process.argv.slice(2);
const port = Number(portText);
const first = Number(firstText);
const count = Number(countText);
// Loaded: the test's kill delay counts from here, so that a slow start on a busy machine does not eat it.
writeSync(1, 'ready\n');

for (let id = first; id < first + count; id++) {
  const message =
    `From: a@example.org\nTo: b@example.net\nSubject: id-${id}\nMessage-ID: ` +
    `<id-${id}@example.org>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nbody ${id}\n`;
  await sendMail(message, { queueMail: true, queueDir });
  writeSync(1, `queued id-${id}\n`);
  if (id % 3 === 2) {
    writeSync(1, 'flushing\n');
    const report = await sendQueuedMail({
      queueDir,
      server: '127.0.0.1',
      port,
      streamType: 'plain',
      authSources: [],
      retries: 1,
    });
    writeSync(1, `flushed ${report.sent.length}\n`);
  }
}
writeSync(1, 'done\n');

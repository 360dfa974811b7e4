/**
 * The producer: one job per message, under the message's Message-ID as its job id, so that enqueueing the same
 * message twice is a no-op (BullMQ ignores a job whose id exists).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node producer.js 1000 [id-prefix]
 */
import { Queue } from 'bullmq';
import { QUEUE, connection, jobOptions } from './settings.js';

const count = Number(process.argv[2] ?? 10);
const prefix = process.argv[3] ?? `run${Date.now()}`;

const jobs = [];
for (let n = 1; n <= count; n++) {
  const messageId = `${prefix}.${n}@example.org`;
  const message =
    `From: Shop <shop@example.org>\nTo: customer${n}@example.net\nSubject: Your order ${n}\n` +
    `Message-ID: <${messageId}>\n\nThank you for order ${n}.\n`;
  jobs.push({ name: 'send', data: { message }, opts: { ...jobOptions, jobId: messageId } });
}
const queue = new Queue(QUEUE, { connection });
await queue.addBulk(jobs);
await queue.close();
console.log(`enqueued ${count} messages, ${prefix}.1@example.org to ${prefix}.${count}@example.org`);

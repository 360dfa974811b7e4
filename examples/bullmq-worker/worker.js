/**
 * A mail worker: takes jobs from the queue and sends each message through its own smtpmail pool. Run as many as you
 * like, on as many machines: BullMQ gives each job to one worker at a time, retries failures with backoff, and hands
 * the jobs of a worker that died to another one.
 *
 *   SMTPSERVER=mail.example.org SMTP_PORT=587 REDIS_URL=redis://127.0.0.1:6379 node worker.js
 */
import { UnrecoverableError, Worker } from 'bullmq';
import { createPool, SmtpProtocolError } from 'smtpmail';
import { QUEUE, connection } from './settings.js';

const env = process.env;

const pool = createPool({
  server: env.SMTPSERVER,
  port: Number(env.SMTP_PORT ?? 587),
  user: env.SMTP_USER,
  password: env.SMTP_PASSWORD,
  maxConnections: 4,
  // The pool retries at once only what cannot have been delivered (a drop before the final dot); BullMQ does the rest.
  retries: 3,
});

/**
 * Sends one job's message. `sending` is written to the job (in Redis) before the message goes to the pool, and
 * cleared when the server refused it. Found set when a run starts, it means an earlier run may have delivered the
 * message: its worker died mid-send (BullMQ runs a stalled job again) or the connection was lost after the final dot
 * (EUNKNOWN_DELIVERY). Such a message is sent again, with the same Message-ID, and the job's result says
 * `possiblyDuplicate`: a duplicate can be recognised by its Message-ID; a lost message cannot be recognised at all.
 */
async function deliver(job) {
  const possiblyDuplicate = job.data.possiblyDuplicate === true || job.data.sending === true;
  await job.updateData({ ...job.data, sending: true, possiblyDuplicate });
  try {
    const { reply } = await pool.send(job.data.message);
    return { reply: reply.lines.join(' '), possiblyDuplicate };
  } catch (error) {
    // EUNKNOWN_DELIVERY (and anything unexpected) keeps `sending` set: the retry will be flagged.
    if (!(error instanceof SmtpProtocolError) || error.code === 'EUNKNOWN_DELIVERY') throw error;
    await job.updateData({ ...job.data, sending: false }); // refused, or never sent: not delivered
    // 4xx, timeouts, a drop before the dot: BullMQ retries with backoff. 5xx: never retried.
    throw error.transient ? error : new UnrecoverableError(error.message);
  }
}

const worker = new Worker(QUEUE, deliver, {
  connection,
  concurrency: Number(env.CONCURRENCY ?? 16),
  // A dead worker stops renewing its jobs' locks: after lockDuration ms the check that runs every stalledInterval ms
  // puts them back in the queue (once: maxStalledCount is 1). BullMQ's defaults are 30 s each.
  lockDuration: Number(env.LOCK_DURATION_MS ?? 30_000),
  stalledInterval: Number(env.STALLED_INTERVAL_MS ?? 30_000),
});
worker.on('completed', (job, result) => {
  if (result.possiblyDuplicate) console.log(`${job.id}: sent again, possibly a duplicate`);
});
worker.on('failed', (job, error) => console.error(`${job?.id}: attempt ${job?.attemptsMade} failed: ${error.message}`));
worker.on('error', (error) => console.error(`worker: ${error.message}`)); // Redis trouble: BullMQ reconnects

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await worker.close(); // the jobs under way finish first
    await pool.close();
  });
}

/**
 * What the producer and the workers share: the queue's name, the Redis server, and how a failed job is retried.
 * Everything comes from the environment, with defaults for a local try.
 */
export const QUEUE = process.env.QUEUE ?? 'mail';

export const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' };

/** 5 attempts in all, 1 s, 2 s, 4 s and 8 s apart (BullMQ's exponential backoff); a job's result is kept. */
export const jobOptions = { attempts: 5, backoff: { type: 'exponential', delay: 1000 } };

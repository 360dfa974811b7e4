/**
 * Standard input held before anything is sent, so that the message's size
 * is known before MAIL FROM (SIZE=, and a message larger than the server
 * takes is refused before it is uploaded) and whether it is 8-bit
 * (BODY=8BITMIME), as for a message in memory. Up to MEMORY_LIMIT bytes stay
 * in memory; beyond that the whole message goes to a temporary file (mode
 * 0600, in a directory of its own, removed by `dispose`) and is measured on
 * the way.
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LineEndMeter, nulError } from '../wire/line-ends.js';
import type { MeasuredStream } from '../message/prepare.js';

export const MEMORY_LIMIT = 32 * 1024 * 1024;

export interface Spooled {
  /** The message: a Buffer, or a stream of the file with its measurements. */
  readonly message: Buffer | MeasuredStream;
  /** The start of the message (all of it when in memory): where its header block is. */
  readonly start: Buffer;
  /** Removes the temporary file, if any. */
  dispose(): Promise<void>;
}

export async function spool(source: AsyncIterable<Buffer | string>, memoryLimit = MEMORY_LIMIT): Promise<Spooled> {
  const chunks: Buffer[] = [];
  let held = 0;
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) {
      const message = Buffer.concat(chunks, held);
      return { message, start: message, dispose: async () => {} };
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    chunks.push(chunk);
    held += chunk.length;
    if (held > memoryLimit) break;
  }
  const start = Buffer.concat(chunks, held);
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-spool-'));
  const dispose = (): Promise<void> => fs.rm(directory, { recursive: true, force: true });
  try {
    const file = path.join(directory, 'message');
    const meter = new LineEndMeter();
    const handle = await fs.open(file, 'wx', 0o600);
    try {
      meter.push(start);
      await handle.write(start);
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) break;
        const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
        meter.push(chunk);
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    if (meter.nulAt !== -1) throw nulError(meter.nulAt);
    const message: MeasuredStream = {
      measured: { wireSize: meter.size, eightBit: meter.eightBit },
      [Symbol.asyncIterator]: () => createReadStream(file)[Symbol.asyncIterator](),
    };
    return { message, start, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * A file stream (`fs.createReadStream(path)`) that nothing has read yet is read here instead: one read of 1 MiB in
 * flight while the last chunk is sent (the first read is smaller: see FIRST_READ_BYTES), into a few buffers taken
 * back once the socket has written them (lendUntilWritten). fs.ReadStream reads every chunk into a fresh buffer; in a
 * fresh process the C library hands that memory back to the system and gets it again, so most reads of a 20 MB file
 * also fault in and zero every page they fill: timed in a fresh process on the bench machine, reads of 1 MiB took
 * 4-6 ms where a reused buffer takes 0.4-0.8 ms. Measured gain, the bench's 20 MB file cell run three times before
 * and after in the same minutes: 620-775 MB/s with fs.ReadStream's reads, 930-975 MB/s read here (session 7).
 *
 * Only a stream of node:fs itself (not one made with another `fs` option), opened by path, with no encoding, never
 * read, paused or piped, and with no listener for its 'end' (it will never end: destroyed, it emits 'close' only): it
 * is destroyed (its file descriptor closed) and its file opened again with its flags, from its `start` to its `end`.
 * Any other stream is read as it is.
 */
import fs from 'node:fs';
import { lendUntilWritten } from '../wire/buffer-pool.js';

export const READ_BYTES = 1 << 20;
/**
 * The first read is smaller, into a buffer of its own: it holds the header block, which preparing the message keeps
 * (a pooled buffer would never come back, and each file would start a fresh one), and the next read starts sooner.
 * With message-head.ts reading that chunk where it is, instead of copying 1 MiB, the bench's 20 MB file cell went
 * from 980-1,000 to 1,070-1,170 MB/s (session 8, same minutes).
 */
export const FIRST_READ_BYTES = 64 * 1024;
/**
 * Buffers kept for reuse, by every file sent in this process (4 MiB, kept once a file was sent): one being written,
 * one being read, and room for the socket to be late. A pool per message would start each file with fresh buffers.
 */
const KEEP_BUFFERS = 4;
const free: Buffer[] = [];
const take = (): Buffer => free.pop() ?? Buffer.allocUnsafeSlow(READ_BYTES);
const give = (buffer: Buffer): void => {
  if (buffer.length === READ_BYTES && free.length < KEEP_BUFFERS) free.push(buffer);
};

/** What this module reads of an fs.ReadStream (its own fields; @types/node does not declare them all). */
interface FileStreamFields {
  readonly path: string | Buffer;
  readonly flags: string | number;
  readonly start: number | undefined;
  readonly end: number | undefined;
  readonly bytesRead: number;
}

/** The file of an untouched fs.ReadStream, read with reused buffers; undefined for any other input. */
export function readFileStream(input: unknown): AsyncIterable<Buffer> | undefined {
  if (!(input instanceof fs.ReadStream) || !readsWithNodeFs(input)) return undefined;
  const stream = input as fs.ReadStream & FileStreamFields;
  const { path, flags, start = 0, end = Infinity } = stream;
  if (typeof path !== 'string' && !Buffer.isBuffer(path)) return undefined;
  const untouched =
    stream.bytesRead === 0 &&
    stream.readableLength === 0 &&
    stream.readableFlowing === null &&
    stream.readableEncoding === null &&
    !stream.readableObjectMode &&
    !stream.destroyed &&
    stream.listenerCount('end') === 0;
  if (!untouched || !Number.isSafeInteger(start) || start < 0 || !(end >= start)) return undefined;
  // Its own opening may still fail (a missing file, say) after this: that is reported by the reading here, not as an
  // 'error' event nobody listens to.
  stream.on('error', () => {});
  stream.destroy();
  return { [Symbol.asyncIterator]: () => chunks(path, flags, start, end) };
}

/** The stream reads through node:fs (createReadStream's `fs` option can put another implementation there). */
function readsWithNodeFs(stream: fs.ReadStream): boolean {
  const key = Object.getOwnPropertySymbols(stream).find((symbol) => symbol.description === 'kFs');
  return key !== undefined && (stream as unknown as Record<symbol, unknown>)[key] === fs;
}

interface Read {
  readonly buffer: Buffer;
  readonly bytesRead: number;
}

/** The bytes from `start` to `end` (inclusive, as fs.createReadStream counts), one read ahead. */
async function* chunks(
  path: string | Buffer,
  flags: string | number,
  start: number,
  end: number,
): AsyncGenerator<Buffer> {
  const fd = await new Promise<number>((resolve, reject) =>
    fs.open(path, flags, (error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const stop = end + 1;
  const read = (position: number): Promise<Read> => {
    const buffer = position === start ? Buffer.allocUnsafe(FIRST_READ_BYTES) : take();
    const reading = new Promise<Read>((resolve, reject) =>
      fs.read(fd, buffer, 0, Math.min(buffer.length, stop - position), position, (error, bytesRead) =>
        error ? reject(error) : resolve({ buffer, bytesRead }),
      ),
    );
    reading.catch(() => {}); // a failure while the consumer is away is thrown when it comes back, not as unhandled
    return reading;
  };
  let position = start;
  let pending: Promise<Read> | undefined = position < stop ? read(position) : undefined;
  try {
    while (pending !== undefined) {
      const { buffer, bytesRead } = await pending;
      pending = undefined;
      if (bytesRead === 0) {
        give(buffer);
        break;
      }
      position += bytesRead;
      if (position < stop) pending = read(position);
      const bytes = buffer.subarray(0, bytesRead);
      yield buffer.length === READ_BYTES ? lendUntilWritten(bytes, () => give(buffer)) : bytes;
    }
  } finally {
    // A read in flight must end before its descriptor is closed (the number could be reused meanwhile); its buffer is
    // then free again.
    const last = await pending?.catch(() => undefined);
    if (last !== undefined) give(last.buffer);
    await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }
}

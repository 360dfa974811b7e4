/** A whole message through the DATA encoder in one piece: line ends made CRLF, dot-stuffed, terminated. */
import { DataEncoder } from '../../src/wire/data-encoder.js';

export function encodeData(message: Buffer): Buffer {
  const encoder = new DataEncoder();
  const body = encoder.push(message);
  const terminator = encoder.end();
  return Buffer.concat([body, terminator], body.length + terminator.length);
}

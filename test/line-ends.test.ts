/**
 * The line-end check (wire/line-ends.ts) against its plain definition, at every word alignment.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { crlfClean } from '../src/wire/line-ends.js';

/** The plain definition: no CR without LF after it, no LF without CR before it, no NUL. */
function reference(message: Buffer): boolean {
  return !/\r(?!\n)|(?<!\r)\n|\0/.test(message.toString('latin1'));
}

/** Deterministic pseudo-random numbers (a linear congruential generator). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

test('crlfClean: examples', () => {
  const cases: [string, boolean][] = [
    ['', true],
    ['no line end', true],
    ['a\r\nb\r\n', true],
    ['a\nb\r\n', false],
    ['a\r\nb\n', false],
    ['a\rb\r\n', false],
    ['ends with CR\r', false],
    ['\n', false],
    ['\r\n\r\n', true],
    ['tab\tand\vform\ffeed\r\n', true],
    ['nul\0\r\n', false],
    ['long line without CR or LF but more than one word of bytes', true],
    ['CR then a word of plain bytes\rabcdefgh', false],
  ];
  for (const [text, clean] of cases) assert.equal(crlfClean(Buffer.from(text, 'latin1')), clean, JSON.stringify(text));
});

test('crlfClean: a CR, then a whole word of plain bytes, then an LF is two bare line ends, at every alignment', () => {
  const text = Buffer.from('xyz\rabcdefgh\nxyz\r\n', 'latin1');
  for (let offset = 0; offset < 4; offset++) {
    const host = Buffer.alloc(text.length + 8, 'z');
    text.copy(host, offset);
    assert.equal(crlfClean(host.subarray(offset, offset + text.length)), false, `at offset ${offset}`);
  }
});

test('crlfClean agrees with the plain definition on random messages, at every alignment', () => {
  const random = generator(7);
  // Mostly plain text, with CR, LF, CRLF, tab and the odd NUL or high byte, so that every word position is exercised.
  const alphabet = ['a', 'b', ' ', '.', '\r\n', '\r\n', '\r\n', '\r', '\n', '\t', '\0', '\xe9', 'wxyz'];
  let clean = 0;
  for (let i = 0; i < 3000; i++) {
    const parts: string[] = [];
    const count = Math.floor(random() * 40);
    const rare = random() < 0.5; // half the messages use only text and CRLF, so that many are clean
    for (let k = 0; k < count; k++)
      parts.push(
        rare
          ? (alphabet[Math.floor(random() * alphabet.length)] as string)
          : (['ab', 'c d', '\r\n', '.x'][Math.floor(random() * 4)] as string),
      );
    const text = Buffer.from(parts.join(''), 'latin1');
    // The same bytes at offsets 0..3 of a larger buffer: each alignment of the word scan.
    for (let offset = 0; offset < 4; offset++) {
      const host = Buffer.alloc(text.length + 8, 'z');
      text.copy(host, offset);
      const view = host.subarray(offset, offset + text.length);
      const expected = reference(view);
      assert.equal(crlfClean(view), expected, `${JSON.stringify(view.toString('latin1'))} at offset ${offset}`);
      if (expected) clean++;
    }
  }
  assert.ok(clean > 2000 && clean < 10000, `both answers are exercised (${clean} clean of 12000)`);
});

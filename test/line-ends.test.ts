/**
 * The line-end check (wire/line-ends.ts) against its plain definition, at every word alignment.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { crlfClean, wordCrlfClean } from '../src/wire/line-ends.js';
import { simdCrlfClean } from '../src/wire/crlf-simd.js';

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

test('the SIMD check agrees with the plain definition: random messages, 16-byte and 64 KiB block edges', () => {
  assert.notEqual(simdCrlfClean(Buffer.from('ab\r\n')), undefined, 'WebAssembly SIMD is available on Node 20');
  const random = generator(11);
  const alphabet = ['abc', ' ', '\r\n', '\r\n', '\r', '\n', '\0', '\xe9'];
  let clean = 0;
  for (let i = 0; i < 4000; i++) {
    const parts: string[] = [];
    const count = Math.floor(random() * 30);
    const rare = random() < 0.5;
    for (let k = 0; k < count; k++)
      parts.push(rare ? (alphabet[Math.floor(random() * alphabet.length)] as string) : random() < 0.8 ? 'abc' : '\r\n');
    const text = Buffer.from(parts.join(''), 'latin1');
    const expected = reference(text);
    assert.equal(simdCrlfClean(text), expected, JSON.stringify(text.toString('latin1')));
    if (expected) clean++;
  }
  assert.ok(clean > 1000 && clean < 3900, `both answers are exercised (${clean} clean of 4000)`);

  // A line end split across the 64 KiB blocks the message is copied in, and every kind of fault around that edge.
  const edge = 64 * 1024;
  const around = (bytes: string): Buffer => {
    const message = Buffer.alloc(edge + 100, 'a');
    message.write(bytes, edge - 1, 'latin1');
    return message;
  };
  for (const bytes of ['\r\n', '\r', '\n', 'a\n', '\ra', '\0a', 'a\0', '\r\n\n', '\r\r\n']) {
    const message = around(bytes);
    assert.equal(simdCrlfClean(message), reference(message), JSON.stringify(bytes));
    assert.equal(crlfClean(message), reference(message), `crlfClean, ${JSON.stringify(bytes)}`);
  }
  // A fault anywhere in a large clean message is found, wherever it falls in its block.
  const large = Buffer.from('a line of text\r\n'.repeat(20_000), 'latin1');
  assert.equal(simdCrlfClean(large), true);
  for (let k = 0; k < 200; k++) {
    const copy = Buffer.from(large);
    const at = Math.floor(random() * copy.length);
    copy[at] = [0x0d, 0x0a, 0x00][k % 3] as number;
    assert.equal(simdCrlfClean(copy), reference(copy), `fault at ${at}`);
    assert.equal(simdCrlfClean(copy), wordCrlfClean(copy), `the same answer as the word loop, fault at ${at}`);
  }
  // The last byte a CR, and a message that is only a CR.
  assert.equal(simdCrlfClean(Buffer.from('abc\r', 'latin1')), false);
  assert.equal(simdCrlfClean(Buffer.from('\r', 'latin1')), false);
  assert.equal(simdCrlfClean(Buffer.alloc(0)), true);
});

/**
 * SASLprep (auth/saslprep.ts, RFC 4013) and its tables (auth/saslprep-tables.ts): the RFC 4013 §3 examples, points
 * of each RFC 3454 table read from the RFC's text, the bidirectional rule, and stored against query strings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inRanges, saslprep } from '../src/auth/saslprep.js';
import { A1, B1, C12, D1, D2, PROHIBITED } from '../src/auth/saslprep-tables.js';

const examples: { input: string; output: string | undefined; comment: string }[] = [
  { input: 'I\u00adX', output: 'IX', comment: 'SOFT HYPHEN mapped to nothing' },
  { input: 'user', output: 'user', comment: 'no transformation' },
  { input: 'USER', output: 'USER', comment: 'case preserved' },
  { input: '\u00aa', output: 'a', comment: 'output is NFKC, input in ISO 8859-1' },
  { input: '\u2168', output: 'IX', comment: 'output is NFKC' },
  { input: '\u0007', output: undefined, comment: 'prohibited character' },
  { input: '\u0627\u0031', output: undefined, comment: 'bidirectional check' },
];

for (const row of examples) {
  test(`RFC 4013 §3: ${row.comment}`, () => {
    const result = saslprep(row.input, 'stored');
    if (row.output === undefined) assert.equal(result.ok, false);
    else assert.deepEqual(result, { ok: true, value: row.output });
  });
}

test('non-ASCII spaces become SPACE; zero-width and variation selectors vanish', () => {
  assert.deepEqual(saslprep('a\u00a0b\u3000c\u2003d', 'stored'), { ok: true, value: 'a b c d' });
  assert.deepEqual(saslprep('a\u200db\ufe0fc\ufeffd', 'stored'), { ok: true, value: 'abcd' });
});

test('right-to-left text alone passes; mixed with left-to-right, or not ending right-to-left, fails', () => {
  assert.deepEqual(saslprep('\u05d0\u05d1', 'stored'), { ok: true, value: '\u05d0\u05d1' });
  assert.equal(saslprep('\u05d0a\u05d1', 'stored').ok, false);
  assert.equal(saslprep('\u05d01', 'stored').ok, false);
  assert.deepEqual(saslprep('\u05d01\u05d1', 'stored'), { ok: true, value: '\u05d01\u05d1' });
});

test('prohibited: controls, private use, non-characters, surrogates, tagging; the reason names no character', () => {
  for (const input of ['a\tb', 'a\u0085', '\ue000', '\ufdd0', '\u{1fffe}', '\ud800', '\u{e0001}', '\u200e', '\ufffd']) {
    const result = saslprep(input, 'query');
    assert.equal(result.ok, false, JSON.stringify(input));
    if (!result.ok) assert.match(result.why, /^a character SASLprep prohibits/);
  }
});

test('unassigned in Unicode 3.2: refused in stored strings, allowed in queries', () => {
  const emoji = '\u{1f600}'; // assigned in Unicode 6.1, unassigned in 3.2
  assert.equal(saslprep(emoji, 'stored').ok, false);
  assert.deepEqual(saslprep(emoji, 'query'), { ok: true, value: emoji });
});

test('the tables hold the RFC 3454 entries looked up by hand', () => {
  const rows: [string, readonly (readonly [number, number])[], number, boolean][] = [
    ['B.1 00AD', B1, 0xad, true],
    ['B.1 FE0F', B1, 0xfe0f, true],
    ['B.1 not 0041', B1, 0x41, false],
    ['C.1.2 3000', C12, 0x3000, true],
    ['C.1.2 200B', C12, 0x200b, true],
    ['C.2.1 007F', PROHIBITED, 0x7f, true],
    ['C.2.2 2028', PROHIBITED, 0x2028, true],
    ['C.3 10FFFD', PROHIBITED, 0x10fffd, true],
    ['C.4 FFFE', PROHIBITED, 0xfffe, true],
    ['C.7 2FF0', PROHIBITED, 0x2ff0, true],
    ['C.8 202E', PROHIBITED, 0x202e, true],
    ['C.9 E007F', PROHIBITED, 0xe007f, true],
    ['not prohibited: 0041', PROHIBITED, 0x41, false],
    ['A.1 0221', A1, 0x221, true],
    ['A.1 not 0220', A1, 0x220, false],
    ['A.1 E0080-EFFFD', A1, 0xe0080, true],
    ['D.1 05BE', D1, 0x5be, true],
    ['D.1 FEFC', D1, 0xfefc, true],
    ['D.1 not 0041', D1, 0x41, false],
    ['D.2 0041', D2, 0x41, true],
    ['D.2 10FFFD', D2, 0x10fffd, true],
    ['D.2 not 05D0', D2, 0x5d0, false],
  ];
  for (const [name, table, point, expected] of rows) assert.equal(inRanges(table, point), expected, name);
  for (const table of [A1, B1, C12, D1, D2, PROHIBITED]) {
    for (let i = 1; i < table.length; i++) {
      assert.ok((table[i]?.[0] as number) > (table[i - 1]?.[1] as number) + 0, 'sorted and disjoint');
    }
  }
});

test('printable ASCII passes unchanged', () => {
  const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');
  assert.deepEqual(saslprep(ascii, 'stored'), { ok: true, value: ascii });
});

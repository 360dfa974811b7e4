/**
 * DKIM canonicalization (RFC 6376 §3.4; src/message/dkim-canonical.ts), pure: the RFC's own example (§3.4.5) for
 * headers and body, empty bodies and their well-known hashes, trailing empty lines, WSP runs, every kind of line end,
 * and the streamed body canonicalizer against a plain reference at every split point and on random bodies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  BodyCanonicalizer,
  canonicalHeader,
  crlfLines,
  type CanonicalizationKind,
} from '../src/message/dkim-canonical.js';

/** The canonical body, collected (each update copied: the relaxed canonicalizer reuses its buffer). */
function canonical(kind: CanonicalizationKind, chunks: readonly (string | Buffer)[]): string {
  const parts: Buffer[] = [];
  const body = new BodyCanonicalizer(kind, { update: (data) => parts.push(Buffer.from(data as Buffer)) as never });
  for (const chunk of chunks) body.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
  body.end();
  return Buffer.concat(parts).toString('latin1');
}

/** The same by the RFC's words, on the whole body at once: line ends made CRLF as the DATA encoder makes them. */
function reference(kind: CanonicalizationKind, body: string): string {
  let lines = body.replace(/\r\n|\r|\n/g, '\n').split('\n');
  const ended = lines[lines.length - 1] === '';
  if (ended) lines.pop();
  if (kind === 'relaxed') lines = lines.map((line) => line.replace(/[\t ]+/g, ' ').replace(/ $/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) return kind === 'simple' ? '\r\n' : '';
  return lines.map((line) => `${line}\r\n`).join('');
}

test('RFC 6376 §3.4.5 example: relaxed and simple headers', () => {
  const a = Buffer.from('A: X\r\n', 'latin1');
  const b = Buffer.from('B : Y\t\r\n\tZ  \r\n', 'latin1');
  assert.equal(canonicalHeader(a, 'relaxed').toString('latin1'), 'a:X\r\n');
  assert.equal(canonicalHeader(b, 'relaxed').toString('latin1'), 'b:Y Z\r\n');
  assert.equal(canonicalHeader(a, 'simple').toString('latin1'), 'A: X\r\n');
  assert.equal(canonicalHeader(b, 'simple').toString('latin1'), 'B : Y\t\r\n\tZ  \r\n');
});

test('RFC 6376 §3.4.5 example: relaxed and simple body', () => {
  const body = ' C \r\nD \t E\r\n\r\n\r\n';
  assert.equal(canonical('relaxed', [body]), ' C\r\nD E\r\n');
  assert.equal(canonical('simple', [body]), ' C \r\nD \t E\r\n');
});

test('relaxed headers: name lower-cased, WSP runs one space, none around the colon or at the end; bytes kept', () => {
  const field = Buffer.from('SUBJECT \t:\t  Caf\u00c3\u00a9  au \t lait \r\n   folded\t \r\n', 'latin1');
  assert.equal(canonicalHeader(field, 'relaxed').toString('latin1'), 'subject:Caf\u00c3\u00a9 au lait folded\r\n');
  assert.equal(canonicalHeader(Buffer.from('X-Empty:\r\n'), 'relaxed').toString('latin1'), 'x-empty:\r\n');
  assert.equal(canonicalHeader(Buffer.from('X-Blank:   \r\n'), 'relaxed').toString('latin1'), 'x-blank:\r\n');
});

test('empty bodies: simple is one CRLF, relaxed is nothing (the RFC 6376 §3.4.3/§3.4.4 hashes)', () => {
  const hash = (kind: CanonicalizationKind, body: string): string =>
    createHash('sha256')
      .update(canonical(kind, [body]), 'latin1')
      .digest('base64');
  for (const body of ['', '\r\n', '\r\n\r\n\r\n', '\n\n', '\r']) {
    assert.equal(hash('simple', body), 'frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=', JSON.stringify(body));
    assert.equal(hash('relaxed', body), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', JSON.stringify(body));
  }
  // Only whitespace: an empty line for relaxed, text for simple.
  assert.equal(canonical('relaxed', [' \t \r\n\r\n']), '');
  assert.equal(canonical('simple', [' \t \r\n\r\n']), ' \t \r\n');
});

test('trailing empty lines are removed; a body without a final line end gets one', () => {
  for (const kind of ['simple', 'relaxed'] as const) {
    assert.equal(canonical(kind, ['a\r\n\r\n\r\n']), 'a\r\n');
    assert.equal(canonical(kind, ['a']), 'a\r\n');
    assert.equal(canonical(kind, ['a\r\n\r\nb']), 'a\r\n\r\nb\r\n');
    assert.equal(canonical(kind, ['\r\n\r\na\r\n']), '\r\n\r\na\r\n'); // leading empty lines stay
  }
});

test('WSP runs: relaxed makes each one space and drops those at line ends, leading ones included', () => {
  assert.equal(canonical('relaxed', ['  a \t\t b  \r\n\t\tc\t\r\n']), ' a b\r\n c\r\n');
  assert.equal(canonical('simple', ['  a \t\t b  \r\n\t\tc\t\r\n']), '  a \t\t b  \r\n\t\tc\t\r\n');
});

test('line ends as the wire has them: bare LF, bare CR and CRLF each one CRLF', () => {
  for (const kind of ['simple', 'relaxed'] as const) {
    assert.equal(canonical(kind, ['a\nb\rc\r\nd']), 'a\r\nb\r\nc\r\nd\r\n');
    assert.equal(canonical(kind, ['a\r\r\nb\n\rc']), 'a\r\n\r\nb\r\n\r\nc\r\n');
  }
  assert.equal(crlfLines(Buffer.from('A: 1\nB: 2\r\n\tx\rC: 3\r\n')).toString(), 'A: 1\r\nB: 2\r\n\tx\r\nC: 3\r\n');
  const clean = Buffer.from('A: 1\r\n\r\n');
  assert.equal(crlfLines(clean), clean, 'a block already CRLF is not copied');
});

test('streamed: the same canonical form at every split point, a CR and its LF in different chunks included', () => {
  const body = ' C \r\nD \t E\r\n\r\nx\ry\n\tz \r\n\r\n \r\n\r';
  for (const kind of ['simple', 'relaxed'] as const) {
    const whole = canonical(kind, [body]);
    assert.equal(whole, reference(kind, body));
    for (let i = 0; i <= body.length; i++) {
      for (let j = i; j <= body.length; j++) {
        assert.equal(canonical(kind, [body.slice(0, i), body.slice(i, j), body.slice(j)]), whole, `${kind} ${i} ${j}`);
      }
    }
  }
});

test('random bodies, random chunks: as the reference', () => {
  const alphabet = ['a', 'b', ' ', '\t', '\r', '\n', '\r\n', '.', '\u00e9'];
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 2000; round++) {
    let body = '';
    const length = random(40);
    for (let i = 0; i < length; i++) body += alphabet[random(alphabet.length)];
    const chunks: string[] = [];
    for (let at = 0; at < body.length;) {
      const size = 1 + random(8);
      chunks.push(body.slice(at, at + size));
      at += size;
    }
    for (const kind of ['simple', 'relaxed'] as const) {
      assert.equal(canonical(kind, chunks), reference(kind, body), `${kind} ${JSON.stringify(body)}`);
    }
  }
});

test('many empty lines held across chunks, then text: all of them hashed, in order', () => {
  const empty = '\r\n'.repeat(100_000);
  for (const kind of ['simple', 'relaxed'] as const) {
    assert.equal(canonical(kind, ['a\r\n', empty, 'b']), `a\r\n${empty}b\r\n`);
    assert.equal(canonical(kind, ['a\n', '\n'.repeat(100_000), ' b']), `a\r\n${empty} b\r\n`);
  }
});

test('simple, large chunks cut between CR and LF: as the reference, the fast path kept on both sides', () => {
  const lines = ['text line', '', 'more text', '.dot', '', ''];
  let body = '';
  for (let i = 0; i < 20_000; i++) body += `${lines[i % lines.length]}\r\n`;
  body += '\r\n\r\n';
  const cuts: number[] = [];
  for (let at = body.indexOf('\r\n', 7000); at !== -1 && cuts.length < 8; at = body.indexOf('\r\n', at + 9000)) {
    cuts.push(at + 1); // between the CR and its LF
  }
  const chunks: string[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(body.slice(start, cut));
    start = cut;
  }
  chunks.push(body.slice(start));
  assert.ok(chunks.length > 5 && chunks.slice(0, -1).every((chunk) => chunk.endsWith('\r')));
  for (const kind of ['simple', 'relaxed'] as const) {
    assert.equal(canonical(kind, chunks), reference(kind, body), kind);
  }
  // A bare CR at the end of a large chunk, then a chunk that does not start with LF: one line end, as the wire has.
  const bare = ['x\r\n'.repeat(2000) + 'y\r', 'z\r\n'.repeat(2000)];
  assert.equal(canonical('simple', bare), reference('simple', bare.join('')));
});

/**
 * The public API is what README's "API at a glance" documents, no more and no
 * less: the values are imported at run time from the package entry
 * (package.json `exports`, as a user's `import ... from 'smtpmail'`), the
 * types from the declaration file the build emits for that entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The first column's code spans of each table in README's "API at a glance", table by table. */
function documented(): { values: string[]; types: string[] } {
  const readme = fs.readFileSync(`${ROOT}README.md`, 'utf8');
  const start = readme.indexOf('\n### API at a glance\n');
  assert.ok(start >= 0, 'README has an "API at a glance" section');
  const section = readme.slice(start + 1, readme.indexOf('\n#', start + 2));
  const tables: string[][] = [];
  let current: string[] | undefined;
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    if (current === undefined) tables.push((current = []));
    const first = line.split('|')[1] as string;
    current.push(...[...first.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
  }
  assert.equal(tables.length, 2, 'a table of values and a table of types');
  return { values: [...(tables[0] as string[])].sort(), types: [...(tables[1] as string[])].sort() };
}

/** Names exported by the emitted index.d.ts (`export { a, type B } from ...` and `export type { C } from ...`). */
function declaredExports(): string[] {
  const text = fs.readFileSync(`${ROOT}build/src/index.d.ts`, 'utf8');
  const names: string[] = [];
  for (const match of text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of (match[1] as string).split(',')) {
      const name = part.trim().replace(/^type\s+/, '');
      if (name !== '') names.push(name);
    }
  }
  return names.sort();
}

test('every value README documents is exported by the package entry, and nothing else', async () => {
  const { values } = documented();
  const entry = 'smtpmail';
  const api = (await import(entry)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(api).sort(), values);
  for (const name of values) assert.notEqual(api[name], undefined, name);
  assert.equal(typeof api['sendMail'], 'function');
  assert.equal(typeof (api['SmtpClient'] as { connect?: unknown }).connect, 'function');
});

test('every type README documents is declared by the package entry, and nothing else', () => {
  const { values, types } = documented();
  assert.deepEqual(declaredExports(), [...values, ...types].sort());
});

/**
 * The layers, checked (docs/development.md "Layout"): what each folder of src/ may import,
 * which folders may use sockets and files, and no import cycle. It reads the
 * import lines of the TypeScript sources as text; no dependency.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Root files that everything may use, and the entry points that nothing but an entry point may use. */
const LEAVES = new Set(['errors', 'hints', 'options', 'option-names', 'durable', 'deadline', 'server-url']);
const ENTRIES = new Set(['index', 'cli', 'send']);

/** Each place and what it may import (`leaf` = a root leaf, `entry` = an entry point, else a folder). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  leaf: ['leaf', 'wire'],
  wire: ['leaf', 'wire'],
  net: ['leaf', 'wire', 'net'],
  smtp: ['leaf', 'wire', 'net', 'smtp', 'message-types'],
  auth: ['leaf', 'wire', 'smtp', 'auth'],
  message: ['leaf', 'wire', 'message'],
  client: ['leaf', 'wire', 'net', 'smtp', 'auth', 'message', 'client'],
  queue: ['leaf', 'wire', 'message', 'client', 'queue'],
  cli: ['leaf', 'wire', 'net', 'smtp', 'auth', 'message', 'client', 'queue', 'cli', 'entry'],
  entry: ['leaf', 'wire', 'net', 'smtp', 'auth', 'message', 'client', 'queue', 'cli', 'entry'],
};

/** Node built-ins that only some places may use: sockets in net/ alone; files and programs not in the pure layers. */
const BUILTINS: Readonly<Record<string, readonly string[]>> = {
  'node:net': ['net'],
  'node:tls': ['net'],
  'node:fs': ['leaf', 'auth', 'queue', 'cli', 'client'],
  'node:fs/promises': ['leaf', 'auth', 'queue', 'cli', 'client'],
  'node:child_process': ['auth', 'client', 'cli'],
};

interface Import {
  readonly from: string;
  /** A module of src/ (`wire/reply`) when `local`, else what was written (`node:net`, a package). */
  readonly to: string;
  readonly local: boolean;
  readonly typeOnly: boolean;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** `src/wire/reply.ts` → `wire/reply`. */
const moduleOf = (file: string): string => path.relative(SRC, file).replace(/\.ts$/, '').split(path.sep).join('/');

function placeOf(module: string): string {
  const [first, second] = module.split('/');
  if (second !== undefined) return first as string;
  if (ENTRIES.has(module)) return 'entry';
  if (LEAVES.has(module)) return 'leaf';
  return `unknown root file ${module}`;
}

const IMPORT = /^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

function importsOf(file: string): Import[] {
  const text = fs.readFileSync(file, 'utf8');
  const from = moduleOf(file);
  const found: Import[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[2] as string;
    const typeOnly = match[1] !== undefined;
    if (spec.startsWith('.')) {
      const target = path.normalize(path.join(path.dirname(file), spec)).replace(/\.js$/, '.ts');
      found.push({ from, to: moduleOf(target), local: true, typeOnly });
    } else {
      found.push({ from, to: spec, local: false, typeOnly });
    }
  }
  return found;
}

const FILES = sources(SRC);
const MODULES = new Set(FILES.map(moduleOf));
const IMPORTS = FILES.flatMap(importsOf);

test('every file of src/ is in a layer folder, a root leaf or an entry point', () => {
  const unknown = [...MODULES].filter((module) => placeOf(module).startsWith('unknown'));
  assert.deepEqual(unknown, []);
  assert.ok(IMPORTS.length > 100, 'the import lines were read');
});

test('each layer imports only what it may', () => {
  const wrong: string[] = [];
  for (const { from, to, local, typeOnly } of IMPORTS) {
    const place = placeOf(from);
    if (!local) {
      if (!to.startsWith('node:')) wrong.push(`${from} imports the package ${to} (no runtime dependencies)`);
      const allowed = BUILTINS[to];
      if (allowed !== undefined && !allowed.includes(place)) wrong.push(`${from} uses ${to}`);
      continue;
    }
    if (!MODULES.has(to)) {
      wrong.push(`${from} imports ${to}, which is not a source file`);
      continue;
    }
    const target = placeOf(to);
    const allowed = MAY_IMPORT[place] ?? [];
    // smtp/ may know message/'s types (a prepared message is what it sends), never its code.
    if (allowed.includes(target) || (target === 'message' && typeOnly && allowed.includes('message-types'))) continue;
    wrong.push(`${from} (${place}) imports ${to} (${target})${typeOnly ? ' (types)' : ''}`);
  }
  assert.deepEqual(wrong, []);
});

test('no import cycle, type-only imports included', () => {
  const edges = new Map<string, string[]>();
  for (const { from, to, local } of IMPORTS) {
    if (!local) continue;
    edges.set(from, [...(edges.get(from) ?? []), to]);
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (module: string, trail: string[]): void => {
    if (state.get(module) === 'done') return;
    if (state.get(module) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(module)), module].join(' -> '));
      return;
    }
    state.set(module, 'open');
    for (const next of edges.get(module) ?? []) visit(next, [...trail, module]);
    state.set(module, 'done');
  };
  for (const module of edges.keys()) visit(module, []);
  assert.deepEqual(cycles, []);
});

test('test/README.md lists every test file, and only files that exist', () => {
  const testDir = fileURLToPath(new URL('../../test/', import.meta.url));
  const map = fs.readFileSync(path.join(testDir, 'README.md'), 'utf8');
  const listed = new Set([...map.matchAll(/`([a-z0-9-]+\.test\.ts)`/g)].map((m) => m[1] as string));
  const present = new Set(fs.readdirSync(testDir).filter((name) => name.endsWith('.test.ts')));
  assert.deepEqual([...present].filter((name) => !listed.has(name)).sort(), [], 'missing from test/README.md');
  assert.deepEqual([...listed].filter((name) => !present.has(name)).sort(), [], 'listed but absent');
  for (const folder of Object.keys(MAY_IMPORT).filter((place) => place !== 'leaf' && place !== 'entry')) {
    assert.ok(map.includes(`| \`${folder}/\` |`), `test/README.md has a row for src/${folder}/`);
  }
});

test('docs/development.md "Layout" states what each folder may import, as checked here', () => {
  const readme = fs.readFileSync(fileURLToPath(new URL('../../docs/development.md', import.meta.url)), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## Layout\n'),
    readme.indexOf('\n## ', readme.indexOf('\n## Layout\n') + 2),
  );
  const stated = new Map<string, string[]>();
  for (const match of section.matchAll(/^\| `([a-z]+)\/` \| [^|]+ \| ([^|]+) \|$/gm)) {
    const column = (match[2] as string).trim();
    const names =
      column === '—' ? [] : column.split(', ').map((name) => name.replace('message (types only)', 'message-types'));
    stated.set(match[1] as string, names.sort());
  }
  const folders = Object.keys(MAY_IMPORT).filter((place) => place !== 'leaf' && place !== 'entry' && place !== 'cli');
  for (const folder of folders) {
    const checked = (MAY_IMPORT[folder] ?? []).filter((place) => place !== 'leaf' && place !== folder);
    assert.deepEqual(stated.get(folder), [...checked].sort(), `docs/development.md's row for ${folder}/`);
  }
});

/** Every TypeScript file of the project outside build/ and node_modules/. */
function projectSources(): string[] {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  return ['src', 'test', 'bench', 'demo'].flatMap((dir) => sources(path.join(root, dir)));
}

test('every file starts with its module doc, and no line is over 120 columns', () => {
  const files = projectSources();
  assert.ok(files.length > 100);
  const wrong: string[] = [];
  // A test's title and a literal that is a whole line (an expected transcript, a pattern) may be longer:
  // each is searched for as one piece.
  const exempt = /^\s*(test\(|(\/.*\/[a-z]*|`[^`]*`|"[^"]*"|'[^']*'),?;?$)/;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const first = lines[0]?.startsWith('#!') ? lines[1] : lines[0];
    if (!first?.startsWith('/**')) wrong.push(`${file}: no module doc first`);
    lines.forEach((line, index) => {
      const long = [...line].length > 120 && !(file.includes(`${path.sep}test${path.sep}`) && exempt.test(line));
      if (long) wrong.push(`${file}:${index + 1}: ${[...line].length} columns`);
    });
  }
  assert.deepEqual(wrong, []);
});

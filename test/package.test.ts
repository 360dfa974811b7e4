/**
 * The package as npm publishes it (issue #19): `npm pack` once into a temporary folder, the tarball unpacked into the
 * node_modules of a consumer project there, then used as a user would in child processes: require()d from CommonJS,
 * imported from an ES module, type-checked by this repository's TypeScript with moduleResolution node10 and nodenext
 * (the nodenext consumer is test/types/consumer.ts, which pins the public types), its source maps followed to .ts
 * files that ship with it, and every function the entry exports documented where an editor shows it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const LIMIT_MS = 60_000;
const ENGINES = '^20.19.0 || >=22.12.0';

let folder = '';
/** The consumer project (`"type": "module"`), and the package as installed in its node_modules. */
let project = '';
let installed = '';
let packedFiles: string[] = [];

before(async () => {
  folder = await fs.mkdtemp(path.join(os.tmpdir(), 'smtpmail-package-'));
  // Under `npm test`, the npm that runs the tests; otherwise the one on PATH. The build is already there (npm test
  // compiled it), so no prepack.
  const npmCli = process.env['npm_execpath'];
  const npm = npmCli?.endsWith('.js') === true ? [process.execPath, npmCli] : ['npm'];
  const packed = await exec(
    npm[0] as string,
    [...npm.slice(1), 'pack', '--ignore-scripts', '--json', '--pack-destination', folder],
    { cwd: ROOT, timeout: LIMIT_MS },
  );
  const [report] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(report !== undefined, 'npm pack reported the tarball');
  packedFiles = report.files.map((file) => file.path).sort();
  project = path.join(folder, 'consumer');
  const modules = path.join(project, 'node_modules');
  await fs.mkdir(modules, { recursive: true });
  await exec('tar', ['-xzf', path.join(folder, report.filename), '-C', modules], { timeout: LIMIT_MS });
  installed = path.join(modules, 'smtpmail');
  await fs.rename(path.join(modules, 'package'), installed);
  await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module' }));
});

after(() => fs.rm(folder, { recursive: true, force: true }));

/** Runs `node ...args` in the consumer project with a private HOME and no SMTPSERVER unless `env` gives one. */
async function node(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '', HOME: folder };
  return exec(process.execPath, args, { cwd: project, env: { ...base, ...env }, timeout: LIMIT_MS });
}

/** The package.json fields checked here. */
interface Manifest {
  readonly description: string;
  readonly author: string;
  readonly license: string;
  readonly keywords: readonly string[];
  readonly sideEffects: boolean;
  readonly types: string;
  readonly exports: { readonly '.': { readonly types: string } };
  readonly engines: { readonly node: string };
  readonly scripts: Readonly<Record<string, string | undefined>>;
}

/** The last line a child printed, as JSON. */
const lastJson = (stdout: string): unknown => JSON.parse(stdout.trim().split('\n').pop() as string);

test('package.json: types beside exports, engines where require(esm) works, no prepare script', async () => {
  const manifest = JSON.parse(await fs.readFile(path.join(installed, 'package.json'), 'utf8')) as Manifest;
  assert.equal(manifest.types, './build/src/index.d.ts');
  assert.equal(manifest.exports['.'].types, manifest.types);
  await fs.access(path.join(installed, manifest.types));
  assert.equal(manifest.engines.node, ENGINES);
  assert.equal(manifest.sideEffects, false);
  assert.equal(manifest.scripts.prepare, undefined, 'npm 11 warns about prepare on every install');
  assert.match(manifest.scripts.prepack ?? '', /tsc/);
  assert.ok(manifest.keywords.includes('smtp'));
  for (const field of ['description', 'author', 'license'] as const)
    assert.equal(typeof manifest[field], 'string', field);
  const outside = packedFiles.filter(
    (file) => !/^(build\/src\/.*\.(js|js\.map|d\.ts)|src\/.*\.ts|LICENSE|README\.md|package\.json)$/.test(file),
  );
  assert.deepEqual(outside, [], 'only the build of src/, the sources its maps name, and the usual three');
});

test('require() from a CommonJS script (Node 20.19+, 22.12+) gets the exports', async () => {
  await fs.writeFile(
    path.join(project, 'required.cjs'),
    `const { sendMail, SmtpProtocolError, ERROR_CODES } = require('smtpmail');
sendMail('Subject: hi\\n\\nhi\\n', { port: 0 }).catch((error) => {
  console.log(JSON.stringify({ ok: error instanceof SmtpProtocolError, code: error.code, known: ERROR_CODES.length }));
});
`,
  );
  const { stdout } = await node(['required.cjs']);
  const known = ((await entry())['ERROR_CODES'] as readonly string[]).length;
  assert.deepEqual(lastJson(stdout), { ok: true, code: 'ECONFIG', known });
});

test('import from an ES module; the entry points whose options are optional run without them', async () => {
  await fs.writeFile(
    path.join(project, 'imported.mjs'),
    `import { createPool, checkServer, sendQueuedMail, SmtpClient, SmtpProtocolError } from 'smtpmail';
const code = (error) => (error instanceof SmtpProtocolError ? error.code : String(error));
const pool = createPool(); // the server from SMTPSERVER; nothing connects before a send
await pool.close();
new SmtpClient().close();
const report = await sendQueuedMail(); // ~/Mail/queued-mail does not exist: nothing to send
delete process.env.SMTPSERVER;
const unconfigured = await checkServer().then(() => 'resolved', code);
const noPool = (() => { try { createPool(); return 'created'; } catch (error) { return code(error); } })();
console.log(JSON.stringify({ sent: report.sent.length, queued: report.queued.length, unconfigured, noPool }));
`,
  );
  const { stdout } = await node(['imported.mjs'], { SMTPSERVER: '127.0.0.1' });
  assert.deepEqual(lastJson(stdout), { sent: 0, queued: 0, unconfigured: 'ECONFIG', noPool: 'ECONFIG' });
});

test('with --enable-source-maps, a stack trace names .ts files that ship in the package', async () => {
  await fs.writeFile(
    path.join(project, 'stack.mjs'),
    `import { sendMail } from 'smtpmail';
await sendMail('Subject: hi\\n\\nhi\\n', { port: 0 }).catch((error) => console.log(error.stack));
`,
  );
  const { stdout } = await node(['--enable-source-maps', 'stack.mjs']);
  const frames = [...stdout.matchAll(/\((?:file:\/\/)?(\/[^():]+\.[jt]s):\d+:\d+\)/g)].map((m) => m[1] as string);
  const ours = frames.filter((file) => file.startsWith(`${installed}${path.sep}`));
  assert.ok(ours.length >= 2, stdout);
  for (const file of ours) {
    assert.match(path.relative(installed, file), /^src\/.*\.ts$/, stdout);
    await fs.access(file);
  }
  assert.ok(ours.includes(path.join(installed, 'src', 'send.ts')), stdout);
});

test('every function the entry exports has a doc comment in the packed .d.ts, on each overload', async () => {
  const api = await entry();
  const functions = Object.keys(api).filter((name) => {
    const value = api[name];
    return typeof value === 'function' && !Function.prototype.toString.call(value).startsWith('class');
  });
  assert.ok(functions.length >= 7, functions.join());
  const declarations = path.join(installed, 'build', 'src');
  const index = await fs.readFile(path.join(declarations, 'index.d.ts'), 'utf8');
  const undocumented: string[] = [];
  for (const name of functions) {
    const from = [...index.matchAll(/export\s*\{([^}]*)\}\s*from\s*'([^']+)'/g)].find((m) =>
      (m[1] as string).split(',').some((part) => part.trim() === name),
    )?.[2];
    assert.ok(from !== undefined, `index.d.ts re-exports ${name}`);
    const file = path.join(declarations, from.replace(/\.js$/, '.d.ts'));
    const text = await fs.readFile(file, 'utf8');
    const declared = [...text.matchAll(new RegExp(`^export declare function ${name}\\b`, 'gm'))];
    assert.ok(declared.length > 0, `${file} declares ${name}`);
    for (const match of declared) {
      const before = text.slice(0, match.index).trimEnd();
      const doc = before.slice(before.lastIndexOf('/**'));
      // Directly before it (whitespace only), one `/** ... */` block: not a `/* */` comment after some other doc.
      if (!before.endsWith('*/') || before.lastIndexOf('/**') < 0 || doc.indexOf('*/') !== doc.length - 2)
        undocumented.push(`${name} (${path.relative(installed, file)}, overload ${declared.indexOf(match) + 1})`);
    }
  }
  assert.deepEqual(undocumented, []);
});

// The two type checks take most of this file's time: they run at once.
describe('TypeScript consumers of the packed package', { concurrency: 2 }, () => {
  test('TypeScript with moduleResolution node10 finds the types (package.json "types")', async () => {
    await fs.writeFile(
      path.join(project, 'node10.ts'),
      `import { sendMail, type SendResult } from 'smtpmail';
export const sent: Promise<SendResult> = sendMail('Subject: hi\\n\\nhi\\n', { streamType: 'starttls' });
// @ts-expect-error a misspelt stream type (with types that were any, this line would compile)
export const refused = sendMail('', { streamType: 'startls' });
`,
    );
    await typeCheck('node10', { module: 'commonjs', moduleResolution: 'node10' }, 'node10.ts');
  });

  test('TypeScript with moduleResolution nodenext: test/types/consumer.ts pins the public types', async () => {
    const consumer = await fs.readFile(path.join(ROOT, 'test', 'types', 'consumer.ts'), 'utf8');
    const names = (list: string): string[] =>
      list
        .split(',')
        .map((part) => part.trim().replace(/^type\s+/, ''))
        .filter((name) => name !== '');
    const imported = names(consumer.match(/import \{([^}]*)\} from 'smtpmail'/)?.[1] ?? '');
    const index = await fs.readFile(path.join(installed, 'build', 'src', 'index.d.ts'), 'utf8');
    const exported = [...index.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) => names(m[1] as string));
    assert.deepEqual(imported.sort(), exported.sort(), 'the consumer imports every name the entry exports');
    await fs.writeFile(path.join(project, 'consumer.ts'), consumer);
    await typeCheck('nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, 'consumer.ts');
  });
});

/** The installed package's entry, imported by this process. */
async function entry(): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(path.join(installed, 'build', 'src', 'index.js')).href)) as Record<
    string,
    unknown
  >;
}

/**
 * `tsc --noEmit` on one consumer file with strict settings and `resolution`; fails with tsc's output. Node's types
 * come from this repository (the package's declarations use Buffer and NodeJS types, as any Node library's do).
 */
async function typeCheck(name: string, resolution: Record<string, string>, file: string): Promise<void> {
  const config = {
    compilerOptions: {
      ...resolution,
      target: 'ES2022',
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    },
    files: [file],
  };
  const configFile = path.join(project, `tsconfig.${name}.json`);
  await fs.writeFile(configFile, JSON.stringify(config));
  try {
    await exec(process.execPath, [TSC, '-p', configFile], { cwd: project, timeout: LIMIT_MS });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    assert.fail(`tsc (${name}) failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

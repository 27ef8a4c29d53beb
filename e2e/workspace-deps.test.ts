import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';

// Every workspace declares what it imports: a package another workspace happens to hoist into the
// root node_modules works on a developer's machine and breaks the image that installs one service
// (or a later `npm ci` that hoists differently). In the workspaces a service image installs with
// `npm ci --omit=dev -w …` (read from services/*/Dockerfile), what code outside tests imports at run
// time is a dependency, not a devDependency. Imports are read with TypeScript's parser (import,
// export … from, import(), require()); `import type` is not a run-time import.

type Manifest = {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

const SOURCE = /\.(?:ts|mts|cts|tsx|js|mjs|cjs)$/;
const SKIP = new Set(['node_modules', 'dist', 'build', 'coverage']);
const builtins = new Set(builtinModules);

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The package a bare specifier names ('@scope/name/sub' → '@scope/name'), or null (relative, builtin). */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  return builtins.has(name) ? null : name;
}

/** Test code, fixtures and build scripts may use devDependencies; everything else ships. */
const shipsWith = (file: string) =>
  !/(?:^|\/)(?:test|tests|scripts|fixtures)\//.test(file) &&
  !/\.test\.[a-z]+$/.test(file) &&
  !/(?:^|\/)(?:build|vitest\.config)\.[a-z]+$/.test(file);

/** The package names the service images install without dev dependencies. */
async function shippedWorkspaces(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const service of await readdir(join(ROOT, 'services'))) {
    const dockerfile = await readFile(join(ROOT, 'services', service, 'Dockerfile'), 'utf8').catch(() => '');
    for (const install of dockerfile.matchAll(/npm ci --omit=dev(?:[^\n]*\\\n)*[^\n]*/g))
      for (const m of install[0].matchAll(/-w (@[\w-]+\/[\w-]+)/g)) names.add(m[1] as string);
  }
  return names;
}

/** The packages a file imports: at run time, and in all (type-only imports too). */
function importsOf(source: string, fileName: string): { runtime: Set<string>; all: Set<string> } {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false);
  const runtime = new Set<string>();
  const all = new Set<string>();
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier)) return;
    const name = packageOf(specifier.text);
    if (name === null) return;
    all.add(name);
    if (!typeOnly) runtime.add(name);
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const everyNamedIsType =
        !!named &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly) &&
        !clause?.name;
      add(node.moduleSpecifier, !!clause && (clause.isTypeOnly || everyNamedIsType));
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg)) add(arg.literal, true);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { runtime, all };
}

async function workspaces(): Promise<string[]> {
  const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const dirs: string[] = [];
  for (const pattern of root.workspaces ?? []) {
    if (!pattern.endsWith('/*')) {
      dirs.push(join(ROOT, pattern));
      continue;
    }
    const parent = join(ROOT, pattern.slice(0, -2));
    for (const entry of await readdir(parent, { withFileTypes: true }))
      if (entry.isDirectory()) dirs.push(join(parent, entry.name));
  }
  return dirs;
}

it('packageOf names the package of a specifier', () => {
  expect(packageOf('@studylink/i18n')).toBe('@studylink/i18n');
  expect(packageOf('@koa/router/lib/x.js')).toBe('@koa/router');
  expect(packageOf('zod/v4')).toBe('zod');
  expect(packageOf('node:fs')).toBeNull();
  expect(packageOf('fs/promises')).toBeNull();
  expect(packageOf('./x.js')).toBeNull();
});

it('importsOf tells run-time imports from type-only ones', () => {
  const { runtime, all } = importsOf(
    [
      "import type { A } from 'a';",
      "import { type B } from 'b';",
      "import { type C, D } from 'c';",
      "import E from 'e';",
      "export { F } from 'f';",
      "export type { G } from 'g';",
      "const h = await import('h');",
      "type I = import('i').I;",
      "declare module 'j' {}",
      "import 'k/side-effect.js';",
    ].join('\n'),
    'x.ts',
  );
  expect([...runtime].sort()).toEqual(['c', 'e', 'f', 'h', 'k']);
  expect([...all].sort()).toEqual(['a', 'b', 'c', 'e', 'f', 'g', 'h', 'i', 'k']);
});

it('every workspace declares each package it imports, and shipped code none from devDependencies', async () => {
  const problems: string[] = [];
  const dirs = await workspaces();
  expect(dirs.length).toBeGreaterThan(5);
  const shipped = await shippedWorkspaces();
  expect(shipped).toContain('@studylink/export-service');
  expect(shipped).toContain('@studylink/token-service');
  for (const dir of dirs) {
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Manifest;
    } catch {
      continue;
    }
    const runtime = { ...manifest.dependencies, ...manifest.peerDependencies };
    const dev = manifest.devDependencies ?? {};
    for (const file of await filesUnder(dir)) {
      const rel = relative(dir, file);
      const imports = importsOf(await readFile(file, 'utf8'), file);
      for (const name of imports.all) {
        if (name === manifest.name || name.startsWith('@types/')) continue;
        const where = `${relative(ROOT, dir)}: ${name} (${rel})`;
        if (!(name in runtime) && !(name in dev)) problems.push(`${where} is not declared`);
        else if (
          !(name in runtime) &&
          imports.runtime.has(name) &&
          shipped.has(manifest.name) &&
          shipsWith(rel)
        )
          problems.push(`${where} ships but is a devDependency`);
      }
    }
  }
  expect([...new Set(problems)]).toEqual([]);
});

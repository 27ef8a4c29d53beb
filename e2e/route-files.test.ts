import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';

// A route file only translates HTTP: what another module takes from it is the router (or
// middleware) it builds, to mount, and the type of what that needs (`…Deps`). A constant, a type or a helper that others need lives in a
// module of its own (a route file used as a library couples every importer to its HTTP layer).

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Names imported from `*.routes.js` modules by a file: [module, name]. */
function routeImports(source: string, fileName: string): [string, string][] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, false);
  const found: [string, string][] = [];
  for (const node of file.statements) {
    if (!ts.isImportDeclaration(node) || !ts.isStringLiteral(node.moduleSpecifier)) continue;
    const from = node.moduleSpecifier.text;
    if (!/\.routes\.js$/.test(from)) continue;
    const clause = node.importClause;
    if (clause?.name) found.push([from, 'default']);
    const named = clause?.namedBindings;
    if (named && ts.isNamespaceImport(named)) found.push([from, '*']);
    if (named && ts.isNamedImports(named))
      for (const e of named.elements) found.push([from, (e.propertyName ?? e.name).text]);
  }
  return found;
}

it('routeImports reads what a file takes from route files', () => {
  expect(
    routeImports(
      "import { fooRoutes, BAR } from './a.routes.js';\nimport * as x from './b.routes.js';\nimport { y } from './c.js';",
      'x.ts',
    ),
  ).toEqual([
    ['./a.routes.js', 'fooRoutes'],
    ['./a.routes.js', 'BAR'],
    ['./b.routes.js', '*'],
  ]);
});

it('nothing but a router or middleware is imported from a route file, in either service', async () => {
  const misuse: string[] = [];
  for (const service of ['token-service', 'export-service']) {
    const dir = join(ROOT, 'services', service, 'src');
    for (const file of await sources(dir)) {
      if (file.endsWith('.test.ts')) continue;
      for (const [from, name] of routeImports(await readFile(file, 'utf8'), file))
        if (!/^(?:[a-z]\w*(?:Routes|Router|Middleware)|[A-Z]\w*Deps)$/.test(name))
          misuse.push(`${relative(ROOT, file)} takes ${name} from ${from}`);
    }
  }
  expect(misuse).toEqual([]);
});

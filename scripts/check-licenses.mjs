#!/usr/bin/env node
// CI: the licences of everything the product ships. For every workspace that ships (the services and
// the browser packages: every workspace but the test kit and the e2e suite), `npm ls --omit=dev`
// lists its production dependency tree; each package's licence (package.json `license`, SPDX) must
// be one hospitals can ship in a closed or open product alike. GPL, AGPL, LGPL, SSPL, any other
// licence and no licence at all fail the check. An SPDX expression passes when every AND part has
// an allowed alternative (OR).
//
//   node scripts/check-licenses.mjs [--json]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Permissive licences (SPDX ids): no copyleft obligations on what links them. */
export const ALLOWED = new Set([
  'MIT',
  'MIT-0',
  'ISC',
  'BSD-2-Clause',
  'BSD-3-Clause',
  '0BSD',
  'Apache-2.0',
  'BlueOak-1.0.0',
  'CC0-1.0',
  'CC-BY-4.0',
  'Unlicense',
  'Python-2.0',
  'Zlib',
  'BSL-1.0',
]);

/** Workspaces that are not shipped. */
const NOT_SHIPPED = new Set(['packages/testkit', 'e2e']);

/**
 * 'ok' or why not, for a package.json licence value (SPDX expression, legacy object or array).
 * @example judge('(MIT OR GPL-3.0)') // 'ok'
 */
export function judge(license) {
  if (license === undefined || license === null || license === '') return 'no licence';
  if (Array.isArray(license)) return judge(license.map((l) => l.type ?? l).join(' OR '));
  if (typeof license === 'object') return judge(license.type);
  const text = String(license).trim();
  if (/^SEE LICEN[CS]E IN /i.test(text) || /^UNLICENSED$/i.test(text)) return `not an open licence (${text})`;
  const expr = text.replace(/^\((.*)\)$/, '$1');
  // AND binds tighter than OR (SPDX): every AND group needs one allowed alternative in it.
  const alternatives = expr.split(/\s+OR\s+/i);
  for (const alt of alternatives) {
    const parts = alt
      .replace(/[()]/g, '')
      .split(/\s+AND\s+/i)
      .map((p) => p.trim().replace(/\+$/, ''));
    if (parts.every((p) => ALLOWED.has(p))) return 'ok';
  }
  if (/\b(A|L)?GPL|SSPL|EUPL|OSL|MPL/i.test(text)) return `copyleft (${text})`;
  return `not on the allowed list (${text})`;
}

/** The workspaces that ship. */
export function shippedWorkspaces(root = ROOT) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return pkg.workspaces
    .flatMap((w) =>
      w.endsWith('/*')
        ? readdirSync(join(root, w.slice(0, -2)), { withFileTypes: true })
            .filter((d) => d.isDirectory() && existsSync(join(root, w.slice(0, -2), d.name, 'package.json')))
            .map((d) => `${w.slice(0, -2)}/${d.name}`)
        : [w],
    )
    .filter((w) => !NOT_SHIPPED.has(w));
}

/** Every production dependency of the shipped workspaces: name, version, path, licence. */
export function shippedPackages(root = ROOT) {
  const args = ['ls', '--omit=dev', '--all', '--long', '--json'];
  for (const w of shippedWorkspaces(root)) args.push('-w', w);
  const res = spawnSync('npm', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (!res.stdout) throw new Error(`npm ls failed: ${res.stderr}`);
  const tree = JSON.parse(res.stdout);
  const found = new Map();
  const walk = (node) => {
    for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
      const key = `${name}@${dep.version}`;
      if (found.has(key) || !dep.path) continue;
      const manifest = JSON.parse(readFileSync(join(dep.path, 'package.json'), 'utf8'));
      found.set(key, {
        name,
        version: dep.version,
        license: manifest.license ?? manifest.licenses,
        own: name.startsWith('@studylink/'),
      });
      walk(dep);
    }
  };
  walk(tree);
  return [...found.values()];
}

export function main(root = ROOT, out = process.stdout) {
  const packages = shippedPackages(root).filter((p) => !p.own);
  const bad = packages.map((p) => ({ ...p, verdict: judge(p.license) })).filter((p) => p.verdict !== 'ok');
  if (process.argv.includes('--json')) out.write(`${JSON.stringify(packages, null, 2)}\n`);
  const counts = {};
  for (const p of packages) {
    const l = typeof p.license === 'string' ? p.license : JSON.stringify(p.license);
    counts[l] = (counts[l] ?? 0) + 1;
  }
  out.write(
    `licences of ${packages.length} shipped packages (${shippedWorkspaces(root).join(', ')}): ${Object.entries(
      counts,
    )
      .sort((a, b) => b[1] - a[1])
      .map(([l, n]) => `${l} ${n}`)
      .join(', ')}\n`,
  );
  for (const p of bad) out.write(`  FAIL ${p.name}@${p.version}: ${p.verdict}\n`);
  if (bad.length > 0)
    out.write(`check-licenses: ${bad.length} package(s) with a licence that may not ship\n`);
  else out.write('check-licenses: every shipped package has an allowed licence\n');
  return bad.length === 0 ? 0 : 1;
}

const entry = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (entry) process.exitCode = main();

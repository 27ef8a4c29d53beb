import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { judge, main, shippedPackages, shippedWorkspaces } from '../scripts/check-licenses.mjs';
import { ROOT } from '../scripts/stack.mjs';

// The CI licence check of what ships (scripts/check-licenses.mjs).
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('licence check', () => {
  it.each([
    ['MIT', 'ok'],
    ['Apache-2.0', 'ok'],
    ['(MIT OR GPL-3.0-or-later)', 'ok'],
    ['(MIT AND Zlib)', 'ok'],
    ['GPL-3.0', 'copyleft'],
    ['AGPL-3.0-only', 'copyleft'],
    ['LGPL-2.1', 'copyleft'],
    ['(MIT AND GPL-2.0)', 'copyleft'],
    ['SEE LICENSE IN LICENSE.md', 'not an open licence'],
    [undefined, 'no licence'],
    ['WTFPL', 'not on the allowed list'],
  ])('%s: %s', (license, verdict) => {
    expect(judge(license)).toMatch(new RegExp(`^${verdict.replace(/[()]/g, '\\$&')}`));
  });

  it('covers the services and the shared packages, not the test kit, and passes on this tree', () => {
    const workspaces = shippedWorkspaces(ROOT);
    expect(workspaces).toEqual(expect.arrayContaining(['services/token-service', 'services/export-service']));
    expect(workspaces).not.toContain('packages/testkit');
    const names = (shippedPackages(ROOT) as Array<{ name: string }>).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['koa', 'pg', 'zip-stream']));
    expect(names).not.toContain('vitest');
    expect(main(ROOT, { write: () => true })).toBe(0);
  });

  it('fails on a GPL dependency of a shipped workspace', async () => {
    const root = await mkdtemp(join(tmpdir(), 'studylink-licences-'));
    dirs.push(root);
    const write = async (path: string, json: object) => {
      await mkdir(join(root, path), { recursive: true });
      await writeFile(join(root, path, 'package.json'), JSON.stringify(json));
    };
    await write('.', { name: 'fixture', private: true, workspaces: ['services/*'] });
    await write('services/app', { name: 'app', version: '1.0.0', dependencies: { copyleft: '1.0.0' } });
    await write('node_modules/copyleft', { name: 'copyleft', version: '1.0.0', license: 'GPL-3.0-only' });
    await symlink(join(root, 'services/app'), join(root, 'node_modules/app'));
    const lines: string[] = [];
    expect(main(root, { write: (s: string) => lines.push(s) })).toBe(1);
    expect(lines.join('')).toContain('FAIL copyleft@1.0.0: copyleft (GPL-3.0-only)');
  });
});

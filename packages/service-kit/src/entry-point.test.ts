import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isEntryPoint } from './entry-point.js';

let dir: string;
let script: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'studylink entry point ä '));
  script = join(dir, 'main file.js');
  await writeFile(script, '');
  await symlink(script, join(dir, 'linked.js'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('recognises the started script when its path has spaces and non-ASCII characters', () => {
  const url = pathToFileURL(script).href;
  expect(url).toContain('%20');
  // The check it replaces says no here.
  expect(url === `file://${script}`).toBe(false);
  expect(isEntryPoint(url, script)).toBe(true);
});

it('recognises it when node was started through a symlink', () => {
  expect(isEntryPoint(pathToFileURL(script).href, join(dir, 'linked.js'))).toBe(true);
});

it('says no for another script, a missing one and no argv[1] (a REPL)', () => {
  expect(isEntryPoint(pathToFileURL(script).href, join(dir, 'other.js'))).toBe(false);
  expect(isEntryPoint(pathToFileURL(join(dir, 'gone.js')).href, script)).toBe(false);
  expect(isEntryPoint(pathToFileURL(script).href, undefined)).toBe(false);
});

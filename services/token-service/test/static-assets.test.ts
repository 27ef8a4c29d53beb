import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type StaffHarness, startStaffHarness } from './staff.harness.js';

// The stylesheets and the staff script are real files (biome formats and lints them), served as they
// are on disk (each stylesheet followed by the shared script-fonts.css), and the image carries them
// next to dist/.
const asset = (name: string) => readFile(new URL(`../assets/${name}`, import.meta.url), 'utf8');
let h: StaffHarness;
beforeAll(async () => {
  h = await startStaffHarness();
});
afterAll(async () => {
  await h?.close();
});

it.each([
  ['/assets/patient.css', ['patient.css', 'script-fonts.css'], 'text/css; charset=utf-8'],
  ['/staff/assets/staff.css', ['staff.css', 'script-fonts.css'], 'text/css; charset=utf-8'],
  ['/staff/assets/staff.js', ['staff.js'], 'text/javascript; charset=utf-8'],
])('%s is services/token-service/assets/%s byte for byte', async (path, files, type) => {
  const res = await fetch(`${h.url}${path}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(type);
  const body = await res.text();
  expect(body.length).toBeGreaterThan(500);
  expect(body).toBe((await Promise.all(files.map(asset))).join('\n'));
});

it('the token-service image copies the assets folder', async () => {
  const dockerfile = await readFile(new URL('../Dockerfile', import.meta.url), 'utf8');
  expect(dockerfile).toMatch(/^COPY services\/token-service\/assets\/ services\/token-service\/assets\/$/m);
});

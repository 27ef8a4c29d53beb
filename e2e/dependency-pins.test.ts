import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';

// packages/dicom-media's zip writer overrides and calls private methods of compress-commons (through
// zip-stream's ZipStream). The root package.json pins both to exact versions (`overrides`); this
// test fails when an upgrade moves either or removes a private method the writer relies on.
const require = createRequire(join(ROOT, 'packages/dicom-media/package.json'));

/** The package.json of an installed package (its `exports` may not list it). */
async function packageJsonOf(name: string): Promise<string> {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const candidate = join(dir, 'package.json');
    try {
      if (JSON.parse(await readFile(candidate, 'utf8')).name === name) return candidate;
    } catch {
      // no package.json here
    }
    if (dirname(dir) === dir) throw new Error(`no package.json of ${name}`);
    dir = dirname(dir);
  }
}

it('zip-stream and compress-commons are the pinned versions', async () => {
  const pins = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).overrides;
  for (const name of ['zip-stream', 'compress-commons']) {
    expect(pins[name], name).toMatch(/^\d+\.\d+\.\d+$/);
    const manifest = JSON.parse(await readFile(await packageJsonOf(name), 'utf8'));
    expect(manifest.version, name).toBe(pins[name]);
  }
});

it('every private member the zip writer touches exists in that compress-commons', async () => {
  const source = await readFile(join(ROOT, 'packages/dicom-media/src/study-zip.writer.ts'), 'utf8');
  const used = [
    ...new Set(
      [
        ...source.matchAll(/\b(?:this|super)\.(_[A-Za-z0-9]+|isZip64)\b/g),
        ...source.matchAll(/\boverride\s+(_[A-Za-z0-9]+)\s*\(/g),
      ].map((m) => m[1] as string),
    ),
  ];
  expect(used).toEqual(expect.arrayContaining(['_smartStream', '_finish', '_writeCentralFileHeader']));
  const { default: ZipStream } = (await import(require.resolve('zip-stream'))) as {
    default: new () => Record<string, unknown>;
  };
  const { ZipArchiveOutputStream } = (await import(require.resolve('compress-commons'))) as {
    ZipArchiveOutputStream: new () => object;
  };
  expect(ZipStream.prototype instanceof ZipArchiveOutputStream).toBe(true);
  const proto = ZipArchiveOutputStream.prototype as Record<string, unknown>;
  const instance = new ZipStream();
  for (const member of used)
    expect(typeof proto[member] === 'function' || member in instance, member).toBe(true);
});

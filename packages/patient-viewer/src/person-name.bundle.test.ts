import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The one person-name formatter (@studylink/i18n/person-name) must stay importable by this bundle
// without pulling in the catalogues or anything of Node's, so the first-image script stays small.
describe('the person-name formatter in the browser bundle', () => {
  it('bundles for the browser on its own: no Node built-in, no catalogue, under 3 kB minified', async () => {
    const out = await build({
      entryPoints: [decodeURIComponent(new URL('../../i18n/src/person-name.ts', import.meta.url).pathname)],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['chrome110', 'firefox115', 'safari16'],
      minify: true,
      metafile: true,
    });
    expect(Object.keys(out.metafile.inputs)).toEqual([expect.stringMatching(/i18n\/src\/person-name\.ts$/)]);
    const bytes = out.outputFiles[0]?.contents.byteLength ?? Number.POSITIVE_INFINITY;
    expect(bytes).toBeLessThan(3_000);
    // And it runs there as it does here.
    const mod = await import(`data:text/javascript,${encodeURIComponent(out.outputFiles[0]?.text ?? '')}`);
    expect(mod.formatPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう', { lang: 'ja' })).toBe('山田太郎');
  });
});

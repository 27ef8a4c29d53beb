// Bundles the viewer into dist/<hash>/ (script, worker, stylesheet, WebAssembly codecs, licences) and
// writes dist/manifest.json, which the token service reads to serve and link them. Run by `make build`.
// Every file's URL holds the content hash of the whole bundle, so each can be cached for a year.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const staging = join(dist, '.staging');
const require = createRequire(import.meta.url);
// A package's folder, found the way Node looks for it (some packages do not export ./package.json).
const pkgDir = (name) => {
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`patient-viewer: ${name} is not installed`);
  }
};
const loaderDir = join(dirname(require.resolve('@cornerstonejs/dicom-image-loader')));

// Licences a hospital may ship in a web page it modifies and serves; anything else fails the build.
const ALLOWED_LICENCES = new Set([
  'MIT',
  'ISC',
  'BSD-2-Clause',
  'BSD-3-Clause',
  'Apache-2.0',
  '0BSD',
  'Zlib',
  'BSL-1.0',
]);
// The codecs the decoder worker may fetch (dicom-image-loader resolves them by these names under wasmBasePath).
const WASM = [
  ['@cornerstonejs/codec-charls', 'dist/charlswasm_decode.wasm'],
  ['@cornerstonejs/codec-openjpeg', 'dist/openjpegwasm_decode.wasm'],
  ['@cornerstonejs/codec-libjpeg-turbo-8bit', 'dist/libjpegturbowasm_decode.wasm'],
  ['@cornerstonejs/codec-openjph', 'dist/openjphjs.wasm'],
  ['@cornerstonejs/codec-libjxl', 'dist/jpegxlwasm_decode.wasm'],
];

await rm(dist, { recursive: true, force: true });
await mkdir(staging, { recursive: true });

// Emscripten's codec glue reaches for Node built-ins only when it runs under Node: empty here.
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(fs|path|crypto|module|url|worker_threads|zlib|util|os)$/ }, (a) => ({
      path: a.path,
      namespace: 'empty',
    }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({
      contents: 'module.exports = {};',
      loader: 'js',
    }));
  },
};
const common = {
  outdir: staging,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  plugins: [noNodeBuiltins],
  define: { 'process.env.NODE_ENV': '"production"' },
};
// The page's script is split (ESM chunks): `viewer.js` (boot.ts) is small and shows the first image;
// the interactive viewer (core.ts, Cornerstone3D: most of the code) is a chunk it imports afterwards.
const page = await esbuild.build({
  ...common,
  entryPoints: { viewer: join(here, 'src/boot.ts'), 'viewer-style': join(here, 'src/viewer.css') },
  splitting: true,
  chunkNames: 'chunk-[hash]',
});
// dicom-image-loader starts its decoders with new Worker(new URL('./decodeImageFrameWorker.js',
// import.meta.url)): the worker is built on its own (no chunks), under that name, next to the script.
const worker = await esbuild.build({
  ...common,
  entryPoints: { decodeImageFrameWorker: join(loaderDir, 'decodeImageFrameWorker.js') },
});
const result = { metafile: { inputs: { ...page.metafile.inputs, ...worker.metafile.inputs } } };
for (const [pkg, file] of WASM) await copyFile(join(pkgDir(pkg), file), join(staging, file.split('/').pop()));

// Licences of every package that ended up in the bundle.
const packages = new Map();
const inputs = [
  ...Object.keys(result.metafile.inputs),
  ...WASM.map(([pkg, file]) => relative(process.cwd(), join(pkgDir(pkg), file))),
];
for (const input of inputs) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input.replaceAll('\\', '/'));
  if (!m || packages.has(m[1])) continue;
  const dir = join(process.cwd(), input.slice(0, m.index + m[0].length));
  const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  const licence = typeof meta.license === 'string' ? meta.license : (meta.license?.type ?? 'UNKNOWN');
  let text = '';
  for (const name of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'LICENCE', 'LICENSE-MIT']) {
    text = await readFile(join(dir, name), 'utf8').catch(() => '');
    if (text) break;
  }
  packages.set(m[1], { version: meta.version, licence, text });
}
const refused = [...packages].filter(
  ([, p]) => !p.licence.split(/ OR |[()]/).some((l) => ALLOWED_LICENCES.has(l.trim())),
);
if (refused.length > 0) {
  console.error(
    `patient-viewer: licences not allowed in the bundle: ${refused.map(([n, p]) => `${n} (${p.licence})`).join(', ')}`,
  );
  process.exit(1);
}
const notices = [...packages]
  .sort(([a], [b]) => a.localeCompare(b))
  .map(
    ([name, p]) =>
      `${name} ${p.version} (${p.licence})\n\n${p.text.trim() || '(no licence file in the package)'}\n`,
  )
  .join(`\n${'-'.repeat(72)}\n\n`);
await writeFile(join(staging, 'THIRD-PARTY-LICENSES.txt'), notices);

// The chunks viewer.js imports statically: the page asks for them with it (modulepreload), not after it.
const entry = Object.entries(page.metafile.outputs).find(([, o]) => o.entryPoint?.endsWith('src/boot.ts'));
const preload = (entry?.[1].imports ?? [])
  .filter((i) => i.kind === 'import-statement')
  .map((i) => i.path.split('/').pop());

// One hash over every file names the folder.
const files = (await readdir(staging)).sort();
const hash = createHash('sha256');
for (const f of files) hash.update(f).update(await readFile(join(staging, f)));
const digest = BigInt(`0x${hash.digest('hex').slice(0, 16)}`)
  .toString(36)
  .padStart(8, '0');
await rename(staging, join(dist, digest));
await writeFile(
  join(dist, 'manifest.json'),
  `${JSON.stringify({ hash: digest, script: 'viewer.js', style: 'viewer-style.css', preload }, null, 2)}\n`,
);

let total = 0;
const sizes = [];
for (const f of files) {
  const { size } = await stat(join(dist, digest, f));
  total += size;
  sizes.push(`${f} ${(size / 1024).toFixed(0)} KiB`);
}
console.log(
  `patient-viewer: dist/${digest}/ ${(total / 1024 / 1024).toFixed(2)} MiB (${sizes.join(', ')}); ${packages.size} packages, licences ${[...new Set([...packages.values()].map((p) => p.licence))].join(', ')}`,
);

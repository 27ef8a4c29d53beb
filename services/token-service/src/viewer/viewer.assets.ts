import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** What `make build` writes next to the bundle (packages/patient-viewer/build.mjs). */
const manifestSchema = z.object({
  /** The content hash that names the bundle's folder: every file below it is immutable. */
  hash: z.string().regex(/^[a-z0-9]{8,32}$/),
  script: z.string().regex(/^[A-Za-z0-9._-]+\.js$/),
  style: z.string().regex(/^[A-Za-z0-9._-]+\.css$/),
  /** Chunks the script imports statically: linked with it (modulepreload), so they load in parallel. */
  preload: z
    .array(z.string().regex(/^[A-Za-z0-9._-]+\.js$/))
    .max(20)
    .default([]),
});

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** The built viewer, held in memory: a few MB, served as they are by `/assets/viewer/<hash>/<file>`. */
export interface ViewerAssets {
  /** Public URL of the bundle's folder, e.g. `/assets/viewer/3kq9d8x2/`. */
  base: string;
  scriptUrl: string;
  styleUrl: string;
  /** URLs of the chunks the script imports statically. */
  preloadUrls: string[];
  files: ReadonlyMap<string, { body: Buffer; type: string }>;
}

export const VIEWER_ASSET_PREFIX = '/assets/viewer/';

/**
 * The dist folder of the packages/patient-viewer workspace, from this file's place in the repository
 * (src/viewer/ in tests, dist/viewer/ when built; the Docker image keeps the same layout).
 */
export function defaultViewerDistDir(): string {
  return fileURLToPath(new URL('../../../../packages/patient-viewer/dist', import.meta.url));
}

/**
 * Reads the viewer bundle that `make build` made; null when there is none (the viewer page then
 * says it is unavailable, and everything else works).
 * @example const viewer = await loadViewerAssets(defaultViewerDistDir());
 */
export async function loadViewerAssets(distDir: string): Promise<ViewerAssets | null> {
  let manifest: z.infer<typeof manifestSchema>;
  try {
    manifest = manifestSchema.parse(JSON.parse(await readFile(join(distDir, 'manifest.json'), 'utf8')));
  } catch {
    return null;
  }
  const dir = join(distDir, manifest.hash);
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of await readdir(dir)) {
    const type = TYPES[extname(name)];
    if (type && /^[A-Za-z0-9._-]+$/.test(name))
      files.set(name, { body: await readFile(join(dir, name)), type });
  }
  if (!files.has(manifest.script) || !files.has(manifest.style)) return null;
  const base = `${VIEWER_ASSET_PREFIX}${manifest.hash}/`;
  return {
    base,
    scriptUrl: base + manifest.script,
    styleUrl: base + manifest.style,
    preloadUrls: manifest.preload.filter((f) => files.has(f)).map((f) => base + f),
    files,
  };
}

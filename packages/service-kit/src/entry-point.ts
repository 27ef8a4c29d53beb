import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when the module at `moduleUrl` (pass `import.meta.url`) is the script node was started
 * with. Compares real paths, so it holds when the path has spaces or other characters a URL
 * escapes, and when either side is a symlink (`import.meta.url === \`file://${argv[1]}\`` does not).
 * @example if (isEntryPoint(import.meta.url)) await main();
 */
export function isEntryPoint(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(argv1);
  } catch {
    return false;
  }
}

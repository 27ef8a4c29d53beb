/**
 * How a series' pixels reach the screen, tried in this order when one fails: `wadors` (its frames as
 * stored, decoded here), `instance` (each file whole, as stored, parsed and decoded here: for files
 * whose frames the store cannot cut out, such as Orthanc with big endian and deflated ones),
 * `rendered` (the store's own rendering of each frame, a PNG: for what the browser cannot decode).
 */
export type PixelPath = 'wadors' | 'instance' | 'rendered';

/**
 * The path to try after `path` failed; null when none is left. A link that may not receive original
 * files (view-only, or its downloads used up: the page says `data-original-files="no"`, the gateway
 * answers 403) goes from frames straight to the store's rendered frames.
 * @example nextPixelPath('wadors', false) // 'rendered'
 */
export function nextPixelPath(path: PixelPath, originalFiles: boolean): PixelPath | null {
  if (path === 'wadors') return originalFiles ? 'instance' : 'rendered';
  if (path === 'instance') return 'rendered';
  return null;
}

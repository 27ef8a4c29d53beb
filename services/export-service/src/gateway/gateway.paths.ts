import type Router from '@koa/router';
import { DICOMWEB_GATEWAY_PREFIX } from '@studylink/contracts';
import { isDicomUid } from '@studylink/dicomweb';
import { createRouter } from '@studylink/service-kit';

/** Where the viewer's token-scoped DICOMweb gateway lives on the public origin. */
export const GATEWAY_PREFIX = DICOMWEB_GATEWAY_PREFIX;

/**
 * The gateway's resources as route templates, for the route walks (`recordRoutes`): the gateway
 * itself dispatches with parseGatewayPath, not with these patterns, so this router is never mounted.
 */
export function gatewayRouteTemplates(): Router {
  const r = createRouter();
  const study = `${GATEWAY_PREFIX}studies/:studyInstanceUid`;
  const instance = `${study}/series/:series/instances/:instance`;
  for (const path of [
    study,
    `${study}/series/:series`,
    `${study}/series`,
    `${study}/metadata`,
    `${study}/instances`,
    `${study}/series/:series/metadata`,
    `${study}/series/:series/instances`,
    instance,
    `${instance}/frames/:frames`,
    `${instance}/rendered`,
    `${instance}/thumbnail`,
    `${instance}/frames/:frames/rendered`,
    `${instance}/frames/:frames/thumbnail`,
  ])
    r.get(path, () => {});
  return r;
}

export type GatewayResourceKind =
  | 'series_search'
  | 'instance_search'
  | 'study_metadata'
  | 'series_metadata'
  | 'study_retrieve'
  | 'series_retrieve'
  | 'instance'
  | 'frames'
  | 'rendered'
  | 'thumbnail';

/**
 * The resources answered with original DICOM files (`application/dicom`, as stored): only for a link
 * whose grant says `may.viewFiles`; a view-only or spent link gets 403 for each of them.
 */
export const ORIGINAL_FILE_KINDS: ReadonlySet<GatewayResourceKind> = new Set([
  'study_retrieve',
  'series_retrieve',
  'instance',
]);

/** One request of the gateway, parsed from its path: UIDs validated, frame numbers bounded. */
export interface GatewayResource {
  kind: GatewayResourceKind;
  study: string;
  series?: string;
  instance?: string;
  /** 1-based frame numbers of a frames request, or of a frame's rendered/thumbnail request. */
  frames?: number[];
  /** The path of the same resource on the store, relative to its DICOMweb root. */
  storePath: string;
}

const MAX_FRAMES_PER_REQUEST = 64;
const MAX_FRAME_NUMBER = 100_000;

/**
 * Parses a gateway path (below GATEWAY_PREFIX) into the one resource it names, or null when it names
 * none: the gateway's routing and its authorisation both start from this result, never from a looser
 * pattern. Segments are compared exactly (case and all); percent-encodings, empty or dot segments,
 * and a trailing slash name nothing.
 * @example parseGatewayPath('studies/1.2.3/series') // { kind: 'series_search', study: '1.2.3', ... }
 */
export function parseGatewayPath(rest: string): GatewayResource | null {
  const s = rest.split('/');
  if (s[0] !== 'studies' || !isDicomUid(s[1])) return null;
  const study = s[1];
  if (s.length === 2) return { kind: 'study_retrieve', study, storePath: `/studies/${study}` };
  if (s.length === 3) {
    if (s[2] === 'series') return { kind: 'series_search', study, storePath: `/studies/${study}/series` };
    if (s[2] === 'metadata')
      return { kind: 'study_metadata', study, storePath: `/studies/${study}/metadata` };
    if (s[2] === 'instances')
      return { kind: 'instance_search', study, storePath: `/studies/${study}/instances` };
    return null;
  }
  if (s[2] !== 'series' || !isDicomUid(s[3])) return null;
  const series = s[3];
  const seriesPath = `/studies/${study}/series/${series}`;
  if (s.length === 4) return { kind: 'series_retrieve', study, series, storePath: seriesPath };
  if (s.length === 5) {
    if (s[4] === 'metadata')
      return { kind: 'series_metadata', study, series, storePath: `${seriesPath}/metadata` };
    if (s[4] === 'instances')
      return { kind: 'instance_search', study, series, storePath: `${seriesPath}/instances` };
    return null;
  }
  if (s[4] !== 'instances' || !isDicomUid(s[5])) return null;
  const instance = s[5];
  const instancePath = `${seriesPath}/instances/${instance}`;
  const base = { study, series, instance };
  if (s.length === 6) return { kind: 'instance', ...base, storePath: instancePath };
  if (s.length === 7) {
    if (s[6] === 'rendered' || s[6] === 'thumbnail')
      return { kind: s[6], ...base, storePath: `${instancePath}/${s[6]}` };
    return null;
  }
  if (s[6] !== 'frames' || s.length > 9) return null;
  const frames = parseFrameList(s[7] ?? '');
  if (!frames) return null;
  const framesPath = `${instancePath}/frames/${frames.join(',')}`;
  if (s.length === 8) return { kind: 'frames', ...base, frames, storePath: framesPath };
  // A rendered frame or its thumbnail: one frame only.
  if ((s[8] === 'rendered' || s[8] === 'thumbnail') && frames.length === 1)
    return { kind: s[8], ...base, frames, storePath: `${framesPath}/${s[8]}` };
  return null;
}

/** `1`, `1,2,5`: 1-based frame numbers, no zero, no leading zeros, at most 64 of them. */
function parseFrameList(value: string): number[] | null {
  const parts = value.split(',');
  if (parts.length > MAX_FRAMES_PER_REQUEST) return null;
  const frames: number[] = [];
  for (const p of parts) {
    if (!/^[1-9][0-9]{0,5}$/.test(p)) return null;
    const n = Number(p);
    if (n > MAX_FRAME_NUMBER) return null;
    frames.push(n);
  }
  return frames;
}

/** The gateway's relayed resources, by the media types their answers come in. */
export type RelayKind = 'frames' | 'instance' | 'rendered' | 'thumbnail';

// What the store may be asked for, per resource (one media range: Orthanc takes only one).
const FITS: Record<RelayKind, RegExp> = {
  frames:
    /^multipart\/related; ?type="?(application\/octet-stream|image\/(jpeg|jls|jp2|jpx|png|gif|dicom-rle|x-dicom-rle))"?(; ?transfer-syntax=(\*|[0-9.]{1,64}))?$/i,
  instance: /^multipart\/related; ?type="?application\/dicom"?(; ?transfer-syntax=(\*|[0-9.]{1,64}))?$/i,
  rendered: /^image\/(jpeg|png|gif)$/i,
  thumbnail: /^image\/(jpeg|png|gif)$/i,
};
/** What a resource is answered in when the client leaves the choice to the server. */
export const DEFAULT_ACCEPT: Record<RelayKind, string> = {
  frames: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
  instance: 'multipart/related; type="application/dicom"; transfer-syntax=*',
  rendered: 'image/png',
  thumbnail: 'image/jpeg',
};
const WILDCARDS: Record<RelayKind, RegExp> = {
  frames: /^(\*|\*\/\*|multipart\/\*|multipart\/related)$/i,
  instance: /^(\*|\*\/\*|multipart\/\*|multipart\/related)$/i,
  rendered: /^(\*|\*\/\*|image\/\*)$/i,
  thumbnail: /^(\*|\*\/\*|image\/\*)$/i,
};
const JSON_TYPES =
  /^(\*|\*\/\*|application\/\*|application\/json|application\/dicom\+json|multipart\/related; ?type="?application\/dicom\+json"?)$/i;

/** The media ranges of an Accept value, in order, without their weights; those weighted 0 are left out. */
function ranges(accept: string): string[] {
  const out: string[] = [];
  // Commas inside quoted parameters do not separate ranges.
  for (const part of accept.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const q = /;\s*q=([0-9.]+)\s*$/i.exec(part);
    if (q && Number(q[1]) === 0) continue;
    const range = (q ? part.slice(0, q.index) : part).trim().replace(/\s*;\s*/g, '; ');
    if (range) out.push(range);
  }
  return out;
}

/**
 * The one media range to ask the store for, from what the client accepts (the Accept header, or
 * PS3.18's `accept` query parameter where a link cannot set headers): the first range the resource
 * can be had in; a wildcard or nothing gets the resource's default; null when the client accepts
 * none of them (the gateway answers 406).
 * @example negotiateAccept('rendered', 'image/webp, image/jpeg;q=0.8') // 'image/jpeg'
 */
export function negotiateAccept(kind: RelayKind, accept: string): string | null {
  const asked = ranges(accept);
  if (asked.length === 0) return DEFAULT_ACCEPT[kind];
  for (const range of asked) {
    if (FITS[kind].test(range)) return range;
    if (WILDCARDS[kind].test(range)) return DEFAULT_ACCEPT[kind];
  }
  return null;
}

/** Whether a client that sent this Accept takes DICOM JSON (QIDO-RS and metadata answers). */
export function acceptsDicomJson(accept: string): boolean {
  const asked = ranges(accept);
  return asked.length === 0 || asked.some((r) => JSON_TYPES.test(r));
}

import type { DicomJsonObject } from '@studylink/dicomweb';

/**
 * DICOM JSON as the viewer may see it: no address of the store anywhere. Every `BulkDataURI` is
 * removed (the viewer asks the gateway's `frames` path for pixel data, built from UIDs), every
 * attribute of VR UR (RetrieveURL, RetrieveURI: links to the store) is dropped, and so is any other
 * string that holds `storeAddresses` (the store's origin, as configured and as it may spell it).
 * Returns a new array; the input is not changed.
 * @example scrubDicomJson(await store.retrieveMetadata(study), ['http://orthanc:8042'])
 */
export function scrubDicomJson(
  datasets: DicomJsonObject[],
  storeAddresses: readonly string[],
): DicomJsonObject[] {
  const needles = storeAddresses.filter((a) => a.length > 0).map((a) => a.toLowerCase());
  const leaks = (v: unknown) => typeof v === 'string' && needles.some((n) => v.toLowerCase().includes(n));
  const scrub = (ds: DicomJsonObject): DicomJsonObject => {
    const out: DicomJsonObject = {};
    for (const [tag, attr] of Object.entries(ds)) {
      if (!attr || typeof attr !== 'object' || attr.vr === 'UR') continue;
      const { BulkDataURI: _dropped, ...rest } = attr;
      if (rest.vr === 'SQ' && Array.isArray(rest.Value)) {
        out[tag] = {
          ...rest,
          Value: rest.Value.map((item) =>
            item && typeof item === 'object' ? scrub(item as DicomJsonObject) : item,
          ),
        };
        continue;
      }
      if (Array.isArray(rest.Value) && rest.Value.some(leaks)) continue;
      if (rest.Value?.some((v) => v && typeof v === 'object' && Object.values(v).some(leaks))) continue;
      out[tag] = rest;
    }
    return out;
  };
  return datasets.map(scrub);
}

/** The distinct string values of one tag across datasets (e.g. the SOP Instance UIDs of a series' metadata). */
export function tagValues(datasets: DicomJsonObject[], tag: string): string[] {
  const seen = new Set<string>();
  for (const ds of datasets) {
    const v = ds[tag]?.Value?.[0];
    if (typeof v === 'string') seen.add(v);
  }
  return [...seen];
}

/**
 * Frames per instance of a series' metadata (NumberOfFrames, 0028,0008; 1 when absent), by SOP
 * Instance UID: what a frame number is checked against.
 * @example frameCounts(datasets).get(sopUid) // 1 for a single-frame CT slice
 */
export function frameCounts(datasets: DicomJsonObject[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const ds of datasets) {
    const sop = ds['00080018']?.Value?.[0];
    if (typeof sop !== 'string') continue;
    const n = Number(ds['00280008']?.Value?.[0] ?? 1);
    out.set(sop, Number.isSafeInteger(n) && n >= 1 ? n : 1);
  }
  return out;
}

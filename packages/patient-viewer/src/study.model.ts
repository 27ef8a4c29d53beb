/** A DICOM JSON dataset as the gateway returns it. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] } | undefined>;

export interface ViewerInstance {
  sopInstanceUid: string;
  instanceNumber: number;
  frames: number;
  transferSyntaxUid: string;
  metadata: DicomJson;
}

export interface ViewerSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  modality: string;
  description: string;
  instances: ViewerInstance[];
  /** One entry per frame, in display order. */
  images: Array<{ instance: ViewerInstance; frame: number }>;
}

const str = (ds: DicomJson | undefined, tag: string): string => {
  const v = ds?.[tag]?.Value?.[0];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
};
const num = (ds: DicomJson | undefined, tag: string): number | undefined => {
  const v = ds?.[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** Modalities that carry no image a patient could look at. */
export const NON_IMAGE = new Set(['SR', 'PR', 'KO', 'RTSTRUCT', 'RTPLAN', 'REG', 'SEG', 'DOC', 'ECG']);

/** What a series without images is, as the strip names it (`viewer.nonImage.<kind>`). */
export type NonImageKind = 'SEG' | 'SR' | 'DOC' | 'KO' | 'PR' | 'other';

/** A series the strip lists without images (a segmentation, a report, a PDF...), with what it is. */
export interface OtherSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  modality: string;
  description: string;
  kind: NonImageKind;
}

const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';

/**
 * The series of the study that have no image to show, each with what it is: those of a non-image
 * modality, and those whose metadata (when known) holds no image; in series-number order.
 * @example otherSeries(seriesQido, metadataBySeries) // [{ modality: 'SEG', kind: 'SEG', ... }]
 */
export function otherSeries(seriesQido: DicomJson[], metadata: Map<string, DicomJson[]>): OtherSeries[] {
  const images = new Set(
    buildSeries(seriesQido, metadata)
      .filter((s) => s.images.length > 0)
      .map((s) => s.seriesInstanceUid),
  );
  const out: OtherSeries[] = [];
  for (const s of seriesQido) {
    const uid = str(s, '0020000E');
    const modality = str(s, '00080060');
    if (!uid || images.has(uid)) continue;
    const datasets = metadata.get(uid);
    if (!NON_IMAGE.has(modality) && datasets === undefined) continue;
    const pdf = datasets?.some((d) => str(d, '00080016') === ENCAPSULATED_PDF);
    const kind: NonImageKind = pdf
      ? 'DOC'
      : modality === 'SEG' ||
          modality === 'SR' ||
          modality === 'DOC' ||
          modality === 'KO' ||
          modality === 'PR'
        ? modality
        : 'other';
    out.push({
      seriesInstanceUid: uid,
      seriesNumber: num(s, '00200011') ?? 0,
      modality,
      description: str(s, '0008103E'),
      kind,
    });
  }
  return out.sort((a, b) => a.seriesNumber - b.seriesNumber);
}

/**
 * The series as the strip shows them (by series number), each with its instances in slice order:
 * along the normal of the image plane where positions are known, else by instance number; a
 * multi-frame instance gives one image per frame. Series with no pixel data are left out.
 * @example buildSeries(seriesQido, metadataBySeries)
 */
export function buildSeries(seriesQido: DicomJson[], metadata: Map<string, DicomJson[]>): ViewerSeries[] {
  const out: ViewerSeries[] = [];
  for (const s of seriesQido) {
    const uid = str(s, '0020000E');
    const modality = str(s, '00080060');
    if (!uid || NON_IMAGE.has(modality)) continue;
    const datasets = metadata.get(uid) ?? [];
    const instances = sortInstances(
      datasets
        .filter((ds) => ds['7FE00010'] !== undefined || ds['7FE00008'] !== undefined || num(ds, '00280010'))
        .map((ds) => ({
          sopInstanceUid: str(ds, '00080018'),
          instanceNumber: num(ds, '00200013') ?? 0,
          frames: Math.max(1, Math.floor(num(ds, '00280008') ?? 1)),
          transferSyntaxUid: str(ds, '00020010'),
          metadata: ds,
        }))
        .filter((i) => i.sopInstanceUid !== ''),
    );
    const images = instances.flatMap((instance) =>
      Array.from({ length: instance.frames }, (_, f) => ({ instance, frame: f + 1 })),
    );
    out.push({
      seriesInstanceUid: uid,
      seriesNumber: num(s, '00200011') ?? 0,
      modality,
      description: str(s, '0008103E'),
      instances,
      images,
    });
  }
  return out.sort((a, b) => a.seriesNumber - b.seriesNumber);
}

function sortInstances(list: ViewerInstance[]): ViewerInstance[] {
  const position = (i: ViewerInstance): number | undefined => {
    const ipp = i.metadata['00200032']?.Value?.map(Number);
    const iop = i.metadata['00200037']?.Value?.map(Number);
    if (!ipp || !iop || ipp.length !== 3 || iop.length !== 6 || [...ipp, ...iop].some(Number.isNaN)) return;
    const [a, b, c, d, e, f] = iop as [number, number, number, number, number, number];
    const normal = [b * f - c * e, c * d - a * f, a * e - b * d] as const;
    return (ipp[0] as number) * normal[0] + (ipp[1] as number) * normal[1] + (ipp[2] as number) * normal[2];
  };
  const all = list.map((i) => ({ i, p: position(i) }));
  const byPosition = all.every((x) => x.p !== undefined) && new Set(all.map((x) => x.p)).size === all.length;
  return all
    .sort((x, y) =>
      byPosition
        ? (y.p as number) - (x.p as number)
        : x.i.instanceNumber - y.i.instanceNumber || x.i.sopInstanceUid.localeCompare(y.i.sopInstanceUid),
    )
    .map((x) => x.i);
}

/**
 * The order images load in: the visible one, then outwards from it (next, previous, next...), so
 * scrolling from where the patient is finds images ready.
 * @example loadOrder(2, 5) // [2, 3, 1, 4, 0]
 */
export function loadOrder(visible: number, total: number): number[] {
  const order: number[] = [];
  for (let d = 0; order.length < total; d++) {
    if (visible + d < total) order.push(visible + d);
    if (d > 0 && visible - d >= 0) order.push(visible - d);
    if (visible + d >= total && visible - d < 0) break;
  }
  return order;
}

import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import { buildDicomdir, type DicomdirInstance, type DicomdirSeries } from './dicomdir.writer.js';
import { fileIdFor, zipEntryNameFor } from './file-id.scheme.js';
import type { InstanceHeader } from './instance-header.parser.js';
import { readInstanceHeader } from './instance-header.reader.js';
import { buildReadme } from './readme.builder.js';
import { planZip, type ZipPlan, type ZipPlanEntry } from './zip-plan.js';

/**
 * A study's zip, fixed: which instances in which order (each with its size and CRC-32), the DICOMDIR's
 * bytes and what the README says. With the README's bytes (they follow the patient's language) it
 * gives the whole archive, byte for byte, before any instance is fetched (zipPlanFor).
 * The JSON form is the contract between the services (`zipLayoutSchema` in @studylink/contracts).
 */
export interface ZipLayout {
  /** 2: the layout knows its report objects (`held`); a layout of version 1 is made again. */
  version: 2;
  studyInstanceUid: string;
  zipContent: 'as-stored' | 'jpeg-lossless';
  /** What the instances were fetched as: `*` (as stored) or the transfer syntax UID asked for. */
  transferSyntax: string;
  /** The entries' time stamp (from the study's date and time): the same in every plan of the study. */
  date: string;
  /** The DICOMDIR, base64. */
  dicomdir: string;
  readme: {
    patientName: string;
    studyDate: string;
    studyDescription: string;
    instanceCount: number;
    seriesCount: number;
  };
  /** In zip order: series UID, SOP instance UID, size, CRC-32. File IDs follow from the order. */
  instances: [string, string, number, number][];
  /**
   * The zip of a link whose report is held back (issue 20): without the study's report objects (SR,
   * encapsulated PDF). Its DICOMDIR, date and README values, and its instances as indices into
   * `instances` (in zip order). Null when the study holds no report object: the same zip either way.
   */
  held: {
    date: string;
    dicomdir: string;
    readme: ZipLayout['readme'];
    instances: number[];
  } | null;
}

/** What of a study's report the zip carries: its report objects, and the PDF the RIS pushed. */
export interface ZipReportChoice {
  /** The link may show the study's reports (the grant's `may.report`). */
  report: boolean;
  /** The RIS-pushed PDF's SHA-256 when it goes in the zip as REPORT.PDF (only with `report`). */
  pushedSha256: string | null;
}

/** A pushed report's name in the zip (as @studylink/contracts' PUSHED_REPORT_ZIP_NAME). */
export const REPORT_ENTRY_NAME = 'REPORT.PDF';

/** What reading one instance tells the layout. */
export interface InstanceFacts {
  header: InstanceHeader | Error;
  size: number;
  crc32: number;
}

/** The study cannot have a fixed layout (an instance without a usable UID, one UID twice): it streams. */
export class ZipLayoutNotPossibleError extends Error {
  override name = 'ZipLayoutNotPossibleError';
}

const UID = /^[0-9]+(\.[0-9]+)*$/;
const usableUid = (v: string) => v.length > 0 && v.length <= 64 && UID.test(v);

/**
 * Counts and checksums a stream as it passes.
 * @example const m = measure(); body.pipe(m.stream); ... m.result() // { size, crc32 }
 */
export function measure(): { stream: Transform; result(): { size: number; crc32: number } } {
  let size = 0;
  let crc = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      crc = crc32(chunk, crc);
      cb(null, chunk);
    },
  });
  return { stream, result: () => ({ size, crc32: crc >>> 0 }) };
}

/**
 * Reads one instance to its end: its header, size and CRC-32 (the bytes are not kept).
 * @example const facts = await readInstanceFacts(part.body);
 */
export async function readInstanceFacts(body: Readable): Promise<InstanceFacts> {
  const { header, body: all } = await readInstanceHeader(body);
  let size = 0;
  let crc = 0;
  for await (const chunk of all as AsyncIterable<Buffer>) {
    size += chunk.length;
    crc = crc32(chunk, crc);
  }
  return { header, size, crc32: crc >>> 0 };
}

/** The patient and study values a DICOMDIR takes from its instances (the first non-empty one). */
export const STUDY_KEYS = [
  'patientName',
  'patientId',
  'studyDate',
  'studyTime',
  'studyDescription',
  'studyId',
  'accessionNumber',
] as const satisfies readonly (keyof InstanceHeader)[];

/** The time stamp of a study's entries: its date and time (UTC, as written), else 1980-01-01. */
function layoutDate(studyDate: string, studyTime: string): string {
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(studyDate);
  const t = /^(\d{2})(\d{2})?(\d{2})?/.exec(studyTime);
  if (!d) return '1980-01-01T00:00:00.000Z';
  const date = new Date(
    Date.UTC(
      Number(d[1]),
      Number(d[2]) - 1,
      Number(d[3]),
      Number(t?.[1] ?? 0),
      Number(t?.[2] ?? 0),
      Number(t?.[3] ?? 0),
    ),
  );
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1980 || date.getUTCFullYear() > 2107)
    return '1980-01-01T00:00:00.000Z';
  return date.toISOString();
}

/**
 * The fixed layout of a study from its instances' facts, whatever order they came in: series by
 * Series Number then UID, instances by Instance Number then UID.
 * @example const layout = buildZipLayout({ studyInstanceUid, zipContent: 'as-stored', transferSyntax: '*', instances, fallback });
 */
export function buildZipLayout(input: {
  studyInstanceUid: string;
  zipContent: 'as-stored' | 'jpeg-lossless';
  transferSyntax: string;
  instances: readonly InstanceFacts[];
  /** What the token service's copy says, for what no instance says. */
  fallback: { patientName: string; studyDate: string; studyDescription: string };
  /** True for a SOP class that is a report (@studylink/contracts' isReportSopClass). */
  isReport: (sopClassUid: string) => boolean;
}): ZipLayout {
  const whole = layoutOf(input, input.instances);
  const kept = input.instances.filter(
    (f) => f.header instanceof Error || !input.isReport(f.header.sopClassUid),
  );
  if (kept.length === input.instances.length) return { ...whole, held: null };
  const held = layoutOf(input, kept);
  const at = new Map(whole.instances.map(([, sop], i) => [sop, i]));
  return {
    ...whole,
    held: {
      date: held.date,
      dicomdir: held.dicomdir,
      readme: held.readme,
      instances: held.instances.map(([, sop]) => at.get(sop) as number),
    },
  };
}

/**
 * The layout a link gets: the whole study, or without its report objects when the report is held.
 * @example const layout = zipLayoutFor(stored, { report: grant.may.report, pushedSha256: null });
 */
export function zipLayoutFor(layout: ZipLayout, choice: Pick<ZipReportChoice, 'report'>): ZipLayout {
  if (choice.report || !layout.held) return layout;
  const { held } = layout;
  return {
    ...layout,
    date: held.date,
    dicomdir: held.dicomdir,
    readme: held.readme,
    instances: held.instances.map((i) => layout.instances[i] as ZipLayout['instances'][number]),
    held: null,
  };
}

/**
 * The identity of the archive a link gets from a stored layout: the layout's id when the zip is the
 * whole study and no PDF was pushed, else a digest of the id and the choice, so that a strong ETag
 * never covers two different archives (a held report, another pushed PDF).
 * @example zipArchiveId(layoutId, { report: false, pushedSha256: null }) !== layoutId
 */
export function zipArchiveId(layoutId: string, choice: ZipReportChoice): string {
  const pushed = choice.report ? choice.pushedSha256 : null;
  if (choice.report && pushed === null) return layoutId;
  return createHash('sha256')
    .update(`studylink-archive:${layoutId}:${choice.report ? 'report' : 'held'}:${pushed ?? ''}`)
    .digest('hex');
}

function layoutOf(
  input: Parameters<typeof buildZipLayout>[0],
  facts: readonly InstanceFacts[],
): Omit<ZipLayout, 'held'> {
  const values = Object.fromEntries(STUDY_KEYS.map((k) => [k, ''])) as Record<
    (typeof STUDY_KEYS)[number],
    string
  >;
  const seen = new Set<string>();
  const bySeries = new Map<string, { facts: InstanceFacts; header: InstanceHeader }[]>();
  for (const fact of facts) {
    const h = fact.header;
    if (h instanceof Error)
      throw new ZipLayoutNotPossibleError(`an instance has no readable header: ${h.message}`);
    if (
      !usableUid(h.sopInstanceUid) ||
      !usableUid(h.sopClassUid) ||
      !usableUid(h.seriesInstanceUid) ||
      !usableUid(h.meta.transferSyntaxUid)
    )
      throw new ZipLayoutNotPossibleError('an instance has an unusable UID');
    if (seen.has(h.sopInstanceUid)) throw new ZipLayoutNotPossibleError('an SOP Instance UID appears twice');
    seen.add(h.sopInstanceUid);
    const list = bySeries.get(h.seriesInstanceUid) ?? [];
    list.push({ facts: fact, header: h });
    bySeries.set(h.seriesInstanceUid, list);
  }
  const order = (a: number | null, b: number | null) => (a ?? 0) - (b ?? 0);
  const seriesUids = [...bySeries.keys()].sort((a, b) => {
    const an = bySeries.get(a)?.[0]?.header.seriesNumber ?? null;
    const bn = bySeries.get(b)?.[0]?.header.seriesNumber ?? null;
    return order(an, bn) || (a < b ? -1 : a > b ? 1 : 0);
  });
  const series: DicomdirSeries[] = [];
  const instances: ZipLayout['instances'] = [];
  seriesUids.forEach((uid, si) => {
    const list = (bySeries.get(uid) ?? []).sort(
      (a, b) =>
        order(a.header.instanceNumber, b.header.instanceNumber) ||
        (a.header.sopInstanceUid < b.header.sopInstanceUid ? -1 : 1),
    );
    const records: DicomdirInstance[] = [];
    let modality = '';
    let seriesNumber: number | null = null;
    list.forEach(({ facts, header }, fi) => {
      records.push({
        fileId: fileIdFor(si, fi),
        sopClassUid: header.sopClassUid,
        sopInstanceUid: header.sopInstanceUid,
        transferSyntaxUid: header.meta.transferSyntaxUid,
        instanceNumber: header.instanceNumber,
      });
      instances.push([uid, header.sopInstanceUid, facts.size, facts.crc32 >>> 0]);
      if (!modality && header.modality) modality = header.modality;
      if (seriesNumber === null) seriesNumber = header.seriesNumber;
      for (const key of STUDY_KEYS) if (!values[key] && header[key]) values[key] = header[key];
    });
    series.push({ seriesInstanceUid: uid, modality, seriesNumber, instances: records });
  });
  const patientName = values.patientName || input.fallback.patientName;
  const studyDate = values.studyDate || input.fallback.studyDate;
  const studyDescription = values.studyDescription || input.fallback.studyDescription;
  // The DICOMDIR's own UID follows from its contents, so that the same study gives the same bytes.
  const digest = createHash('sha256')
    .update(`studylink-dicomdir:${input.studyInstanceUid}:${instances.map((i) => i[1]).join(',')}`)
    .digest('hex')
    .slice(0, 32);
  const dicomdir = buildDicomdir({
    mediaStorageSopInstanceUid: `2.25.${BigInt(`0x${digest}`).toString()}`,
    patient: { patientId: values.patientId, patientName },
    study: {
      studyInstanceUid: input.studyInstanceUid,
      studyDate,
      studyTime: values.studyTime,
      studyDescription,
      studyId: values.studyId,
      accessionNumber: values.accessionNumber,
    },
    series,
  });
  return {
    version: 2,
    studyInstanceUid: input.studyInstanceUid,
    zipContent: input.zipContent,
    transferSyntax: input.transferSyntax,
    date: layoutDate(studyDate, values.studyTime),
    dicomdir: dicomdir.toString('base64'),
    readme: {
      patientName,
      studyDate,
      studyDescription,
      instanceCount: instances.length,
      seriesCount: series.length,
    },
    instances,
  };
}

/**
 * The layout's identity: a digest of all it fixes. Two layouts of an unchanged study are equal.
 * @example zipLayoutId(layout) // '3f1c…' (64 hex digits)
 */
export function zipLayoutId(layout: ZipLayout): string {
  return createHash('sha256').update(JSON.stringify(layout)).digest('hex');
}

/**
 * The byte-for-byte plan of the layout's zip with `readme` as its README.txt: DICOMDIR, README.txt,
 * REPORT.PDF (when a pushed report goes in), then the instances (source i is `layout.instances[i]`).
 * Give it the layout a link gets (zipLayoutFor).
 * @example const plan = zipPlanFor(layout, Buffer.from(buildReadme(...), 'utf8')); plan.length
 */
export function zipPlanFor(layout: ZipLayout, readme: Buffer, pushedReport: Buffer | null = null): ZipPlan {
  const dicomdir = Buffer.from(layout.dicomdir, 'base64');
  const entries: ZipPlanEntry[] = [
    { name: 'DICOMDIR', size: dicomdir.length, crc32: crc32(dicomdir), data: dicomdir },
    { name: 'README.txt', size: readme.length, crc32: crc32(readme), data: readme },
  ];
  // The report the RIS pushed, beside the README (the link may show reports; zipLayoutFor chose).
  if (pushedReport)
    entries.push({
      name: REPORT_ENTRY_NAME,
      size: pushedReport.length,
      crc32: crc32(pushedReport),
      data: pushedReport,
    });
  let si = -1;
  let fi = 0;
  let last: string | null = null;
  layout.instances.forEach(([series, , size, crc], i) => {
    if (series !== last) {
      si += 1;
      fi = 0;
      last = series;
    }
    entries.push({ name: zipEntryNameFor(fileIdFor(si, fi)), size, crc32: crc, data: { source: i } });
    fi += 1;
  });
  return planZip(entries, new Date(layout.date));
}

/**
 * The README.txt of a layout's zip for one patient: what the layout says and where it is read.
 * @example const readme = layoutReadme(layout, { institution: 'St Elsewhere', viewerUrl: '', language: 'fr' });
 */
export function layoutReadme(
  layout: Pick<ZipLayout, 'readme'>,
  where: { institution: string; viewerUrl: string; language: string; pushedReport?: boolean },
): Buffer {
  return Buffer.from(buildReadme({ ...layout.readme, ...where }), 'utf8');
}

import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { isReportSopClass } from '@studylink/contracts';
import {
  buildDicomdir,
  buildReadme,
  buildZipLayout,
  createStudyZip,
  type DicomdirInstance,
  type DicomdirSeries,
  fileIdFor,
  type InstanceFacts,
  measure,
  REPORT_ENTRY_NAME,
  readInstanceHeader,
  STUDY_KEYS,
  safeZipFilename,
  type ZipLayout,
  ZipLayoutNotPossibleError,
  zipEntryNameFor,
} from '@studylink/dicom-media';
import {
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebResponseError,
  DicomwebUnavailableError,
  type MultipartPart,
  MultipartTruncatedError,
  retry,
} from '@studylink/dicomweb';
import { AppError, type Logger, ServiceUnavailableError } from '@studylink/service-kit';
import type { Grant } from './grant.client.js';

export const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';

export class StudyGoneError extends AppError {
  constructor() {
    super(404, 'study_not_found', 'not found or no longer available');
  }
}

export interface ExportResult {
  instances: number;
  series: number;
  /** Bytes of the zip handed to the client socket. */
  bytes: number;
  /** The study's fixed layout, worked out from what passed (null when it cannot have one). */
  layout: ZipLayout | null;
}

export interface PreparedExport {
  filename: string;
  /** The zip bytes; destroyed with an error if the export fails midway. */
  output: Readable;
  /** Settles when the archive has been fully written (or fails). */
  done: Promise<ExportResult>;
  bytesSent(): number;
}

export interface ExportOptions {
  client: DicomwebClient;
  log: Logger;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  signal: AbortSignal;
  /** The PDF the RIS pushed, when the grant puts it in the zip (REPORT.PDF beside README.txt). */
  pushedReport?: Buffer | null;
}

/**
 * Opens the study in the store and resolves once its first instance has arrived: anything that
 * fails before that (store down, study gone) still becomes a clean 503/404 page, with retries.
 * After that, the zip streams and a failure cuts it. Nothing is asked of the store but the study
 * itself (one WADO-RS request, sent at once): the DICOMDIR is built from the instances' own headers
 * as they pass, so nothing proportional to the study's size comes before the first byte.
 */
export async function prepareExportOrThrow(grant: Grant, opts: ExportOptions): Promise<PreparedExport> {
  const { client, log, signal } = opts;
  const uid = grant.studyInstanceUid;
  const transferSyntax = grant.zipContent === 'jpeg-lossless' ? JPEG_LOSSLESS_SV1 : '*';

  const opened = await retry(
    async () => {
      const open = async (syntax: string) => {
        const { parts } = await client.retrieveStudy(uid, { transferSyntax: syntax, signal });
        try {
          const first = await parts.next();
          if (first.done) throw new StudyGoneError();
          return { parts, first: first.value, transferSyntax: syntax };
        } catch (err) {
          await parts.return(undefined).catch(() => {});
          throw err;
        }
      };
      try {
        return await open(transferSyntax);
      } catch (err) {
        // A store that cannot produce JPEG lossless for this study answers 406 (PS3.18 8.7.3.5.1) or,
        // like Orthanc with JPEG 2000, a 5xx: the patient still gets the images as stored. If the
        // store is really down, this second request fails too and the retry goes on.
        if (transferSyntax === '*' || !cannotTranscode(err)) throw err;
        log.warn(
          { status: (err as { status?: number }).status, transferSyntax },
          'store could not transcode the study; sending it as stored',
        );
        return await open('*');
      }
    },
    {
      ...opts.retry,
      signal,
      isRetryable: isTransient,
      onRetry: (err, attempt) =>
        log.warn({ attempt, err: (err as Error).message }, 'store not ready; retrying'),
    },
  ).catch((err) => {
    if (err instanceof StudyGoneError || err instanceof DicomwebNotFoundError) throw new StudyGoneError();
    if (signal.aborted) throw err;
    log.warn({ err: (err as Error).message }, 'store unavailable before the first byte');
    throw new ServiceUnavailableError(
      'the image archive is not answering; try again shortly',
      30,
      'store_unavailable',
    );
  });

  const zip = createStudyZip();
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  zip.output.pipe(counter);
  zip.output.on('error', (err) => counter.destroy(err));

  const done = writeZip(grant, opened, zip, log, opts.pushedReport ?? null).then(
    ({ facts, ...r }) => ({ ...r, bytes, layout: layoutOf(grant, opened.transferSyntax, facts, log) }),
    (err: Error) => {
      zip.abort(err);
      throw err;
    },
  );
  done.catch(() => {}); // observed by the caller; never an unhandled rejection

  return {
    filename: safeZipFilename({ studyDate: grant.study.studyDate, modalities: grant.study.modalities }),
    output: counter,
    done,
    bytesSent: () => bytes,
  };
}

/** The fixed layout of what was streamed, for the next downloads; null when the study cannot have one. */
function layoutOf(
  grant: Grant,
  transferSyntax: string,
  facts: InstanceFacts[],
  log: Logger,
): ZipLayout | null {
  try {
    return buildZipLayout({
      studyInstanceUid: grant.studyInstanceUid,
      zipContent: grant.zipContent,
      transferSyntax,
      instances: facts,
      fallback: {
        patientName: grant.study.patientName,
        studyDate: grant.study.studyDate,
        studyDescription: grant.study.description,
      },
      isReport: isReportSopClass,
    });
  } catch (err) {
    if (!(err instanceof ZipLayoutNotPossibleError)) throw err;
    log.info({ reason: err.message }, 'the study streams without a fixed layout');
    return null;
  }
}

/** 406 (will not produce that transfer syntax) or a 5xx status: worth asking for the study as stored. */
function cannotTranscode(err: unknown): boolean {
  if (err instanceof DicomwebUnavailableError) return err.status !== undefined;
  return err instanceof DicomwebResponseError && err.status === 406;
}

/**
 * Worth another try: the store out of reach or busy (a retryable DicomwebUnavailableError: network
 * errors, 5xx, 429), or a response cut before its first part. A 4xx, a malformed multipart body, a
 * study that is gone: asking again gives the same answer.
 */
function isTransient(err: unknown): boolean {
  if (err instanceof DicomwebUnavailableError) return err.retryable;
  return err instanceof MultipartTruncatedError;
}

/**
 * A Series Instance UID of our own for instances that carry no usable one: derived from the study's
 * (PS3.5 B.2: `2.25.` and a 128-bit number), so it is always a valid UID of at most 44 characters and
 * the same in every export of the study. `${studyUid}.0` could pass the 64-character limit.
 */
export function fallbackSeriesUid(studyUid: string): string {
  const digest = createHash('sha256').update(`studylink-series:${studyUid}`).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${digest}`).toString()}`;
}

// PS3.5 9.1 forbids leading zeros in a component, but real files have them and dcmtk, pydicom and
// dciodvfy read them: a record keeps the file's own UID whenever it is digits and dots within 64.
const UID = /^[0-9]+(\.[0-9]+)*$/;
function isUsableUid(value: string): boolean {
  return value.length > 0 && value.length <= 64 && UID.test(value);
}

interface SeriesRecord extends DicomdirSeries {
  instances: DicomdirInstance[];
  /** Files of the series in the zip, records or not: the next file ID. */
  files: number;
}

/** Patient and study values for the DICOMDIR: the first non-empty value any instance has. */
type StudyValues = Record<(typeof STUDY_KEYS)[number], string>;

async function writeZip(
  grant: Grant,
  opened: { parts: AsyncGenerator<MultipartPart>; first: MultipartPart },
  zip: ReturnType<typeof createStudyZip>,
  log: Logger,
  pushedReport: Buffer | null,
): Promise<{ instances: number; series: number; facts: InstanceFacts[] }> {
  const { parts } = opened;
  const studyUid = grant.studyInstanceUid;
  const seriesList: SeriesRecord[] = [];
  const seriesByUid = new Map<string, SeriesRecord>();
  const seenInstances = new Set<string>();
  const values = Object.fromEntries(STUDY_KEYS.map((k) => [k, ''])) as StudyValues;
  let count = 0;
  let unlisted = 0;
  // Each instance's size and CRC-32 as it passes: the study's fixed layout, made from this one read.
  const facts: InstanceFacts[] = [];

  let part: MultipartPart | undefined = opened.first;
  try {
    while (part) {
      const { header, body } = await readInstanceHeader(part.body);
      // A report object (SR, encapsulated PDF) of a link whose report is held back: not in the zip
      // nor the DICOMDIR. It is still read (measured, not kept): the study's layout knows it.
      if (!grant.may.report && !(header instanceof Error) && isReportSopClass(header.sopClassUid)) {
        const m = measure();
        body.once('error', (err) => m.stream.destroy(err));
        body.pipe(m.stream);
        for await (const _ of m.stream);
        facts.push({ header, ...m.result() });
        const next = await parts.next();
        part = next.done ? undefined : next.value;
        continue;
      }
      // Every value that goes into the DICOMDIR is checked here, as its instance passes, so that
      // the DICOMDIR written at the end cannot fail on one of them.
      const usable =
        !(header instanceof Error) &&
        isUsableUid(header.sopInstanceUid) &&
        isUsableUid(header.sopClassUid) &&
        isUsableUid(header.meta.transferSyntaxUid) &&
        !seenInstances.has(header.sopInstanceUid);
      const seriesUid =
        usable && isUsableUid(header.seriesInstanceUid)
          ? header.seriesInstanceUid
          : fallbackSeriesUid(studyUid);
      let series = seriesByUid.get(seriesUid);
      if (!series) {
        series = { seriesInstanceUid: seriesUid, modality: '', seriesNumber: null, instances: [], files: 0 };
        seriesByUid.set(seriesUid, series);
        seriesList.push(series);
      }
      const fileId = fileIdFor(seriesList.indexOf(series), series.files);
      series.files += 1;
      const m = measure();
      body.once('error', (err) => m.stream.destroy(err));
      body.pipe(m.stream);
      await zip.addFile(zipEntryNameFor(fileId), m.stream);
      facts.push({ header, ...m.result() });
      count += 1;
      if (usable) {
        seenInstances.add(header.sopInstanceUid);
        series.instances.push({
          fileId,
          sopClassUid: header.sopClassUid,
          sopInstanceUid: header.sopInstanceUid,
          transferSyntaxUid: header.meta.transferSyntaxUid,
          instanceNumber: header.instanceNumber,
        });
        if (!series.modality && header.modality) series.modality = header.modality;
        if (series.seriesNumber === null) series.seriesNumber = header.seriesNumber;
        for (const key of STUDY_KEYS) if (!values[key] && header[key]) values[key] = header[key];
      } else {
        // In the zip all the same, byte for byte; without a readable header it gets no record.
        unlisted += 1;
        log.warn(
          {
            fileId: fileId.join('/'),
            reason: header instanceof Error ? header.message : 'unusable or repeated SOP Instance UID',
          },
          'instance left out of the DICOMDIR',
        );
      }
      const next = await parts.next();
      part = next.done ? undefined : next.value;
    }
  } finally {
    // On failure, closing the generator cancels the upstream request.
    if (part) await parts.return(undefined).catch(() => {});
  }

  const bySeriesNumber = [...seriesList].sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0));
  for (const s of bySeriesNumber)
    s.instances.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
  // The token service's copy stands in for what no instance says (it may come from QIDO-RS).
  const patientName = values.patientName || grant.study.patientName;
  const studyDate = values.studyDate || grant.study.studyDate;
  const studyDescription = values.studyDescription || grant.study.description;
  const dicomdir = buildDicomdir({
    patient: { patientId: values.patientId, patientName },
    study: {
      studyInstanceUid: studyUid,
      studyDate,
      studyTime: values.studyTime,
      studyDescription,
      studyId: values.studyId,
      accessionNumber: values.accessionNumber,
    },
    series: bySeriesNumber,
  });
  await zip.addFile('DICOMDIR', dicomdir);
  const readme = buildReadme({
    institution: grant.institution,
    patientName,
    studyDate,
    studyDescription,
    instanceCount: count,
    seriesCount: seriesList.length,
    viewerUrl: grant.viewerUrl,
    language: grant.language,
    pushedReport: pushedReport !== null,
  });
  await zip.addFile('README.txt', Buffer.from(readme, 'utf8'));
  if (pushedReport) await zip.addFile(REPORT_ENTRY_NAME, pushedReport);
  await zip.finalize();
  if (unlisted > 0) log.warn({ unlisted }, 'instances in the zip without a DICOMDIR record');
  return { instances: count, series: seriesList.length, facts };
}

import { once } from 'node:events';
import { type Readable, Transform } from 'node:stream';
import {
  buildDicomdir,
  buildReadme,
  createStudyZip,
  type DicomdirSeries,
  fileIdFor,
  MAX_META_LENGTH,
  type Part10Meta,
  readPart10Meta,
  safeZipFilename,
  zipEntryNameFor,
} from '@studylink/dicom-media';
import {
  type DicomJsonObject,
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebUnavailableError,
  dicomNumber,
  dicomPersonNameGroups,
  dicomString,
  type MultipartPart,
  retry,
  Tag,
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
}

interface InstanceInfo {
  seriesUid: string;
  sopClassUid: string;
  instanceNumber: number | null;
}

interface Catalogue {
  study: DicomJsonObject;
  series: Map<string, { modality: string; seriesNumber: number | null }>;
  instances: Map<string, InstanceInfo>;
}

/** Study, series and instance attributes for the DICOMDIR, from QIDO-RS. */
async function readCatalogue(client: DicomwebClient, uid: string, signal: AbortSignal): Promise<Catalogue> {
  const [studies, series, instances] = await Promise.all([
    client.searchStudies(
      { StudyInstanceUID: uid, includefield: ['StudyID', 'AccessionNumber', 'StudyTime'] },
      { signal },
    ),
    client.searchSeries(uid, { signal }),
    client.searchInstances(uid, undefined, { signal }),
  ]);
  const study = studies.find((s) => dicomString(s, Tag.StudyInstanceUID) === uid);
  if (!study) throw new StudyGoneError();
  return {
    study,
    series: new Map(
      series.map((s) => [
        dicomString(s, Tag.SeriesInstanceUID),
        { modality: dicomString(s, Tag.Modality), seriesNumber: dicomNumber(s, Tag.SeriesNumber) ?? null },
      ]),
    ),
    instances: new Map(
      instances.map((i) => [
        dicomString(i, Tag.SOPInstanceUID),
        {
          seriesUid: dicomString(i, Tag.SeriesInstanceUID),
          sopClassUid: dicomString(i, Tag.SOPClassUID),
          instanceNumber: dicomNumber(i, Tag.InstanceNumber) ?? null,
        },
      ]),
    ),
  };
}

/**
 * Reads a part until its PS3.10 meta header is complete, then puts the bytes back so the part
 * streams on unchanged: the instance in the zip is byte for byte what the store sent.
 */
async function readMeta(body: Readable): Promise<Part10Meta> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for (;;) {
      const chunk: Buffer | null = body.read();
      if (chunk === null) {
        if (body.readableEnded) throw new Error('part ended before its DICOM meta header');
        const [closedOrReadable] = await Promise.race([
          once(body, 'readable'),
          once(body, 'end').then(() => ['end']),
        ]);
        if (closedOrReadable === 'end' && body.readableLength === 0) {
          throw new Error('part ended before its DICOM meta header');
        }
        continue;
      }
      chunks.push(chunk);
      length += chunk.length;
      const meta = readPart10Meta(chunks.length === 1 ? chunk : Buffer.concat(chunks, length));
      if (meta) return meta;
      if (length > MAX_META_LENGTH) throw new Error('DICOM meta header too long');
    }
  } finally {
    if (chunks.length) body.unshift(Buffer.concat(chunks, length));
  }
}

/**
 * Opens the study in the store and resolves once its first instance has arrived: anything that
 * fails before that (store down, study gone) still becomes a clean 503/404 page, with retries.
 * After that, the zip streams and a failure cuts it.
 */
export async function prepareExportOrThrow(grant: Grant, opts: ExportOptions): Promise<PreparedExport> {
  const { client, log, signal } = opts;
  const uid = grant.studyInstanceUid;
  const transferSyntax = grant.zipContent === 'jpeg-lossless' ? JPEG_LOSSLESS_SV1 : '*';

  const opened = await retry(
    async () => {
      const catalogue = await readCatalogue(client, uid, signal);
      const open = async (syntax: string) => {
        const { parts } = await client.retrieveStudy(uid, { transferSyntax: syntax, signal });
        const first = await parts.next();
        if (first.done) {
          await parts.return(undefined);
          throw new StudyGoneError();
        }
        return { catalogue, parts, first: first.value };
      };
      try {
        return await open(transferSyntax);
      } catch (err) {
        // A store that answers 5xx to a transcoding request may simply be unable to transcode
        // this study (Orthanc with JPEG 2000, say): the patient still gets the images as stored.
        // If the store is really down, this second request fails too and the retry goes on.
        if (transferSyntax === '*' || !(err instanceof DicomwebUnavailableError) || err.status === undefined)
          throw err;
        log.warn(
          { status: err.status, transferSyntax },
          'store could not transcode the study; sending it as stored',
        );
        return await open('*');
      }
    },
    {
      ...opts.retry,
      signal,
      isRetryable: (err) =>
        !(err instanceof StudyGoneError) && !(err instanceof DicomwebNotFoundError) && isTransient(err),
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

  const done = writeZip(grant, opened, zip, client, signal).then(
    (r) => ({ ...r, bytes }),
    (err: Error) => {
      zip.abort(err);
      throw err;
    },
  );
  done.catch(() => {}); // observed by the caller; never an unhandled rejection

  return {
    filename: safeZipFilename({
      studyDate: dicomString(opened.catalogue.study, Tag.StudyDate),
      modalities: grant.study.modalities,
    }),
    output: counter,
    done,
    bytesSent: () => bytes,
  };
}

function isTransient(err: unknown): boolean {
  const e = err as { retryable?: boolean; name?: string };
  if (typeof e?.retryable === 'boolean') return e.retryable;
  return e?.name !== 'AbortError';
}

async function writeZip(
  grant: Grant,
  opened: { catalogue: Catalogue; parts: AsyncGenerator<MultipartPart>; first: MultipartPart },
  zip: ReturnType<typeof createStudyZip>,
  client: DicomwebClient,
  signal: AbortSignal,
): Promise<Omit<ExportResult, 'bytes'>> {
  const { catalogue, parts } = opened;
  const seriesOrder: string[] = [];
  const records = new Map<string, DicomdirSeries & { instances: DicomdirSeries['instances'][number][] }>();
  let count = 0;

  let part: MultipartPart | undefined = opened.first;
  try {
    while (part) {
      const meta = await readMeta(part.body);
      let info = catalogue.instances.get(meta.sopInstanceUid);
      if (!info) {
        // Not listed by QIDO a moment ago (new, or renamed by transcoding): ask for this one.
        const [found] = await client.searchInstances(grant.studyInstanceUid, undefined, {
          SOPInstanceUID: meta.sopInstanceUid,
          signal,
        });
        info = {
          seriesUid: found ? dicomString(found, Tag.SeriesInstanceUID) : `${grant.studyInstanceUid}.0`,
          sopClassUid: meta.sopClassUid,
          instanceNumber: found ? (dicomNumber(found, Tag.InstanceNumber) ?? null) : null,
        };
      }
      let series = records.get(info.seriesUid);
      if (!series) {
        const s = catalogue.series.get(info.seriesUid);
        series = {
          seriesInstanceUid: info.seriesUid,
          modality: s?.modality || 'OT',
          seriesNumber: s?.seriesNumber ?? null,
          instances: [],
        };
        records.set(info.seriesUid, series);
        seriesOrder.push(info.seriesUid);
      }
      const fileId = fileIdFor(seriesOrder.indexOf(info.seriesUid), series.instances.length);
      await zip.addFile(zipEntryNameFor(fileId), part.body);
      series.instances.push({
        fileId,
        sopClassUid: meta.sopClassUid,
        sopInstanceUid: meta.sopInstanceUid,
        transferSyntaxUid: meta.transferSyntaxUid,
        instanceNumber: info.instanceNumber,
      });
      count += 1;
      const next = await parts.next();
      part = next.done ? undefined : next.value;
    }
  } finally {
    // On failure, closing the generator cancels the upstream request.
    if (part) await parts.return(undefined).catch(() => {});
  }

  const study = catalogue.study;
  const bySeriesNumber = [...records.values()].sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0));
  for (const s of bySeriesNumber)
    s.instances.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
  const dicomdir = buildDicomdir({
    patient: {
      patientId: dicomString(study, Tag.PatientID),
      patientName: dicomPersonNameGroups(study, Tag.PatientName),
    },
    study: {
      studyInstanceUid: grant.studyInstanceUid,
      studyDate: dicomString(study, Tag.StudyDate),
      studyTime: dicomString(study, Tag.StudyTime),
      studyDescription: dicomString(study, Tag.StudyDescription),
      studyId: dicomString(study, Tag.StudyID),
      accessionNumber: dicomString(study, Tag.AccessionNumber),
    },
    series: bySeriesNumber,
  });
  await zip.addFile('DICOMDIR', dicomdir);
  const readme = buildReadme({
    institution: grant.institution,
    patientName: dicomPersonNameGroups(study, Tag.PatientName),
    studyDate: dicomString(study, Tag.StudyDate),
    studyDescription: dicomString(study, Tag.StudyDescription),
    instanceCount: count,
    seriesCount: records.size,
    viewerUrl: grant.viewerUrl,
    language: grant.language,
  });
  await zip.addFile('README.txt', Buffer.from(readme, 'utf8'));
  await zip.finalize();
  return { instances: count, series: records.size };
}

import {
  type DicomJsonObject,
  DicomwebArgumentError,
  type DicomwebClient,
  DicomwebNotFoundError,
} from '@studylink/dicomweb';
import type { Logger } from '@studylink/service-kit';
import { ValidationError } from '@studylink/service-kit';
import { StoreUnavailableError } from '../../errors.js';
import type { StudyService } from '../../studies/study.service.js';
import {
  qidoTextDigest,
  qidoTextIsPlain,
  readStudyText,
  type StudyText,
  studyDetailsOf,
} from '../../studies/study.source.js';

/** What the studies page asks the store: DICOM matching keys (wildcards allowed in the name). */
export interface StudyQuery {
  studyInstanceUid?: string;
  patientName?: string;
  patientId?: string;
  accessionNumber?: string;
  /** `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-` or `-YYYYMMDD`. */
  studyDate?: string;
  /** `YYYYMMDD`. */
  patientBirthDate?: string;
  modality?: string;
  limit: number;
  offset: number;
}

/** One row of the studies page. */
export interface StudySummary {
  studyInstanceUid: string;
  patientName: string;
  patientId: string;
  accessionNumber: string;
  studyDate: string;
  studyTime: string;
  description: string;
  modalities: string[];
  seriesCount: number | null;
  instanceCount: number | null;
  /** DICOM DA or ''; a second factor of links, so never logged. */
  patientBirthDate: string;
  /**
   * The digest of the QIDO-RS answer the names were checked against (qidoTextDigest); null when
   * they may be wrong (the answer was not plain and no file was read for it); absent from fakes.
   */
  qidoTextDigest?: string | null;
  /** Where the names came from: the QIDO-RS answer, or one instance's header. */
  textSource?: 'qido' | 'instance';
}

/** Text already checked against a file, as the study copy and the search index keep it. */
export interface KnownText {
  qido_text_digest: string | null;
  text_source: 'qido' | 'instance';
  patient_name: string;
  patient_id: string;
  description: string;
}

/** Where the studies page searches: QIDO-RS of the store, or a fake in tests. */
export interface StudySearch {
  /** Throws StoreUnavailableError when the store does not answer. */
  search(query: StudyQuery): Promise<StudySummary[]>;
}

const INCLUDE = [
  'PatientName',
  'InstitutionName',
  'PatientID',
  'AccessionNumber',
  'StudyDate',
  'StudyTime',
  'StudyDescription',
  'ModalitiesInStudy',
  'NumberOfStudyRelatedSeries',
  'NumberOfStudyRelatedInstances',
  'PatientBirthDate',
];

/** How the search puts right names a QIDO-RS answer lost or mis-decoded (see qidoTextIsPlain). */
export interface SearchTextOptions {
  studies: StudyService;
  /** Text the search index has checked already (consulted before the study copies). */
  known?: (uids: readonly string[]) => Promise<Map<string, KnownText>>;
  log: Logger;
  /** How long names read from a file are reused for a study without a copy. */
  cacheMs: number;
}

// Studies whose file one search reads at most (the index's walk pages by it), and how many at once.
export const MAX_FILE_READS = 50;
const FILE_READ_CONCURRENCY = 4;
const MAX_CACHED = 10_000;

interface Row {
  summary: StudySummary;
  digest: string;
  plain: boolean;
}

/**
 * QIDO-RS study search with a timeout; a store that is down is a 503, never a 500. With `text`, a
 * row whose text the answer may have lost or garbled (a store labelling its answers ISO_IR 100 drops
 * Greek or Japanese) gets its names from the study copy when that was checked against the same
 * answer, or else from one instance's header (kept `cacheMs`), so the staff see what the files hold.
 */
export function qidoStudySearch(
  client: DicomwebClient,
  timeoutMs: number,
  text?: SearchTextOptions,
): StudySearch {
  const cache = new Map<string, { text: StudyText; digest: string; at: number }>();
  const fixText = async (rows: Row[], signal: AbortSignal) => {
    if (!text) return;
    const uids = rows.map((r) => r.summary.studyInstanceUid);
    const [known, copies] = await Promise.all([
      text.known ? text.known(uids) : new Map<string, KnownText>(),
      text.studies.copiesOf(uids),
    ]);
    const toRead: Row[] = [];
    for (const row of rows) {
      const uid = row.summary.studyInstanceUid;
      const copy = [known.get(uid), copies.get(uid)].find((c) => c && c.qido_text_digest === row.digest);
      if (copy) {
        if (copy.text_source === 'instance') {
          apply(row.summary, {
            patientName: copy.patient_name,
            patientId: copy.patient_id,
            description: copy.description,
          });
          row.summary.textSource = 'instance';
        }
        row.summary.qidoTextDigest = row.digest;
        continue;
      }
      if (row.plain) {
        row.summary.qidoTextDigest = row.digest;
        continue;
      }
      const cached = cache.get(uid);
      if (cached && cached.digest === row.digest && Date.now() - cached.at < text.cacheMs) {
        apply(row.summary, cached.text);
        row.summary.qidoTextDigest = row.digest;
        row.summary.textSource = 'instance';
      } else toRead.push(row);
    }
    const queue = toRead.slice(0, MAX_FILE_READS);
    const worker = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        const uid = row.summary.studyInstanceUid;
        try {
          const read = await readStudyText(client, uid, signal);
          if (!read) continue;
          if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
          cache.set(uid, { text: read, digest: row.digest, at: Date.now() });
          apply(row.summary, read);
          row.summary.qidoTextDigest = row.digest;
          row.summary.textSource = 'instance';
        } catch (err) {
          // The row keeps what QIDO-RS said; the search itself still answers.
          text.log.warn(
            { err: (err as Error).message, studyInstanceUid: uid },
            'study file header read failed',
          );
        }
      }
    };
    await Promise.all(Array.from({ length: FILE_READ_CONCURRENCY }, worker));
  };
  return {
    async search(q) {
      let found: DicomJsonObject[];
      try {
        found = await client.searchStudies(
          {
            ...(q.studyInstanceUid ? { StudyInstanceUID: q.studyInstanceUid } : {}),
            ...(q.patientName ? { PatientName: q.patientName } : {}),
            ...(q.patientId ? { PatientID: q.patientId } : {}),
            ...(q.accessionNumber ? { AccessionNumber: q.accessionNumber } : {}),
            ...(q.studyDate ? { StudyDate: q.studyDate } : {}),
            ...(q.patientBirthDate ? { PatientBirthDate: q.patientBirthDate } : {}),
            ...(q.modality ? { ModalitiesInStudy: q.modality } : {}),
            limit: q.limit,
            offset: q.offset,
            includefield: INCLUDE,
          },
          { signal: AbortSignal.timeout(timeoutMs) },
        );
      } catch (err) {
        if (err instanceof DicomwebNotFoundError) return [];
        if (err instanceof DicomwebArgumentError) throw new ValidationError(err.message);
        throw new StoreUnavailableError();
      }
      const rows: Row[] = found
        .map((o) => ({ summary: toSummary(o), digest: qidoTextDigest(o), plain: qidoTextIsPlain(o) }))
        .filter((r) => r.summary.studyInstanceUid !== '');
      await fixText(rows, AbortSignal.timeout(timeoutMs));
      return rows.map((r) => r.summary);
    },
  };
}

function apply(summary: StudySummary, t: Pick<StudyText, 'patientName' | 'patientId' | 'description'>): void {
  if (t.patientName) summary.patientName = t.patientName;
  if (t.patientId) summary.patientId = t.patientId;
  if (t.description) summary.description = t.description;
}

function toSummary(o: DicomJsonObject): StudySummary {
  const d = studyDetailsOf(o);
  return {
    studyInstanceUid: d.studyInstanceUid,
    patientName: d.patientName,
    patientId: d.patientId,
    accessionNumber: d.accessionNumber,
    studyDate: d.studyDate,
    studyTime: d.studyTime,
    description: d.description,
    modalities: d.modalities,
    seriesCount: d.seriesCount,
    instanceCount: d.instanceCount,
    patientBirthDate: d.patientBirthDate,
    qidoTextDigest: null,
    textSource: 'qido',
  };
}

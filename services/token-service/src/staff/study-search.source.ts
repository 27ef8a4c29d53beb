import {
  type DicomJsonObject,
  DicomwebArgumentError,
  type DicomwebClient,
  DicomwebNotFoundError,
  dicomNumber,
  dicomPersonNameGroups,
  dicomString,
  dicomStrings,
  Tag,
} from '@studylink/dicomweb';
import { ValidationError } from '@studylink/service-kit';
import { StoreUnavailableError } from '../errors.js';

/** What the studies page asks the store: DICOM matching keys (wildcards allowed in the name). */
export interface StudyQuery {
  studyInstanceUid?: string;
  patientName?: string;
  patientId?: string;
  accessionNumber?: string;
  /** `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `YYYYMMDD-` or `-YYYYMMDD`. */
  studyDate?: string;
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
}

/** Where the studies page searches: QIDO-RS of the store, or a fake in tests. */
export interface StudySearch {
  /** Throws StoreUnavailableError when the store does not answer. */
  search(query: StudyQuery): Promise<StudySummary[]>;
}

const INCLUDE = [
  'PatientName',
  'PatientID',
  'AccessionNumber',
  'StudyDate',
  'StudyTime',
  'StudyDescription',
  'ModalitiesInStudy',
  'NumberOfStudyRelatedSeries',
  'NumberOfStudyRelatedInstances',
];

/** QIDO-RS study search with a timeout; a store that is down is a 503, never a 500. */
export function qidoStudySearch(client: DicomwebClient, timeoutMs: number): StudySearch {
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
      return found.map(toSummary).filter((s) => s.studyInstanceUid !== '');
    },
  };
}

function toSummary(o: DicomJsonObject): StudySummary {
  return {
    studyInstanceUid: dicomString(o, Tag.StudyInstanceUID),
    patientName: dicomPersonNameGroups(o, Tag.PatientName),
    patientId: dicomString(o, Tag.PatientID),
    accessionNumber: dicomString(o, Tag.AccessionNumber),
    studyDate: dicomString(o, Tag.StudyDate),
    studyTime: dicomString(o, Tag.StudyTime),
    description: dicomString(o, Tag.StudyDescription),
    modalities: dicomStrings(o, Tag.ModalitiesInStudy),
    seriesCount: dicomNumber(o, Tag.NumberOfStudyRelatedSeries) ?? null,
    instanceCount: dicomNumber(o, Tag.NumberOfStudyRelatedInstances) ?? null,
  };
}

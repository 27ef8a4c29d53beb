import {
  type DicomJsonObject,
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebUnavailableError,
  dicomNumber,
  dicomPersonNameGroups,
  dicomString,
  dicomStrings,
  Tag,
} from '@studylink/dicomweb';

/** What the patient page shows about a study, as read from the store. */
export interface StudyDetails {
  studyInstanceUid: string;
  patientName: string; // DICOM PN with its groups joined by '=' (alphabetic=ideographic=phonetic)
  patientId: string;
  studyId: string;
  accessionNumber: string;
  description: string;
  studyDate: string;
  studyTime: string;
  modalities: string[];
  seriesCount: number | null;
  instanceCount: number | null;
  institutionName: string;
}

/** Where study details come from: the DICOMweb store, or a fake in unit tests. */
export interface StudySource {
  /** null when the store does not know the study; throws StoreUnavailable-ish errors when it is down. */
  findStudy(uid: string, timeoutMs: number): Promise<StudyDetails | null>;
}

const INCLUDE = [
  'StudyDescription',
  'StudyID',
  'AccessionNumber',
  'ModalitiesInStudy',
  'NumberOfStudyRelatedSeries',
  'NumberOfStudyRelatedInstances',
  'InstitutionName',
  'PatientName',
  'PatientID',
  'StudyDate',
  'StudyTime',
];

/** QIDO-RS lookup of one study. */
export function qidoStudySource(client: DicomwebClient): StudySource {
  return {
    async findStudy(uid, timeoutMs) {
      try {
        const found = await client.searchStudies(
          { StudyInstanceUID: uid, includefield: INCLUDE, limit: 2 },
          { signal: AbortSignal.timeout(timeoutMs) },
        );
        const obj = found.find((o) => dicomString(o, Tag.StudyInstanceUID) === uid);
        return obj ? toDetails(obj, uid) : null;
      } catch (err) {
        if (err instanceof DicomwebNotFoundError) return null;
        if (
          err instanceof DicomwebUnavailableError ||
          (err as Error)?.name === 'AbortError' ||
          (err as Error)?.name === 'TimeoutError'
        ) {
          throw new Error('store unavailable', { cause: err });
        }
        throw new Error('store answered unexpectedly', { cause: err });
      }
    },
  };
}

function toDetails(obj: DicomJsonObject, uid: string): StudyDetails {
  return {
    studyInstanceUid: uid,
    patientName: dicomPersonNameGroups(obj, Tag.PatientName),
    patientId: dicomString(obj, Tag.PatientID),
    studyId: dicomString(obj, Tag.StudyID),
    accessionNumber: dicomString(obj, Tag.AccessionNumber),
    description: dicomString(obj, Tag.StudyDescription),
    studyDate: dicomString(obj, Tag.StudyDate),
    studyTime: dicomString(obj, Tag.StudyTime),
    modalities: dicomStrings(obj, Tag.ModalitiesInStudy),
    seriesCount: dicomNumber(obj, Tag.NumberOfStudyRelatedSeries) ?? null,
    instanceCount: dicomNumber(obj, Tag.NumberOfStudyRelatedInstances) ?? null,
    institutionName: dicomString(obj, Tag.InstitutionName),
  };
}

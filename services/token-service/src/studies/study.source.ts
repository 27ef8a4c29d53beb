import { createHash } from 'node:crypto';
import { readInstanceHeader } from '@studylink/dicom-media';
import {
  type DicomJsonObject,
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebUnavailableError,
  dicomNumber,
  dicomPersonNameGroups,
  dicomString,
  dicomStrings,
  isDicomUid,
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
  /** Patient's Birth Date as DICOM DA (YYYYMMDD) or ''; a second factor, so never logged. */
  patientBirthDate: string;
  /** Where the names came from: the QIDO-RS answer, or one instance's own header. */
  textSource?: 'qido' | 'instance';
  /** qidoTextDigest of the QIDO-RS answer they were checked against. */
  qidoTextDigest?: string | null;
}

/** What the copy knows, so a refresh can skip what it need not repeat. */
export interface StudyHint {
  qidoTextDigest: string | null;
  textSource: 'qido' | 'instance';
  text: { patientName: string; patientId: string; description: string };
}

/** Where study details come from: the DICOMweb store, or a fake in unit tests. */
export interface StudySource {
  /** null when the store does not know the study; throws when the store is down or answers wrongly. */
  findStudy(uid: string, timeoutMs: number, hint?: StudyHint): Promise<StudyDetails | null>;
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
  'PatientBirthDate',
];

/** Text values a QIDO-RS answer may have lost or mis-decoded, read from a file instead. */
export interface StudyText {
  patientName: string;
  patientId: string;
  description: string;
  institutionName: string;
}

/**
 * A digest of a QIDO-RS answer's text (and the character set it claims): while a refresh finds the
 * same, the text kept from an instance's header stands.
 */
export function qidoTextDigest(obj: DicomJsonObject): string {
  const text = [
    dicomStrings(obj, Tag.SpecificCharacterSet).join('\\'),
    dicomPersonNameGroups(obj, Tag.PatientName),
    dicomString(obj, Tag.PatientID),
    dicomString(obj, Tag.StudyDescription),
    dicomString(obj, Tag.InstitutionName),
  ];
  return createHash('sha256').update(JSON.stringify(text)).digest('base64url').slice(0, 22);
}

/**
 * Whether a QIDO-RS answer's text can be taken as it is without looking at a file: it says UTF-8 (or
 * nothing), has a patient name, and holds only letters, digits, spaces and `^ = . , ' - _ /`.
 * Anything else may have been lost (Orthanc's default answers say ISO_IR 100 and drop what Latin-1
 * cannot hold) or garbled (Orthanc 1.10 strips the escapes of ISO 2022 text, leaving `$B$d$^`), so
 * the staff search reads the file.
 */
export function qidoTextIsPlain(obj: DicomJsonObject): boolean {
  const label = dicomStrings(obj, Tag.SpecificCharacterSet).join('\\');
  if (label !== '' && label !== 'ISO_IR 192' && label !== 'ISO_IR 6') return false;
  const text = [dicomPersonNameGroups(obj, Tag.PatientName), dicomString(obj, Tag.StudyDescription)];
  return text[0] !== '' && text.every((t) => /^[A-Za-z0-9 ^=.,'_/-]*$/.test(t));
}

/**
 * Reads a study's text from the header of one of its instances, decoded from the file's own Specific
 * Character Set (dicom-media's parser), whatever the store makes of it: the first instance an
 * instance-level QIDO-RS with limit=1 names (one file for the store to open), fetched with WADO-RS as
 * stored and dropped once its header has been read. null when the store lists no readable instance.
 */
export async function readStudyText(
  client: DicomwebClient,
  uid: string,
  signal: AbortSignal,
): Promise<StudyText | null> {
  const [first] = await client.searchInstances(uid, undefined, { limit: 1, signal });
  const series = dicomString(first, Tag.SeriesInstanceUID);
  const sop = dicomString(first, Tag.SOPInstanceUID);
  if (!first || !isDicomUid(series) || !isDicomUid(sop)) return null;
  const { parts } = await client.retrieveInstance(uid, series, sop, { transferSyntax: '*', signal });
  try {
    const part = await parts.next();
    if (part.done) return null;
    const { header } = await readInstanceHeader(part.value.body);
    if (header instanceof Error) return null;
    return {
      patientName: header.patientName,
      patientId: header.patientId,
      description: header.studyDescription,
      institutionName: '',
    };
  } finally {
    // Closing the generator cancels the rest of the instance: only its header was wanted.
    await parts.return(undefined).catch(() => {});
  }
}

/**
 * QIDO-RS lookup of one study, with names checked against a file: the first time (and whenever the
 * QIDO-RS answer's text changes), one instance's header is read, and its values win where they
 * differ. A refresh that finds the same answer keeps the copy's names with no further request.
 */
export function qidoStudySource(client: DicomwebClient): StudySource {
  return {
    async findStudy(uid, timeoutMs, hint) {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const found = await client.searchStudies(
          { StudyInstanceUID: uid, includefield: INCLUDE, limit: 2 },
          { signal },
        );
        const obj = found.find((o) => dicomString(o, Tag.StudyInstanceUID) === uid);
        if (!obj) return null;
        const details = studyDetailsOf(obj);
        details.qidoTextDigest = qidoTextDigest(obj);
        if (hint && hint.qidoTextDigest === details.qidoTextDigest) {
          return hint.textSource === 'instance'
            ? { ...details, ...hint.text, textSource: 'instance' }
            : details;
        }
        let text: StudyText | null;
        try {
          text = await readStudyText(client, uid, signal);
        } catch (err) {
          if (signal.aborted) throw err;
          // The study itself was found: the names the copy had from a file (else QIDO-RS's) stand
          // for now, and with no digest the next refresh tries the file again.
          if (hint?.textSource === 'instance')
            return { ...details, ...hint.text, textSource: 'instance', qidoTextDigest: null };
          return { ...details, qidoTextDigest: null };
        }
        if (!text) return details;
        const merged = {
          patientName: text.patientName || details.patientName,
          patientId: text.patientId || details.patientId,
          description: text.description || details.description,
        };
        const same =
          merged.patientName === details.patientName &&
          merged.patientId === details.patientId &&
          merged.description === details.description;
        return same ? details : { ...details, ...merged, textSource: 'instance' };
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

/** The one mapping of a QIDO-RS study object (the patient page's lookup and the staff search). */
export function studyDetailsOf(obj: DicomJsonObject): StudyDetails {
  return {
    studyInstanceUid: dicomString(obj, Tag.StudyInstanceUID),
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
    textSource: 'qido',
    qidoTextDigest: null,
    patientBirthDate: dicomString(obj, Tag.PatientBirthDate),
  };
}

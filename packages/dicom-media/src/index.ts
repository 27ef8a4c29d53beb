export {
  buildDicomdir,
  type DicomdirInput,
  type DicomdirInstance,
  type DicomdirSeries,
  InvalidDicomdirInputError,
} from './dicomdir.writer.js';
export { type EncapsulatedDocument, readEncapsulatedDocument } from './encapsulated-document.js';
export { assertValidFileId, fileIdFor, MAX_FILE_ID_NUMBER, zipEntryNameFor } from './file-id.scheme.js';
export { type InstanceHeader, MAX_HEADER_LENGTH, parseInstanceHeader } from './instance-header.parser.js';
export { type InstanceHeaderRead, readInstanceHeader } from './instance-header.reader.js';
export { InvalidDicomError, MAX_META_LENGTH, type Part10Meta, readPart10Meta } from './part10-meta.parser.js';
export { buildReadme, type ReadmeInput } from './readme.builder.js';
export {
  assertValidEntryName,
  createStudyZip,
  type StudyZip,
  type StudyZipOptions,
  ZipEntryNameError,
} from './study-zip.writer.js';
export { safeZipFilename, type ZipFilenameInput } from './zip-filename.builder.js';
export {
  buildZipLayout,
  type InstanceFacts,
  layoutReadme,
  measure,
  readInstanceFacts,
  STUDY_KEYS,
  type ZipLayout,
  ZipLayoutNotPossibleError,
  zipLayoutId,
  zipPlanFor,
} from './zip-layout.js';
export {
  planZip,
  readZipRange,
  type ZipPlan,
  type ZipPlanEntry,
  type ZipRangeOptions,
  type ZipSegment,
  ZipSourceChangedError,
} from './zip-plan.js';

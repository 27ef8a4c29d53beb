export { loadDemoData } from './demo-data.js';
export {
  CHARSET_DIR,
  CHARSET_SAMPLES,
  type FreshSample,
  type LoadedSample,
  type LoadSamplesOptions,
  loadSamples,
  type PersonName,
  replaceUids,
  SAMPLE_DIR,
  SAMPLE_STUDIES,
  type SampleStudy,
  samplePathOrThrow,
  sampleStudy,
  uploadWithFreshUids,
} from './dicom-samples.js';
export {
  dciodvfy,
  type FileSetInstance,
  type PydicomHeader,
  pydicomFileSet,
  pydicomHeaders,
} from './dicom-validators.js';
export { describeError, freePort, type WaitForHttpOptions, waitForHttp } from './net.helpers.js';
export {
  type OrthancInstance,
  type StartOrthancOptions,
  startOrthanc,
  type UploadResult,
} from './orthanc.fixture.js';
export { pdfOf, samplePdfReport, samplePdfWithJavaScript, stream as pdfStream } from './pdf-samples.js';
export { collectProcessOutput, killOnExit, type ProcessOutput, tailFile } from './process.helpers.js';
export {
  type ReportFile,
  type ReportFiles,
  type ReportFilesOptions,
  samplePdf,
  writeReportFiles,
} from './report-files.js';
export { type Guard, guardOf, isRefusal, type RawAnswer, sendExact } from './route-refusal.js';
export { concretePath, pathVariants, type WalkRoute } from './route-walk.js';
export {
  CT_IMAGE_STORAGE,
  type SyntheticStudy,
  type SyntheticStudyOptions,
  type UploadedFile,
  uploadDirectory,
  writeSyntheticStudy,
} from './synthetic-study.js';
export {
  appUrlOf,
  createTemplateDatabase,
  createTestDatabase,
  databaseUrl,
  dropStaleTestDatabases,
  dropTemplateDatabase,
  pgAdminUrl,
  TEST_APP_PASSWORD,
  TEST_APP_ROLE,
  type TemplateOptions,
  type TestDatabase,
} from './test-database.js';
export { newUid, newUidOfLength } from './uid.js';

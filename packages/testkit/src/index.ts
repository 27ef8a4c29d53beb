export { loadDemoData } from './demo-data.js';
export {
  CHARSET_DIR,
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
} from './dicom-samples.js';
export { describeError, freePort, type WaitForHttpOptions, waitForHttp } from './net.helpers.js';
export {
  type OrthancInstance,
  type StartOrthancOptions,
  startOrthanc,
  type UploadResult,
} from './orthanc.fixture.js';
export { collectProcessOutput, killOnExit, type ProcessOutput, tailFile } from './process.helpers.js';
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
  TEST_APP_ROLE,
  type TemplateOptions,
  type TestDatabase,
} from './test-database.js';
export { newUid, newUidOfLength } from './uid.js';

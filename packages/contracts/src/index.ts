export {
  ACCESS_EVENTS,
  type AccessEvent,
  type AccessEventBody,
  accessEventBodySchema,
  currentAccessEventName,
  EXPORT_EVENTS,
  type ExportEvent,
  RENAMED_ACCESS_EVENTS,
} from './access-events.contract.js';
export {
  BROWSER_COOKIE,
  DOWNLOAD_REFUSAL_CODES,
  type DownloadRefusalCode,
  type Grant,
  type GrantRequest,
  grantRequestSchema,
  grantSchema,
  isBrowserRequest,
  LANGUAGE_COOKIE,
  VERIFICATION_COOKIE,
} from './grant.contract.js';
export {
  DICOMWEB_GATEWAY_PREFIX,
  DOWNLOAD_PATH,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
  INTERNAL_SECRET_HEADER,
  isStudyUid,
  STUDY_UID_MAX_LENGTH,
  STUDY_UID_PATTERN,
  studyUidSchema,
  TOKEN_PATTERN,
  tokenFromQuery,
  VIEWER_PATH,
} from './paths.contract.js';
export {
  INTERNAL_REPORTS_PATH,
  isReportSopClass,
  PUSHED_REPORT_MAX_BYTES,
  PUSHED_REPORT_ZIP_NAME,
  type PushedReport,
  pushedReportSchema,
  REPORT_SOP_CLASSES,
} from './report.contract.js';
export { INTERNAL_SENDER_PATH, type PatientSender, patientSenderSchema } from './sender.contract.js';
export {
  INTERNAL_ZIP_LAYOUT_STALE_PATH,
  INTERNAL_ZIP_LAYOUTS_PATH,
  LAYOUT_ID_PATTERN,
  layoutIdOfEtag,
  staleLayoutSchema,
  type ZipLayoutBody,
  zipEtag,
  zipLayoutSchema,
} from './zip-layout.contract.js';

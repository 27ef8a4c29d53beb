export { boundaryFromContentType, type ContentType, parseContentType } from './content-type.parser.js';
export {
  type DicomJsonAttribute,
  type DicomJsonObject,
  dicomNumber,
  dicomPersonName,
  dicomPersonNameGroups,
  dicomString,
  dicomStrings,
  Tag,
  type TagKeyword,
} from './dicom-json.helpers.js';
export { assertDicomUid, isDicomUid } from './dicom-uid.validation.js';
export {
  type CallOptions,
  createDicomwebClient,
  type DicomwebClient,
  type DicomwebClientOptions,
  type RelayOptions,
  type RelayResult,
  type RetrieveOptions,
  type RetrieveResult,
} from './dicomweb.client.js';
export {
  DicomwebArgumentError,
  DicomwebError,
  DicomwebNotFoundError,
  DicomwebResponseError,
  DicomwebUnavailableError,
} from './dicomweb.errors.js';
export {
  DEFAULT_INSTANCE_FIELDS,
  DEFAULT_SERIES_FIELDS,
  DEFAULT_STUDY_FIELDS,
  type InstanceSearchQuery,
  type QidoCommonQuery,
  type SeriesSearchQuery,
  type StudySearchQuery,
} from './dicomweb.query.js';
export { MultipartFormatError, MultipartTruncatedError } from './multipart.errors.js';
export { type MultipartPart, type ParseMultipartOptions, parseMultipart } from './multipart.parser.js';
export { isRetryableDicomwebError, type RetryOptions, retry } from './retry.backoff.js';
export {
  createStoreAuthorization,
  GOOGLE_HEALTHCARE_SCOPE,
  parseServiceAccountKey,
  type ServiceAccountKey,
  type StoreAuthorization,
  type StoreAuthSpec,
  type TokenEndpointOptions,
} from './store-auth.js';
export {
  IMPRESSION_CODES,
  isTextStructuredReport,
  type ReportItem,
  readableItems,
  readStructuredReport,
  reportImpression,
  reportToText,
  type StructuredReport,
  TEXT_SR_SOP_CLASSES,
} from './structured-report.js';

/** Base class of the errors the DICOMweb client throws about the store. */
export abstract class DicomwebError extends Error {
  abstract readonly code: string;
}

/**
 * The store answered 404: the study, series or instance does not exist there.
 * @example if (err instanceof DicomwebNotFoundError) ctx.status = 404;
 */
export class DicomwebNotFoundError extends DicomwebError {
  override readonly name = 'DicomwebNotFoundError';
  readonly code = 'DICOMWEB_NOT_FOUND';
  readonly status = 404;
}

/**
 * The store could not be reached or did not answer in time (refused, reset, DNS, timeout, 5xx, 429).
 * `retryable` says whether trying again can help; `cause` holds the underlying error.
 * @example if (err instanceof DicomwebUnavailableError) ctx.status = 503;
 */
export class DicomwebUnavailableError extends DicomwebError {
  override readonly name = 'DicomwebUnavailableError';
  readonly code = 'DICOMWEB_UNAVAILABLE';
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

/**
 * The store answered, but not as DICOMweb says it should (unexpected status, content type or body).
 * @example if (err instanceof DicomwebResponseError) log.error({ status: err.status }, err.message);
 */
export class DicomwebResponseError extends DicomwebError {
  override readonly name = 'DicomwebResponseError';
  readonly code = 'DICOMWEB_BAD_RESPONSE';
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
  }
}

/**
 * The caller passed something unusable (a malformed UID or search parameter); nothing was sent.
 * @example if (err instanceof DicomwebArgumentError) ctx.status = 400;
 */
export class DicomwebArgumentError extends TypeError {
  override readonly name = 'DicomwebArgumentError';
  readonly code = 'DICOMWEB_INVALID_ARGUMENT';
}

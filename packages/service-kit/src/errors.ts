/**
 * A failure the client caused or must be told about: it carries its HTTP status and a stable code.
 * Services throw subclasses; one middleware turns them into responses.
 * @example throw new AppError(404, 'study_not_found', 'No such study in the store');
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input failed its schema: 400 with the zod issues. */
export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'invalid_request', message, details);
  }
}

/** A dependency (database, store) is down: 503 with Retry-After. */
export class ServiceUnavailableError extends AppError {
  constructor(message: string, retryAfterSeconds = 5, code = 'service_unavailable') {
    super(503, code, message, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}

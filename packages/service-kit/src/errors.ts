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

/** Over the invalid-token allowance: 429 with Retry-After, the same plain page for everyone. */
export class TooManyInvalidTokensError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'rate_limited', 'too many invalid links from this address; try again later', undefined, {
      'retry-after': String(retryAfterSeconds),
    });
  }
}

/**
 * A client error that arrives as a low-level exception rather than an AppError: a request body that
 * does not inflate (`Content-Encoding: gzip` over bytes that are not gzip), or text that PostgreSQL
 * cannot store (a NUL character). Such a request is the client's mistake: a 400, never a 500.
 */
export function clientErrorFromLowLevel(err: unknown): AppError | null {
  const e = err as { code?: unknown; errno?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  // zlib's codes start Z_ (gzip, deflate); brotli's start ERR__ERROR_ (ERR__ERROR_FORMAT_PADDING_2).
  if (code.startsWith('Z_') || code.startsWith('ERR__ERROR_'))
    return new AppError(400, 'bad_encoding', 'the request body does not match its Content-Encoding');
  // PostgreSQL: 22021 invalid byte sequence (a NUL in text), 22P05 untranslatable character.
  if (code === '22021' || code === '22P05')
    return new AppError(400, 'invalid_text', 'the request holds a character that cannot be stored');
  return null;
}

/**
 * True when `err` means the client went away before its request body arrived (Node's `aborted`,
 * raw-body's `request.aborted`): nobody is waiting for an answer and nothing is wrong here, so it is
 * logged at info level and never mistaken for a database or store outage (both share ECONNRESET).
 * @example if (isClientAbort(err)) log.info('client went away');
 */
export function isClientAbort(err: unknown): boolean {
  const e = err as { code?: unknown; type?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.type === 'request.aborted' || e.code === 'ECONNABORTED') return true;
  return e.code === 'ECONNRESET' && e.message === 'aborted';
}

/** What a client that went away mid-request is answered (if anything still reads it). */
export class ClientAbortedError extends AppError {
  constructor() {
    super(400, 'client_aborted', 'the request ended before its body arrived');
  }
}

/**
 * The multipart stream ended (or was cut) before its closing delimiter `--boundary--`.
 * The content is incomplete and must never be treated as a whole study.
 * @example if (err instanceof MultipartTruncatedError) response.destroy(err);
 */
export class MultipartTruncatedError extends Error {
  override readonly name = 'MultipartTruncatedError';
  readonly code = 'MULTIPART_TRUNCATED';

  constructor(message = 'multipart body ended before its closing delimiter; the content is incomplete') {
    super(message);
  }
}

/**
 * The multipart stream or its Content-Type is malformed (no boundary, oversized or broken part headers).
 * @example if (err instanceof MultipartFormatError) log.warn({ err }, 'store sent a broken multipart body');
 */
export class MultipartFormatError extends Error {
  override readonly name = 'MultipartFormatError';
  readonly code = 'MULTIPART_FORMAT';
}

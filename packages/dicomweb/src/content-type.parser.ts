import { MultipartFormatError } from './multipart.errors.js';

export interface ContentType {
  /** `type/subtype`, lower-cased. */
  mediaType: string;
  /** Parameters with lower-cased names and unquoted values. */
  params: Record<string, string>;
}

/**
 * Parses a Content-Type header (RFC 9110 media type with parameters, quoted strings unescaped).
 * @example parseContentType('multipart/related; type="application/dicom"; boundary=abc').params.boundary // 'abc'
 */
export function parseContentType(header: string): ContentType {
  const semi = header.indexOf(';');
  const mediaType = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  const params: Record<string, string> = Object.create(null);
  let i = semi === -1 ? header.length : semi + 1;
  // Header values are short, so a character walk is fine here (it never touches a body).
  while (i < header.length) {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t' || header[i] === ';')) i++;
    const nameStart = i;
    while (i < header.length && header[i] !== '=' && header[i] !== ';') i++;
    const name = header.slice(nameStart, i).trim().toLowerCase();
    if (header[i] !== '=') continue; // a bare token without a value: nothing to record
    i++;
    let value: string;
    if (header[i] === '"') {
      i++;
      value = '';
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < header.length) i++;
        value += header[i];
        i++;
      }
      if (header[i] !== '"')
        throw new MultipartFormatError(`unterminated quoted parameter "${name}" in Content-Type`);
      i++;
      while (i < header.length && header[i] !== ';') i++;
    } else {
      const valueStart = i;
      while (i < header.length && header[i] !== ';') i++;
      value = header.slice(valueStart, i).trim();
    }
    // The first occurrence wins, so a later duplicate cannot override what was checked.
    if (name !== '' && !(name in params)) params[name] = value;
  }
  return { mediaType, params };
}

/**
 * Extracts the (unquoted) boundary of a multipart Content-Type, or throws MultipartFormatError.
 * @example boundaryFromContentType('multipart/related; boundary="a b"') // 'a b'
 */
export function boundaryFromContentType(header: string | undefined | null): string {
  if (!header)
    throw new MultipartFormatError('missing Content-Type; expected multipart/related with a boundary');
  const { mediaType, params } = parseContentType(header);
  if (!mediaType.startsWith('multipart/')) {
    throw new MultipartFormatError(`expected a multipart Content-Type, got "${mediaType}"`);
  }
  const boundary = params.boundary;
  if (boundary === undefined || boundary === '') {
    throw new MultipartFormatError(`Content-Type "${mediaType}" has no boundary parameter`);
  }
  assertValidBoundary(boundary);
  return boundary;
}

// RFC 2046 §5.1.1 allows 1-70 characters and no trailing space. We accept any printable ASCII
// because real servers stray from bchars, but never CR/LF, which would break delimiter matching.
const BOUNDARY_PATTERN = /^[\x20-\x7e]{0,69}[\x21-\x7e]$/;

/**
 * Throws MultipartFormatError unless `boundary` is a usable multipart boundary.
 * @example assertValidBoundary('frontier') // ok
 */
export function assertValidBoundary(boundary: string): void {
  if (!BOUNDARY_PATTERN.test(boundary)) {
    throw new MultipartFormatError('invalid multipart boundary: expected 1-70 printable ASCII characters');
  }
}

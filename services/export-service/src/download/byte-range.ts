/** What a request's `Range` asks of a representation of `length` bytes (RFC 9110 14.1-14.2). */
export type RangeRequest =
  | { kind: 'whole' }
  | { kind: 'single'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SPEC = /^(\d{0,16})-(\d{0,16})$/;

/**
 * Reads a `Range` header: one `bytes=a-b`, `bytes=a-` or `bytes=-n` is answered as a range; no
 * header, another unit, a malformed value or several ranges get the whole file (a server may always
 * ignore Range, and several ranges would need a multipart/byteranges answer); a range that starts
 * past the end is unsatisfiable (416).
 * @example parseRange('bytes=100-', 1000) // { kind: 'single', start: 100, end: 999 }
 */
export function parseRange(header: string | undefined, length: number): RangeRequest {
  if (!header) return { kind: 'whole' };
  const m = /^bytes=(.+)$/i.exec(header.trim());
  if (!m) return { kind: 'whole' };
  const specs = (m[1] as string).split(',').map((s) => s.trim());
  if (specs.length !== 1) return { kind: 'whole' };
  const spec = SPEC.exec(specs[0] as string);
  if (!spec) return { kind: 'whole' };
  const [, a = '', b = ''] = spec;
  if (a === '' && b === '') return { kind: 'whole' };
  if (a === '') {
    // The last n bytes.
    const n = Number(b);
    if (n === 0 || length === 0) return { kind: 'unsatisfiable' };
    return { kind: 'single', start: Math.max(0, length - n), end: length - 1 };
  }
  const start = Number(a);
  const end = b === '' ? length - 1 : Math.min(Number(b), length - 1);
  if (b !== '' && Number(b) < start) return { kind: 'whole' }; // invalid: ignored
  if (start >= length) return { kind: 'unsatisfiable' };
  return { kind: 'single', start, end };
}

/** True when the request carries one syntactically valid byte range (so a resume may be asked for). */
export function isSingleRange(header: string | undefined): boolean {
  return parseRange(header, Number.MAX_SAFE_INTEGER).kind === 'single';
}

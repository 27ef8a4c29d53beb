import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppError, ConfigError } from '@studylink/service-kit';

/** The largest logo accepted: it is on every patient page, a phone's first load included. */
export const LOGO_MAX_BYTES = 200 * 1024;

export type LogoType = 'image/png' | 'image/jpeg';

/** A checked logo: its bytes, its type (from the bytes, never from a name or a header) and digest. */
export interface Logo {
  bytes: Buffer;
  contentType: LogoType;
  sha256: string;
}

/** Not a PNG or JPEG (SVG above all: it can carry script), or larger than LOGO_MAX_BYTES. */
export class InvalidLogoError extends AppError {
  constructor(reason: 'type' | 'size' | 'empty') {
    super(
      reason === 'size' ? 413 : reason === 'empty' ? 400 : 415,
      reason === 'size' ? 'logo_too_large' : 'invalid_logo',
      reason === 'size'
        ? `the logo must be at most ${LOGO_MAX_BYTES} bytes`
        : reason === 'empty'
          ? 'the logo is empty'
          : 'the logo must be a PNG or JPEG image (no SVG)',
    );
  }
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image type from the file's first bytes; null when it is neither PNG nor JPEG. */
export function sniffLogoType(bytes: Uint8Array): LogoType | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A PNG's signature, then its IHDR chunk (length 13): more than the 8 bytes a text file could fake.
  if (b.length >= 24 && b.subarray(0, 8).equals(PNG_MAGIC) && b.toString('latin1', 12, 16) === 'IHDR')
    return 'image/png';
  // SOI, then a marker (APPn, DQT, SOF...).
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  return null;
}

/**
 * Checks an uploaded logo and returns it with its type and digest.
 * @example const logo = logoOrThrow(await readFile('logo.png')); logo.contentType === 'image/png'
 */
export function logoOrThrow(bytes: Uint8Array): Logo {
  if (bytes.byteLength === 0) throw new InvalidLogoError('empty');
  if (bytes.byteLength > LOGO_MAX_BYTES) throw new InvalidLogoError('size');
  const contentType = sniffLogoType(bytes);
  if (!contentType) throw new InvalidLogoError('type');
  const buf = Buffer.from(bytes);
  return { bytes: buf, contentType, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** Where pages load the logo from: our own origin, its digest in the name (cached for good). */
export function logoUrl(l: { contentType: LogoType; sha256: string }): string {
  return `/assets/logo/${l.sha256.slice(0, 32)}.${l.contentType === 'image/png' ? 'png' : 'jpg'}`;
}

/** LOGO_FILE read and checked at start; a missing or wrong file stops the start with the reason. */
export function readLogoFileOrThrow(path: string): Logo {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError([
      `LOGO_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  try {
    return logoOrThrow(bytes);
  } catch (err) {
    throw new ConfigError([`LOGO_FILE: ${(err as Error).message}`]);
  }
}

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const TOKEN_LENGTH = 64;
export { TOKEN_PATTERN } from '@studylink/contracts';

// 248 = 4 × 62: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_LIMIT = 256 - (256 % TOKEN_ALPHABET.length);

/** A new token: 64 characters of [A-Za-z0-9] from the CSPRNG, without modulo bias (≈381 bits). */
export function generateToken(): string {
  let out = '';
  while (out.length < TOKEN_LENGTH) {
    for (const b of randomBytes(80)) {
      if (b < UNBIASED_LIMIT) out += TOKEN_ALPHABET[b % TOKEN_ALPHABET.length];
      if (out.length === TOKEN_LENGTH) break;
    }
  }
  return out;
}

/** The additional data a link's PIN is encrypted with: bound to its link, it cannot be moved to another row. */
export function pinAad(tokenHash: Buffer): Buffer {
  return Buffer.concat([tokenHash, Buffer.from('pin')]);
}

/** The lookup key stored in the database: SHA-256 of the token. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const VERSION = 1;

/**
 * AES-256-GCM with a key that never enters the database, so staff can display a token again
 * while a database dump alone yields nothing usable. Layout: version(1) keyId(4) iv(12) tag(16) ct.
 * The key id lets a rotation decrypt with the previous key and re-encrypt with the new one.
 */
export class TokenCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: { id: Buffer; key: Buffer };

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    for (const k of [currentKey, ...previousKeys]) {
      if (k.length !== 32) throw new Error('token encryption keys must be 32 bytes');
    }
    this.current = { id: keyId(currentKey), key: currentKey };
    this.keys = new Map([currentKey, ...previousKeys].map((k) => [keyId(k).toString('hex'), k]));
  }

  encrypt(token: string, aad: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), this.current.id, iv, cipher.getAuthTag(), ct]);
  }

  decrypt(blob: Buffer, aad: Buffer): string {
    if (blob[0] !== VERSION || blob.length < 33) throw new Error('unknown token ciphertext format');
    const key = this.keys.get(blob.subarray(1, 5).toString('hex'));
    if (!key) throw new Error('token was encrypted with a key that is not configured');
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(5, 17));
    decipher.setAAD(aad);
    decipher.setAuthTag(blob.subarray(17, 33));
    return Buffer.concat([decipher.update(blob.subarray(33)), decipher.final()]).toString('utf8');
  }

  /** True when the blob was written with a key other than the current one. */
  needsReencryption(blob: Buffer): boolean {
    return !blob.subarray(1, 5).equals(this.current.id);
  }
}

function keyId(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, 4);
}

/** Parses a 32-byte key given as 64 hex characters or base64. */
export function parseKey(raw: string): Buffer | null {
  const key = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  return key.length === 32 ? key : null;
}

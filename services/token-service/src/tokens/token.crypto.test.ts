import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, parseKey, TOKEN_ALPHABET, TokenCipher } from './token.crypto.js';

describe('generateToken', () => {
  it('makes 10^5 distinct 64-character [A-Za-z0-9] tokens, uniform at every position', () => {
    const n = 100_000;
    const seen = new Set<string>();
    // counts[position][character]
    const counts = Array.from({ length: 64 }, () => new Uint32Array(128));
    for (let i = 0; i < n; i++) {
      const t = generateToken();
      expect(t).toMatch(/^[A-Za-z0-9]{64}$/);
      seen.add(t);
      for (let p = 0; p < 64; p++) {
        const row = counts[p] as Uint32Array;
        const code = t.charCodeAt(p);
        row[code] = (row[code] ?? 0) + 1;
      }
    }
    expect(seen.size).toBe(n);
    // Chi-square per position with 61 degrees of freedom: the 99.99th percentile is about 118.
    // A modulo-biased generator (b % 62 over 0..255) scores far above that at n = 10^5.
    const expected = n / 62;
    let worst = 0;
    for (const c of counts) {
      let chi = 0;
      for (const ch of TOKEN_ALPHABET) chi += ((c[ch.charCodeAt(0)] ?? 0) - expected) ** 2 / expected;
      worst = Math.max(worst, chi);
    }
    expect(worst).toBeLessThan(130);
  });
});

describe('TokenCipher', () => {
  const key = randomBytes(32);
  it('round-trips and binds the ciphertext to the token hash', () => {
    const cipher = new TokenCipher(key);
    const t = generateToken();
    const blob = cipher.encrypt(t, hashToken(t));
    expect(blob.includes(Buffer.from(t))).toBe(false);
    expect(cipher.decrypt(blob, hashToken(t))).toBe(t);
    expect(() => cipher.decrypt(blob, hashToken('x'))).toThrow();
  });

  it('decrypts with a previous key after rotation and says it needs re-encryption', () => {
    const t = generateToken();
    const old = new TokenCipher(key);
    const blob = old.encrypt(t, hashToken(t));
    const rotated = new TokenCipher(randomBytes(32), [key]);
    expect(rotated.decrypt(blob, hashToken(t))).toBe(t);
    expect(rotated.needsReencryption(blob)).toBe(true);
    expect(() => new TokenCipher(randomBytes(32)).decrypt(blob, hashToken(t))).toThrow(/not configured/);
  });

  it('parses keys as hex or base64 and refuses other sizes', () => {
    expect(parseKey(key.toString('hex'))?.equals(key)).toBe(true);
    expect(parseKey(key.toString('base64'))?.equals(key)).toBe(true);
    expect(parseKey('abcd')).toBeNull();
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cookieValue, VERIFIED_FOR_SECONDS, VerificationCookies } from './verification.cookie.js';

const link = { tokenId: 42, tokenHash: randomBytes(32) };

describe('VerificationCookies', () => {
  it('a cookie opens its own link until it expires', () => {
    let now = 1_800_000_000_000;
    const cookies = new VerificationCookies(randomBytes(32), () => now);
    const { value, maxAgeSeconds } = cookies.issue(link, null);
    expect(maxAgeSeconds).toBe(VERIFIED_FOR_SECONDS);
    expect(value).toMatch(/^v1\.42\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(cookies.verify(link, value)).toBe(true);
    now += (VERIFIED_FOR_SECONDS - 1) * 1000;
    expect(cookies.verify(link, value)).toBe(true);
    now += 1000;
    expect(cookies.verify(link, value)).toBe(false);
  });

  it('never outlives the link', () => {
    const now = 1_800_000_000_000;
    const cookies = new VerificationCookies(randomBytes(32), () => now);
    const { maxAgeSeconds } = cookies.issue(link, new Date(now + 600_000));
    expect(maxAgeSeconds).toBe(600);
  });

  it('does not open another link, a replaced link, or survive tampering or another key', () => {
    const key = randomBytes(32);
    const cookies = new VerificationCookies(key);
    const { value } = cookies.issue(link, null);
    expect(cookies.verify({ tokenId: 43, tokenHash: link.tokenHash }, value)).toBe(false);
    expect(cookies.verify({ tokenId: 42, tokenHash: randomBytes(32) }, value)).toBe(false);
    const [v, id, exp, mac] = value.split('.') as [string, string, string, string];
    expect(cookies.verify(link, [v, id, String(Number(exp) + 3600), mac].join('.'))).toBe(false);
    expect(
      cookies.verify(link, [v, id, exp, `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`].join('.')),
    ).toBe(false);
    expect(new VerificationCookies(randomBytes(32)).verify(link, value)).toBe(false);
    expect(new VerificationCookies(key).verify(link, value)).toBe(true);
    for (const junk of ['', 'v1', 'v2.42.1.x', `${value}x`, null, undefined])
      expect(cookies.verify(link, junk)).toBe(false);
  });
});

describe('cookieValue', () => {
  it('finds one cookie among others', () => {
    expect(cookieValue('a=1; studylink_verified=v1.2.3.x; b=2', 'studylink_verified')).toBe('v1.2.3.x');
    expect(cookieValue('xstudylink_verified=1', 'studylink_verified')).toBeNull();
    expect(cookieValue(undefined, 'a')).toBeNull();
  });
});

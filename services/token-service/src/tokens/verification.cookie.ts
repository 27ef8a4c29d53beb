import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** The cookie a right birth date or PIN earns: one link, one browser, for VERIFIED_FOR_SECONDS. */
export { BROWSER_COOKIE, VERIFICATION_COOKIE } from '@studylink/contracts';
/** How long a right answer holds (README: "Second factor"); never past the link's own expiry. */
export const VERIFIED_FOR_SECONDS = 12 * 3600;
const FORMAT = /^v1\.(\d{1,15})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/** What a verification cookie is bound to: the link's id and its hash (a replaced link gets a new one). */
export interface CookieSubject {
  tokenId: number;
  tokenHash: Buffer;
}

/**
 * Signs and checks verification cookies: `v1.<token id>.<expiry epoch s>.<HMAC-SHA256>` over the id,
 * the expiry and the token's hash, under a key derived from the token encryption key (the same on
 * every replica, never in the database). A cookie from one link does not open another.
 */
export class VerificationCookies {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'studylink', 'patient verification cookie v1', 32));
  }

  /** A cookie value valid until `expires` (epoch ms), and its lifetime in seconds. */
  issue(subject: CookieSubject, linkExpiresAt: Date | null): { value: string; maxAgeSeconds: number } {
    const nowS = Math.floor(this.now() / 1000);
    let exp = nowS + VERIFIED_FOR_SECONDS;
    if (linkExpiresAt) exp = Math.min(exp, Math.floor(linkExpiresAt.getTime() / 1000));
    const value = `v1.${subject.tokenId}.${exp}.${this.mac(subject, exp)}`;
    return { value, maxAgeSeconds: Math.max(0, exp - nowS) };
  }

  /** True when `value` was issued for this link and has not expired. */
  verify(subject: CookieSubject, value: string | null | undefined): boolean {
    const m = FORMAT.exec(value ?? '');
    if (!m) return false;
    const [, id, exp, mac] = m as unknown as [string, string, string, string];
    if (Number(id) !== subject.tokenId) return false;
    if (Number(exp) * 1000 <= this.now()) return false;
    const expected = Buffer.from(this.mac(subject, Number(exp)));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private mac(subject: CookieSubject, exp: number): string {
    return createHmac('sha256', this.key)
      .update(`${subject.tokenId}.${exp}.`)
      .update(subject.tokenHash)
      .digest('base64url');
  }
}

export { cookieValue } from '@studylink/service-kit';

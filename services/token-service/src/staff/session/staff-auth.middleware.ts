import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { CsrfError, StaffForbiddenError } from '../shared/staff.errors.js';
import { readForm } from '../shared/staff.form.js';
import type { StaffSession, StaffSessionService } from './staff-session.service.js';

export const SESSION_COOKIE = 'studylink_staff';
export const PRE_SESSION_COOKIE = 'studylink_staff_pre';
const COOKIE_PATH = '/staff';
const PRE_SESSION = /^[A-Za-z0-9_-]{22}$/;

/** True when the browser reached nginx over https: X-Forwarded-Proto, believed from a trusted proxy only. */
export function cameOverHttps(ctx: Context, trustedProxies: ReadonlySet<string>): boolean {
  const peer = (ctx.req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  return trustedProxies.has(peer) && ctx.get('x-forwarded-proto').toLowerCase() === 'https';
}

/**
 * Sets a staff cookie: HttpOnly, SameSite=Strict, path /staff, Secure when the request came over
 * https. Written by hand: koa's cookie helper refuses Secure behind a proxy it does not trust.
 * `lax` (path and SameSite=Lax) is for the single sign-on's cookie, which must come back with the
 * provider's redirect to the callback: a navigation from another site.
 */
export function setStaffCookie(
  ctx: Context,
  trustedProxies: ReadonlySet<string>,
  name: string,
  value: string,
  maxAgeSeconds?: number,
  lax?: { path: string },
): void {
  const parts = lax
    ? [`${name}=${value}`, `Path=${lax.path}`, 'HttpOnly', 'SameSite=Lax']
    : [`${name}=${value}`, `Path=${COOKIE_PATH}`, 'HttpOnly', 'SameSite=Strict'];
  if (maxAgeSeconds !== undefined) parts.push(`Max-Age=${maxAgeSeconds}`);
  if (cameOverHttps(ctx, trustedProxies)) parts.push('Secure');
  ctx.append('set-cookie', parts.join('; '));
}

export function clearStaffCookie(ctx: Context, trustedProxies: ReadonlySet<string>, name: string): void {
  setStaffCookie(ctx, trustedProxies, name, '', 0);
}

export function readCookie(ctx: Context, name: string): string | undefined {
  return ctx.cookies.get(name) || undefined;
}

/** Constant-time equality of two strings of any length. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

/**
 * CSRF for the sign-in form, where no session exists yet: a random pre-session cookie and, in the
 * form, its HMAC under a key derived from the internal secret (signed double submit). An attacker's
 * page can neither read the cookie nor forge the HMAC, so it cannot sign a victim in as someone else.
 */
export class SignInCsrf {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'studylink', 'staff sign-in csrf v1', 32));
  }

  /** The pre-session id from the cookie, or a new one (set it with setStaffCookie). */
  preSession(ctx: Context): { id: string; fresh: boolean } {
    const existing = readCookie(ctx, PRE_SESSION_COOKIE);
    if (existing && PRE_SESSION.test(existing)) return { id: existing, fresh: false };
    return { id: randomBytes(16).toString('base64url'), fresh: true };
  }

  tokenFor(preSessionId: string): string {
    return createHmac('sha256', this.key).update(preSessionId).digest('base64url');
  }

  verify(ctx: Context, presented: string | undefined): boolean {
    const pre = readCookie(ctx, PRE_SESSION_COOKIE);
    if (!pre || !PRE_SESSION.test(pre) || !presented) return false;
    return sameSecret(this.tokenFor(pre), presented);
  }
}

/** The signed-in user of this request, or null. */
export function currentSession(ctx: Context): StaffSession | null {
  return (ctx.state.staffSession as StaffSession | undefined) ?? null;
}

export function sessionOrThrow(ctx: Context): StaffSession {
  const s = currentSession(ctx);
  if (!s) throw new Error('route needs requireSignedIn before it');
  return s;
}

/** Loads the session from its cookie, if any, onto ctx.state. */
export function loadSession(sessions: StaffSessionService) {
  return async (ctx: Context, next: Next) => {
    const result = await sessions.resume(readCookie(ctx, SESSION_COOKIE));
    if (result.status === 'ok') ctx.state.staffSession = result.session;
    else if (result.status === 'expired') ctx.state.staffSessionExpired = true;
    await next();
  };
}

/** The sign-in page's address that comes back here afterwards. */
export function signInUrl(ctx: Context, reason?: 'expired' | 'signed-out'): string {
  const params = new URLSearchParams();
  if (ctx.method === 'GET' && ctx.path !== '/staff' && ctx.path !== '/staff/') params.set('next', ctx.url);
  if (reason) params.set('reason', reason);
  const q = params.toString();
  return `/staff/sign-in${q ? `?${q}` : ''}`;
}

/**
 * Signed-out visitors go to the sign-in page (and come back afterwards). Every POST must carry
 * the session's CSRF token, or it is refused with 403 before the route runs.
 */
export async function requireSignedIn(ctx: Context, next: Next) {
  const session = currentSession(ctx);
  if (!session) {
    ctx.status = 303;
    ctx.redirect(signInUrl(ctx, ctx.state.staffSessionExpired ? 'expired' : undefined));
    return;
  }
  if (ctx.method === 'POST') {
    // A browser that says the request comes from another site is refused even before the token.
    if (ctx.get('sec-fetch-site') === 'cross-site') throw new CsrfError();
    const form = await readForm(ctx);
    if (!form._csrf || !sameSecret(form._csrf, session.csrfToken)) throw new CsrfError();
  }
  await next();
}

export async function requireAdmin(ctx: Context, next: Next) {
  if (currentSession(ctx)?.role !== 'admin') throw new StaffForbiddenError();
  await next();
}

/** Only same-site paths under /staff may be a destination after sign-in: no open redirect. */
export function safeNext(next: string | undefined): string {
  if (!next) return '/staff/studies';
  if (!/^\/staff(\/|\?|$)/.test(next) || /[\\\s]|\/\/|%2f%2f/i.test(next) || next.length > 1000) {
    return '/staff/studies';
  }
  return next.startsWith('/staff/sign-in') || next.startsWith('/staff/sign-out') ? '/staff/studies' : next;
}

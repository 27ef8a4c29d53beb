import type { Context } from 'koa';

const CSP =
  "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Headers on every patient-facing response: the token in the URL must not leak or be cached. */
export function setPatientHeaders(ctx: Context): void {
  ctx.set('cache-control', 'no-store');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('content-security-policy', CSP);
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('x-robots-tag', 'noindex, nofollow');
  ctx.set('x-frame-options', 'DENY');
}

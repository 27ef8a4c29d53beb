import type { Context } from 'koa';

/**
 * Same-origin posts only. A browser says where a form came from in `Sec-Fetch-Site`, which decides
 * when present (with `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for the
 * page's own forms); older browsers send only `Origin`, which must name this host. Clients that
 * send neither are not browsers, and nothing a browser could be tricked into.
 */
export function isSameOriginPost(ctx: Context): boolean {
  const site = ctx.get('sec-fetch-site');
  if (site) return site === 'same-origin';
  const origin = ctx.get('origin');
  if (!origin) return true;
  try {
    const host = ctx
      .get('host')
      .replace(/:\d+$/, '')
      .replace(/^\[(.*)\]$/, '$1');
    return new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1') === host;
  } catch {
    return false; // `Origin: null` and other opaque origins
  }
}

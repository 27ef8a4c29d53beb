import { createHash, timingSafeEqual } from 'node:crypto';
import Router, { type RouterOptions } from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { AppError } from './errors.js';

/**
 * A router whose paths match exactly as written: case-sensitive, and a trailing slash is a different
 * path. Authentication is bound to each route (pass the check before the handler), never to a
 * `router.use()` path prefix, so no spelling of a path reaches a handler without its check.
 * @example const router = createRouter({ prefix: '/api/v1' }); router.get('/x', requireKey, handler);
 */
export function createRouter(opts: Omit<RouterOptions, 'sensitive' | 'strict'> = {}): Router {
  return new Router({ ...opts, sensitive: true, strict: true });
}

/** One route as registered: what the route-walking tests read. */
export interface RouteInfo {
  method: string;
  path: string;
}

const mounted = new WeakMap<object, RouteInfo[]>();

/**
 * Mounts routers on an app (routes, then 405/501 for other methods) and remembers their routes, so
 * that tests can walk every registered route without anyone keeping a list.
 * @example mountRouters(app, [health, api]); registeredRoutes(app) // [{ method: 'GET', path: '/livez' }, ...]
 */
export function mountRouters(app: { use(m: Middleware): unknown }, routers: Router[]): void {
  for (const r of routers) {
    app.use(r.routes() as unknown as Middleware);
    app.use(r.allowedMethods() as unknown as Middleware);
  }
  recordRoutes(app, routers);
}

/** Records routers that an app dispatches by other means (a sub-app's middleware). */
export function recordRoutes(app: object, routers: Router[]): void {
  const list = mounted.get(app) ?? [];
  for (const r of routers) {
    for (const layer of r.stack) {
      if (typeof layer.path !== 'string') continue;
      for (const method of layer.methods) {
        if (method === 'HEAD') continue; // koa-router adds HEAD to every GET
        list.push({ method, path: layer.path });
      }
    }
  }
  mounted.set(app, list);
}

/** Every route mounted with mountRouters/recordRoutes on `app`. */
export function registeredRoutes(app: object): RouteInfo[] {
  return [...(mounted.get(app) ?? [])];
}

/** Missing or wrong shared secret on an internal route: 401, and nothing about why. */
export class InternalUnauthorizedError extends AppError {
  constructor() {
    super(401, 'unauthorized', 'this internal route needs the shared secret');
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The shared secret between the services, from `X-Internal-Secret` or `Authorization: Bearer`
 * (what Prometheus sends), compared in constant time against the current secret and, during a
 * rotation, the previous one. Bind it to each internal route.
 * @example router.post('/internal/v1/grants', requireSharedSecret([secret, previous]), handler);
 */
export function requireSharedSecret(secrets: readonly string[]): Middleware {
  const expected = secrets.filter(Boolean).map(digest);
  if (expected.length === 0) throw new Error('requireSharedSecret needs at least one secret');
  return async (ctx: Context, next: Next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const presented = digest(ctx.get('x-internal-secret') || bearer || '');
    let ok = false;
    for (const e of expected) ok = timingSafeEqual(presented, e) || ok; // no early exit
    ctx.set('cache-control', 'no-store');
    if (!ok) throw new InternalUnauthorizedError();
    await next();
  };
}

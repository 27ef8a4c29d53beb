import type { Context } from 'koa';

/** A service's readiness: ready (200) or not (503), with each check's state. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string | number>;
}

/**
 * The `/readyz` handler both services mount on their public and internal listeners: 200 when
 * ready, 503 when not, the checks in the body, never cached.
 * @example router.get('/readyz', readinessRoute(async () => ({ ready: true, checks: {} })));
 */
export function readinessRoute(readiness: () => Promise<ReadinessReport>) {
  return async (ctx: Context) => {
    const { ready, checks } = await readiness();
    ctx.status = ready ? 200 : 503;
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: ready ? 'ready' : 'not ready', checks };
  };
}

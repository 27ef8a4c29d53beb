import type { Context, Next } from 'koa';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { ApiKeyService, ApiPrincipal } from './api-key.service.js';

/** `Authorization: Bearer <api key>` on every /api route except the OpenAPI document. */
export function requireApiKey(keys: ApiKeyService) {
  return async (ctx: Context, next: Next) => {
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(ctx.get('authorization'));
    const principal = m?.[1] ? await keys.authenticate(m[1]) : null;
    if (!principal) throw new UnauthorizedError();
    ctx.state.principal = principal;
    await next();
  };
}

export function requireAdmin(ctx: Context, next: Next) {
  const p = ctx.state.principal as ApiPrincipal | undefined;
  if (p?.role !== 'admin') throw new ForbiddenError('an admin API key is required');
  return next();
}

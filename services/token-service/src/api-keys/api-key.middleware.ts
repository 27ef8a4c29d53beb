import type { Context, Next } from 'koa';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { type ApiKeyService, type ApiPrincipal, type ApiScope, hasScope } from './api-key.service.js';

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

/** Lets the request on when the key has one of `scopes` (or admin); 403 naming them otherwise. */
export function requireScope(...scopes: ApiScope[]) {
  const needed = [...scopes, ...(scopes.includes('admin') ? [] : (['admin'] as const))];
  return (ctx: Context, next: Next) => {
    const p = ctx.state.principal as ApiPrincipal | undefined;
    if (!p || !hasScope(p.scopes, scopes))
      throw new ForbiddenError(`this needs an API key with the scope ${needed.join(' or ')}`);
    return next();
  };
}

export const requireAdmin = requireScope('admin');

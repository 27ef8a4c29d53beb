import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { AppError, ClientAbortedError, clientErrorFromLowLevel, isClientAbort } from './errors.js';
import { redactTokens } from './redact.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface RequestState {
  requestId: string;
  log: Logger;
}

/**
 * Gives every request an id (from a well-formed `x-request-id` or a new one), a child logger,
 * and logs one "request completed" line. Only the path is logged, never the query string
 * (`/token?<token>` carries a secret), and anything token-shaped in the path is redacted.
 * @example app.use(requestContext(log));
 */
export function requestContext(log: Logger) {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const started = process.hrtime.bigint();
    ctx.state.requestId = requestId;
    ctx.state.log = log.child({ requestId });
    ctx.set('x-request-id', requestId);
    try {
      await next();
    } finally {
      const line = {
        method: ctx.method,
        // A token may sit in the path too (`/token%3F<token>`, `/token/<token>`): never logged.
        path: redactTokens(ctx.path),
        status: ctx.status,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      };
      // Streamed bodies finish later; the export service logs their outcome itself.
      (ctx.state.log as Logger).info(line, 'request completed');
    }
  };
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * Maps thrown errors to responses in one place: AppError → its status and stable code,
 * koa/http errors with a 4xx status → that status, anything else → a generic 500 that is
 * logged and never echoed. `render` may produce HTML for page routes.
 * Once a streamed body has begun there is no error page: the socket is destroyed.
 * @example app.use(errorHandler({ render: (ctx, status, body) => { ... } }));
 */
export function errorHandler(
  opts: { render?: (ctx: Context, status: number, body: ErrorBody) => boolean } = {},
) {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
    } catch (thrown) {
      const log: Logger | undefined = ctx.state.log;
      let err = thrown;
      if (isClientAbort(thrown)) {
        // The client left mid-body: a client abort, at info level, never an alarm.
        log?.info({ err: errorSummary(thrown) }, 'client went away before its request was read');
        err = new ClientAbortedError();
        if (!ctx.writable) {
          ctx.status = 400;
          return;
        }
      }
      if (ctx.headerSent || !ctx.writable) {
        log?.warn({ err: errorSummary(err) }, 'error after response started; connection cut');
        ctx.req.socket.destroy();
        return;
      }
      const { status, body, headers } = toResponse(clientErrorFromLowLevel(err) ?? err);
      if (status >= 500 && !(err instanceof AppError)) {
        log?.error({ err }, 'unhandled error');
      }
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
      if (opts.render?.(ctx, status, body)) return;
      ctx.body = body;
    }
  };
}

function toResponse(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof AppError) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details !== undefined) body.error.details = err.details;
    return { status: err.status, body, headers: err.headers ?? {} };
  }
  const e = err as { status?: unknown; expose?: unknown; message?: unknown };
  // koa-body / koa's ctx.throw errors: client errors with a 4xx status.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const message = e.expose && typeof e.message === 'string' ? e.message : 'bad request';
    return { status: e.status, body: { error: { code: 'bad_request', message } }, headers: {} };
  }
  return {
    status: 500,
    body: { error: { code: 'internal_error', message: 'internal error' } },
    headers: {},
  };
}

function errorSummary(err: unknown) {
  return err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) };
}

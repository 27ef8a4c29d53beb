import { randomUUID } from 'node:crypto';
import type Router from '@koa/router';
import {
  DOWNLOAD_PATH,
  isBrowserRequest,
  LANGUAGE_COOKIE,
  TOKEN_PATTERN,
  tokenFromQuery,
  VERIFICATION_COOKIE,
} from '@studylink/contracts';
import type { DicomwebClient } from '@studylink/dicomweb';
import {
  clientIp,
  cookieValue,
  createRouter,
  type Logger,
  rateLimitKey,
  ServiceUnavailableError,
  setPatientHeaders,
} from '@studylink/service-kit';
import type { Context } from 'koa';
import type { ExportLimiter } from './export.limiter.js';
import {
  type AccessEventBody,
  GrantNotFoundError,
  GrantVerificationRequiredError,
  type TokenServiceClient,
} from './grant.client.js';

import { prepareExportOrThrow } from './study.export.js';

export { DOWNLOAD_PATH };

/** A client that takes less than `minBytes` in `windowMs` while the zip waits for it loses its slot. */
export interface ClientStallPolicy {
  windowMs: number;
  minBytes: number;
}

export interface ExportDeps {
  tokens: TokenServiceClient;
  dicomweb: DicomwebClient;
  limiter: ExportLimiter;
  log: Logger;
  trustedProxies: ReadonlySet<string>;
  isDraining: () => boolean;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  /** Default: 30 s and 64 KiB. */
  clientStall?: ClientStallPolicy;
}

/**
 * Watches a streamed response: while the socket is full (the client is not reading), the client must
 * take at least `minBytes` per `windowMs`, or `onStall` runs. A slow store does not count against the
 * client: only time spent waiting for the client does.
 */
function watchClientStall(
  res: Context['res'],
  bytesSent: () => number,
  policy: ClientStallPolicy,
  onStall: () => void,
): () => void {
  let anchorAt = Date.now();
  let anchorBytes = bytesSent();
  const timer = setInterval(
    () => {
      const now = Date.now();
      const bytes = bytesSent();
      if (!res.writableNeedDrain || bytes - anchorBytes >= policy.minBytes) {
        anchorAt = now;
        anchorBytes = bytes;
      } else if (now - anchorAt >= policy.windowMs) {
        clearInterval(timer);
        onStall();
      }
    },
    Math.max(50, Math.floor(policy.windowMs / 4)),
  );
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * `GET /token/study.zip?<token>`: asks the token service what the token grants, then streams the
 * study as a zip. A request that skips or fails that check gets nothing.
 */
export function exportRoutes(deps: ExportDeps): Router {
  const router = createRouter();
  const stallPolicy = deps.clientStall ?? { windowMs: 30_000, minBytes: 64 * 1024 };
  const report = (e: AccessEventBody, log: Logger) =>
    deps.tokens
      .report(e)
      .catch((err: Error) => log.warn({ err: err.message, event: e.event }, 'access event not recorded'));

  router.get(DOWNLOAD_PATH, async (ctx: Context) => {
    setPatientHeaders(ctx);
    const log: Logger = ctx.state.log;
    const token = tokenFromQuery(ctx.querystring);
    const who = {
      clientIp: clientIp(
        ctx.req.socket.remoteAddress,
        ctx.get('x-real-ip') || undefined,
        deps.trustedProxies,
      ),
      userAgent: ctx.get('user-agent').slice(0, 512),
    };
    if (deps.isDraining())
      throw new ServiceUnavailableError('the server is restarting; try again shortly', 10, 'draining');

    // Checked before taking an export slot, so guesses never hold one. A value that is not even
    // token-shaped is not forwarded, but it counts against the client like an unknown token:
    // downloads and pages share one invalid-token allowance (429 once it is used up).
    const wellFormed = TOKEN_PATTERN.test(token);
    const context = {
      purpose: 'download' as const,
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
      acceptLanguage: ctx.get('accept-language').slice(0, 1000),
      languageCookie: (cookieValue(ctx.get('cookie'), LANGUAGE_COOKIE) ?? '').slice(0, 16),
      reserve: ctx.method === 'GET',
      // A link scanner's GET (no browser signs) is sent to the page like an unconfirmed link.
      browser: isBrowserRequest((name) => ctx.get(name)),
    };
    const grant = await deps.tokens
      .grantOrThrow(wellFormed ? token : null, undefined, who, context)
      .catch(async (err) => {
        // Not confirmed yet (or the confirmation expired): back to the link's page and its form.
        if (err instanceof GrantVerificationRequiredError && wellFormed) {
          ctx.status = 303;
          ctx.redirect(`/token?${token}`);
          return null;
        }
        if (err instanceof GrantNotFoundError)
          await report(
            { event: 'invalid_token', outcome: wellFormed ? 'not_found' : 'malformed', ...who },
            log,
          );
        throw err;
      });
    if (!grant) return;

    // One link, and one client address, may hold only a share of the slots (export.limiter.ts).
    const release = deps.limiter.acquireOrThrow({ link: grant.tokenId, client: rateLimitKey(who.clientIp) });
    const controller = new AbortController();
    const res = ctx.res;
    // A client that leaves before the zip starts (a slow store, retries) must not keep the slot and
    // the store request: the close listener below only exists once the zip is handed over.
    const onEarlyClose = () => controller.abort(new Error('client disconnected'));
    res.once('close', onEarlyClose);
    if (!ctx.writable) onEarlyClose();
    let handedOver = false;
    try {
      const base = { tokenId: grant.tokenId, studyInstanceUid: grant.studyInstanceUid, ...who };
      const exportLog = log.child({ tokenId: grant.tokenId, studyInstanceUid: grant.studyInstanceUid });

      if (ctx.method === 'HEAD') {
        // Link checkers may HEAD the download: answer without touching the store.
        ctx.type = 'application/zip';
        ctx.status = 200;
        return;
      }

      const started = Date.now();
      const exp = await prepareExportOrThrow(grant, {
        client: deps.dicomweb,
        log: exportLog,
        retry: deps.retry,
        signal: controller.signal,
      });
      // The store may have answered just as the client left: its request is cancelled by the abort.
      controller.signal.throwIfAborted();
      // Names this download in its events: the token service's reservation for a limited link,
      // else made here (not the request id, which a client can choose).
      const downloadId = grant.downloadId ?? randomUUID();
      report({ event: 'download_start', outcome: 'ok', detail: { downloadId }, ...base }, exportLog);
      exportLog.info({ zipContent: grant.zipContent }, 'export started');

      let outcome: 'complete' | 'abort' | null = null;
      const finish = (result: 'complete' | 'abort', detail: Record<string, unknown>) => {
        if (outcome) return;
        outcome = result;
        release();
        const bytes = exp.bytesSent();
        const durationMs = Date.now() - started;
        if (result === 'complete') {
          exportLog.info({ bytes, durationMs, ...detail }, 'export complete');
          report(
            {
              event: 'download_complete',
              outcome: 'ok',
              bytes,
              // A report delivered twice counts once against maxDownloads.
              detail: { durationMs, downloadId, ...detail },
              ...base,
            },
            exportLog,
          );
        } else {
          exportLog.warn({ bytes, durationMs, ...detail }, 'export aborted');
          report(
            {
              event: 'download_abort',
              outcome: String(detail.reason),
              bytes,
              detail: { durationMs, downloadId, ...detail },
              ...base,
            },
            exportLog,
          );
        }
      };
      res.off('close', onEarlyClose);
      let stalled = false;
      const stopWatch = watchClientStall(
        res,
        () => exp.bytesSent(),
        stallPolicy,
        () => {
          // The client holds a slot without reading: it loses it, and the cut zip looks failed.
          stalled = true;
          controller.abort(new Error('client_stalled'));
          finish('abort', { reason: 'client_stalled' });
          res.destroy();
        },
      );
      res.once('close', stopWatch);
      exp.done.catch((err: Error) => {
        if (stalled) return;
        const reason = controller.signal.aborted ? 'client_disconnected' : 'upstream_error';
        finish('abort', { reason, error: err.message });
        // Once bytes are sent there is no error page: cut the connection so the zip is visibly broken.
        res.destroy();
      });
      res.once('close', () => {
        if (res.writableFinished) {
          exp.done.then(
            (r) => finish('complete', { instances: r.instances, series: r.series }),
            () => {},
          );
        } else {
          // Closed before the end: the client went away, or shutdown cut it after the grace period.
          const reason = deps.isDraining() ? 'shutdown' : 'client_disconnected';
          controller.abort(new Error(reason));
          finish('abort', { reason });
        }
      });

      ctx.status = 200;
      ctx.type = 'application/zip';
      ctx.set('content-disposition', `attachment; filename="${exp.filename}"`);
      ctx.body = exp.output;
      handedOver = true;
    } finally {
      if (!handedOver) {
        res.off('close', onEarlyClose);
        release();
        controller.abort();
        // A reserved download that never started (the store failed, the client left) gives its
        // reservation back at once rather than when it lapses.
        if (grant.downloadId && ctx.method === 'GET')
          report(
            {
              event: 'download_abort',
              outcome: 'not_started',
              tokenId: grant.tokenId,
              studyInstanceUid: grant.studyInstanceUid,
              ...who,
              detail: { downloadId: grant.downloadId },
            },
            log,
          );
      }
    }
  });
  return router;
}

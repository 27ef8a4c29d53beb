import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type Router from '@koa/router';
import {
  DOWNLOAD_PATH,
  isBrowserRequest,
  LANGUAGE_COOKIE,
  TOKEN_PATTERN,
  tokenFromQuery,
  VERIFICATION_COOKIE,
} from '@studylink/contracts';
import { safeZipFilename } from '@studylink/dicom-media';
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
import { isSingleRange, parseRange } from './download/byte-range.js';
import {
  type FixedZip,
  OutputClosedError,
  prepareFixedExportOrThrow,
  pushedReportFor,
  ZipLayoutCache,
  ZipSourceChangedError,
} from './download/fixed-zip.export.js';
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
  /** A fixed zip's instances up to this size are checked before their bytes go out (default 16 MiB). */
  holdBackBytes?: number;
  /** Instances asked for ahead of the one being sent (default 3). */
  prefetch?: number;
  /**
   * A whole fixed zip reads its study with one study-level request; instances that come before
   * their turn are held up to this many bytes, past it the rest are asked for one by one (default
   * 8 MiB; 0: always one by one).
   */
  reorderBytes?: number;
  /** A fixed zip's instance request that gets no answer for this long is a stalled store (default 60 s). */
  storeStallMs?: number;
}

/** The headers of a zip whose bytes are fixed: a strong ETag, ranges, its name. */
function setFixedHeaders(ctx: Context, fixed: FixedZip, filename: string): void {
  ctx.set('etag', fixed.etag);
  ctx.set('accept-ranges', 'bytes');
  ctx.set('content-disposition', `attachment; filename="${filename}"`);
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
  const layouts = new ZipLayoutCache(deps.tokens);
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
    const rangeHeader = ctx.get('range') || undefined;
    const ifRange = ctx.get('if-range') || null;
    // What a browser following a link sends and a link scanner does not (see the contract).
    const browser = isBrowserRequest((name) => ctx.get(name));
    const context = {
      purpose: 'download' as const,
      verificationCookie: cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE),
      acceptLanguage: ctx.get('accept-language').slice(0, 1000),
      languageCookie: (cookieValue(ctx.get('cookie'), LANGUAGE_COOKIE) ?? '').slice(0, 16),
      reserve: ctx.method === 'GET',
      // A single Range may resume a download this link already completed (never counted again).
      range: ctx.method === 'GET' && isSingleRange(rangeHeader) ? { ifRange } : null,
      // A link scanner's GET (no browser signs) is sent to the page like an unconfirmed link.
      browser,
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
      const filename = safeZipFilename({
        studyDate: grant.study.studyDate,
        modalities: grant.study.modalities,
      });
      // The PDF the RIS pushed, when this link's grant puts it in the zip (REPORT.PDF): in the
      // archive's identity (its SHA-256), so it is read before the layout's plan is made.
      const pushedReport = await pushedReportFor(
        grant,
        deps.tokens.pushedReportPdf?.bind(deps.tokens),
        controller.signal,
      );
      let fixed = await layouts.fixedZip(grant, controller.signal, pushedReport).catch((err: Error) => {
        exportLog.warn({ err: err.message }, 'zip layout not read; streaming without it');
        return null;
      });

      if (ctx.method === 'HEAD') {
        // Link checkers and download managers may HEAD the download: answered without the store.
        ctx.type = 'application/zip';
        ctx.status = 200;
        if (fixed) {
          setFixedHeaders(ctx, fixed, filename);
          ctx.length = fixed.plan.length;
        }
        return;
      }

      // A single range of the same bytes (If-Range naming this ETag, or none) is answered with
      // those bytes; anything else gets the whole file.
      const asked = fixed ? parseRange(rangeHeader, fixed.plan.length) : ({ kind: 'whole' } as const);
      const range =
        fixed && (ifRange === null || ifRange === fixed.etag) ? asked : ({ kind: 'whole' } as const);
      if (fixed && range.kind === 'unsatisfiable') {
        ctx.status = 416;
        ctx.set('content-range', `bytes */${fixed.plan.length}`);
        ctx.set('accept-ranges', 'bytes');
        ctx.set('etag', fixed.etag);
        ctx.body = '';
        return;
      }

      const started = Date.now();
      const onStale = (id: string) => (err: Error) => {
        exportLog.warn(
          { layoutId: id.slice(0, 16), reason: err.message },
          'the study changed since its zip layout',
        );
        layouts.forget(id);
        deps.tokens
          .reportStaleZipLayout(id)
          .catch((e: Error) => exportLog.warn({ err: e.message }, 'stale zip layout not reported'));
      };
      let exp: {
        output: Readable;
        bytesSent(): number;
        done: Promise<Record<string, unknown>>;
      } | null = null;
      let sent: { status: 200 | 206; start: number; end: number } | null = null;
      if (fixed) {
        const first = range.kind === 'single' ? range.start : 0;
        const last = range.kind === 'single' ? range.end : fixed.plan.length - 1;
        const layoutId = fixed.layoutId;
        try {
          const fe = await prepareFixedExportOrThrow(fixed, first, last, {
            client: deps.dicomweb,
            log: exportLog,
            retry: deps.retry,
            signal: controller.signal,
            holdBackBytes: deps.holdBackBytes ?? 16 * 1024 * 1024,
            prefetch: deps.prefetch ?? 3,
            stallMs: deps.storeStallMs ?? 60_000,
            onStale: onStale(layoutId),
            reorderBytes: deps.reorderBytes ?? 8 * 1024 * 1024,
            onRead: (read) => exportLog.debug(read, 'study read'),
          });
          const counts = {
            instances: fixed.layout.readme.instanceCount,
            series: fixed.layout.readme.seriesCount,
          };
          exp = { ...fe, done: fe.done.then(() => counts) };
          sent = { status: range.kind === 'single' ? 206 : 200, start: first, end: last };
        } catch (err) {
          // Changed before the first byte: this download streams as before, and its layout is kept.
          if (!(err instanceof ZipSourceChangedError)) throw err;
          onStale(layoutId)(err);
          fixed = null;
        }
      }
      if (!exp) {
        const streamed = await prepareExportOrThrow(grant, {
          client: deps.dicomweb,
          log: exportLog,
          retry: deps.retry,
          signal: controller.signal,
          pushedReport,
        });
        exp = {
          output: streamed.output,
          bytesSent: streamed.bytesSent,
          done: streamed.done.then(({ layout, instances, series }) => {
            // The next downloads get a length, an ETag and ranges.
            if (layout)
              deps.tokens
                .saveZipLayout(layout)
                .catch((e: Error) => exportLog.warn({ err: e.message }, 'zip layout not kept'));
            return { instances, series };
          }),
        };
      }
      const download = exp;
      // The store may have answered just as the client left: its request is cancelled by the abort.
      controller.signal.throwIfAborted();
      // Names this download in its events: the token service's reservation for a limited link,
      // else made here (not the request id, which a client can choose).
      const downloadId = grant.downloadId ?? randomUUID();
      const length = fixed?.plan.length ?? null;
      const what = {
        downloadId,
        // A GET without a browser's signs (a scanner; served when the link has no download limit):
        // not the patient opening the link.
        browser,
        ...(fixed && sent
          ? {
              // The archive (the layout as this link gets it): what a resume of it is counted as.
              layoutId: fixed.archiveId,
              ranged: sent.status === 206,
              completesFile: sent.end === (length as number) - 1,
              ranges: `${sent.start}-${sent.end}/${length}`,
            }
          : {}),
      };
      report(
        {
          event: sent?.status === 206 ? 'download_resumed' : 'download_started',
          outcome: 'ok',
          detail: what,
          ...base,
        },
        exportLog,
      );
      // The layout id's first 16 digits: a 64-character run in a log line reads like a token.
      exportLog.info(
        {
          zipContent: grant.zipContent,
          ...what,
          ...(fixed ? { layoutId: fixed.archiveId.slice(0, 16) } : {}),
        },
        'export started',
      );

      let outcome: 'complete' | 'abort' | null = null;
      const finish = (result: 'complete' | 'abort', detail: Record<string, unknown>) => {
        if (outcome) return;
        outcome = result;
        release();
        const bytes = download.bytesSent();
        const durationMs = Date.now() - started;
        if (result === 'complete') {
          exportLog.info({ bytes, durationMs, ...detail }, 'export complete');
          report(
            {
              event: 'download_complete',
              outcome: 'ok',
              bytes,
              // A report delivered twice counts once against maxDownloads.
              detail: { durationMs, ...what, ...detail },
              ...base,
            },
            exportLog,
          );
        } else {
          exportLog.warn({ bytes, durationMs, ...detail }, 'export aborted');
          report(
            {
              event: 'download_aborted',
              outcome: String(detail.reason),
              bytes,
              detail: { durationMs, ...what, ...detail },
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
        () => download.bytesSent(),
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
      download.done.catch((err: Error) => {
        if (stalled) return;
        // A client that went away can end a fixed zip's source before the response's 'close' is
        // seen (its pipe is torn down first): that is the client's doing, not the store's.
        const clientGone = controller.signal.aborted || err instanceof OutputClosedError;
        const reason = clientGone
          ? deps.isDraining()
            ? 'shutdown'
            : 'client_disconnected'
          : err instanceof ZipSourceChangedError
            ? 'study_changed'
            : 'upstream_error';
        finish('abort', { reason, error: err.message });
        // Once bytes are sent there is no error page: cut the connection so the zip is visibly broken.
        res.destroy();
      });
      res.once('close', () => {
        if (res.writableFinished) {
          download.done.then(
            (detail) => finish('complete', detail),
            () => {},
          );
        } else {
          // Closed before the end: the client went away, or shutdown cut it after the grace period.
          const reason = deps.isDraining() ? 'shutdown' : 'client_disconnected';
          controller.abort(new Error(reason));
          finish('abort', { reason });
        }
      });

      ctx.type = 'application/zip';
      ctx.set('content-disposition', `attachment; filename="${filename}"`);
      ctx.body = download.output;
      if (fixed && sent) {
        setFixedHeaders(ctx, fixed, filename);
        ctx.status = sent.status;
        if (sent.status === 206) ctx.set('content-range', `bytes ${sent.start}-${sent.end}/${length}`);
        ctx.length = sent.end - sent.start + 1;
      } else ctx.status = 200;
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
              event: 'download_aborted',
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

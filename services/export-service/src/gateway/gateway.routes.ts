import { createHash } from 'node:crypto';
import { LANGUAGE_COOKIE, TOKEN_PATTERN, VERIFICATION_COOKIE } from '@studylink/contracts';
import {
  type DicomJsonObject,
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebUnavailableError,
  Tag,
} from '@studylink/dicomweb';
import {
  AppError,
  clientIp,
  cookieValue,
  type Logger,
  ServiceUnavailableError,
} from '@studylink/service-kit';
import type { Context, Middleware, Next } from 'koa';
import {
  type AccessEventBody,
  type Grant,
  GrantNotFoundError,
  GrantVerificationRequiredError,
  type Presenter,
  type TokenServiceClient,
} from '../grant.client.js';
import { isReportDataset, StudyReportIndex, type StudyReports } from '../reports/study-reports.js';
import { acceptsDicomJson, DEFAULT_ACCEPT, negotiateAccept } from './gateway.accept.js';
import { RateLimiter, TtlCache } from './gateway.cache.js';
import { frameCounts, scrubDicomJson, tagValues } from './gateway.metadata.js';
import { reframeMultipart } from './gateway.multipart.js';
import type { GatewayOptions } from './gateway.options.js';
import {
  GATEWAY_PREFIX,
  type GatewayResource,
  type GatewayResourceKind,
  ORIGINAL_FILE_KINDS,
  parseGatewayPath,
} from './gateway.paths.js';

export interface GatewayDeps {
  tokens: TokenServiceClient;
  dicomweb: DicomwebClient;
  trustedProxies: ReadonlySet<string>;
  /** The store's address as configured (and any other spelling of it): scrubbed from what is returned. */
  storeAddresses: readonly string[];
  options: GatewayOptions;
  /** Which instances of a study are reports (default: one kept per membershipCacheMs, from `dicomweb`). */
  reports?: StudyReportIndex;
  /** Counts each gateway request by resource kind and outcome. */
  count?: (kind: GatewayResourceKind | 'unknown', outcome: string) => void;
  now?: () => number;
}

/** A series' metadata larger than this (instances) is shared while it loads but not kept. */
const MAX_KEPT_METADATA_INSTANCES = 2_000;

class GatewayError extends AppError {}
const notFound = () => new GatewayError(404, 'not_found', 'not found in this study');
const tooMany = (seconds: number, code: string) =>
  new GatewayError(429, code, 'too many requests; slow down', undefined, { 'retry-after': String(seconds) });

const SAFE_CONTENT_TYPE = /^[\x20-\x7e]{1,300}$/;
const QIDO_KEYS = new Set(['includefield', 'limit', 'offset']);
const QIDO_VALUE = /^[A-Za-z0-9,]{1,512}$/;
const ACCEPT_VALUE = /^[\x20-\x7e]{1,500}$/;
const JSON_KINDS: ReadonlySet<GatewayResourceKind> = new Set([
  'series_search',
  'instance_search',
  'study_metadata',
  'series_metadata',
]);
// Anything token-shaped, anywhere in what a request put in its URL.
const TOKEN_LIKE = /[A-Za-z0-9]{64}/;

function setGatewayHeaders(ctx: Context): void {
  ctx.set('cache-control', 'no-store');
  ctx.set('referrer-policy', 'no-referrer');
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('x-robots-tag', 'noindex, nofollow');
  ctx.set('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  ctx.set('cross-origin-resource-policy', 'same-origin');
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * The viewer's read-only DICOMweb gateway under `/token/dicomweb/`: the standard WADO-RS / QIDO-RS
 * paths of the one study a token grants. The token comes from `Authorization: Bearer` only; every
 * UID is validated before anything goes upstream; the study must be the granted one and a series or
 * instance must be one of that study's (checked against the store's own lists, cached briefly); what
 * the store answers is relayed as a stream (frames, instances, rendered images) or, for DICOM JSON,
 * scrubbed of the store's address. Authorisation goes through the token service's grant endpoint
 * (which counts invalid tokens per client), cached for `grantCacheMs` at most.
 * @example app.use(gatewayMiddleware({ tokens, dicomweb, trustedProxies, storeAddresses: [url], options }));
 */
export function gatewayMiddleware(deps: GatewayDeps): Middleware {
  const now = deps.now ?? Date.now;
  const o = deps.options;
  const grants = new TtlCache<Grant>(o.grantCacheMs, 10_000, now);
  const seriesLists = new TtlCache<ReadonlySet<string>>(o.membershipCacheMs, 1_000, now);
  const instanceLists = new TtlCache<ReadonlySet<string>>(o.membershipCacheMs, 5_000, now);
  // Frames per instance, by series: a frame number the instance does not have is the client's mistake.
  const framesPerInstance = new TtlCache<ReadonlyMap<string, number>>(o.membershipCacheMs, 1_000, now);
  // A series' metadata, shared by the viewers that open it at once and kept briefly: a stock Orthanc
  // reads every file of the series for it (100 slices of 512²: 0.4–0.7 s on a quiet machine), and
  // ten viewers opening one study asked for it ten times over, on the path to their first image.
  const seriesMetadata = new TtlCache<DicomJsonObject[]>(o.metadataCacheMs, 64, now);
  const perToken = new RateLimiter(o.perToken.rate, o.perToken.burst, now);
  const perClient = new RateLimiter(o.perClient.rate, o.perClient.burst, now);
  const inFlight = new Map<string, number>();
  const count = deps.count ?? (() => {});
  const reports = deps.reports ?? new StudyReportIndex(deps.dicomweb, o.membershipCacheMs, now);

  const report = (e: AccessEventBody, log: Logger) =>
    deps.tokens
      .report(e)
      .catch((err: Error) => log.warn({ err: err.message, event: e.event }, 'access event not recorded'));

  const seriesOf = (study: string, signal: AbortSignal) =>
    seriesLists.get(study, async () => {
      const found = await deps.dicomweb.searchSeries(study, { signal });
      return new Set(tagValues(found, Tag.SeriesInstanceUID));
    });
  const instancesOf = (study: string, series: string, signal: AbortSignal) =>
    instanceLists.get(`${study}/${series}`, async () => {
      const found = await deps.dicomweb.searchInstances(study, series, { signal });
      return new Set(tagValues(found, Tag.SOPInstanceUID));
    });

  /**
   * A series' metadata from the store, one request for every caller while it loads (not tied to one
   * client's signal: another's answer must not fail when the first client leaves); the membership and
   * frame-count checks learn from it.
   */
  function metadataOf(study: string, series: string): Promise<DicomJsonObject[]> {
    const key = `${study}/${series}`;
    return seriesMetadata.get(key, async () => {
      const of = { kind: 'series_metadata', study, series, storePath: '' } as const;
      const datasets = (await deps.dicomweb.retrieveMetadata(study, series)).filter((d) => belongs(d, of));
      if (datasets.length > MAX_KEPT_METADATA_INSTANCES) setImmediate(() => seriesMetadata.delete(key));
      instanceLists.set(key, new Set(tagValues(datasets, Tag.SOPInstanceUID)));
      framesPerInstance.set(key, frameCounts(datasets));
      return datasets;
    });
  }

  async function authoriseOrThrow(ctx: Context, who: Presenter): Promise<Grant> {
    const header = ctx.get('authorization');
    const match = /^Bearer ([^\s]{1,256})$/i.exec(header);
    if (!match) {
      throw new GatewayError(401, 'unauthorized', 'a bearer token is required', undefined, {
        'www-authenticate': 'Bearer realm="studylink-viewer"',
      });
    }
    const token = match[1] as string;
    const wellFormed = TOKEN_PATTERN.test(token);
    // A link with a second factor opens only with the cookie its right answer earned (Path=/token,
    // so the browser sends it here too); the token service decides, as for the page and the zip.
    const verificationCookie = cookieValue(ctx.get('cookie'), VERIFICATION_COOKIE);
    const context = {
      purpose: 'view' as const,
      verificationCookie,
      acceptLanguage: ctx.get('accept-language').slice(0, 1000),
      languageCookie: (cookieValue(ctx.get('cookie'), LANGUAGE_COOKIE) ?? '').slice(0, 16),
      reserve: false,
    };
    try {
      // Cached by digest only (of the token and the cookie, so a grant won with a cookie never serves
      // a request without it): the token itself is never a key in a heap dump or a log.
      return await (wellFormed
        ? grants.get(sha256(`${token}\n${verificationCookie ?? ''}`), () =>
            deps.tokens.grantOrThrow(token, undefined, who, context),
          )
        : deps.tokens.grantOrThrow(null, undefined, who, context));
    } catch (err) {
      if (err instanceof GrantVerificationRequiredError) {
        throw new GatewayError(403, 'verification_required', 'confirm the link on its page first');
      }
      if (err instanceof GrantNotFoundError) {
        await report(
          {
            event: 'invalid_token',
            outcome: wellFormed ? 'not_found' : 'malformed',
            detail: { via: 'dicomweb' },
            ...who,
          },
          ctx.state.log,
        );
        throw new GatewayError(401, 'token_not_found', 'not found or no longer available', undefined, {
          'www-authenticate': 'Bearer realm="studylink-viewer", error="invalid_token"',
        });
      }
      throw err;
    }
  }

  async function checkMembershipOrThrow(r: GatewayResource, grant: Grant, signal: AbortSignal) {
    if (r.study !== grant.studyInstanceUid) throw notFound();
    if (r.series === undefined) return;
    if (!(await storeCall(() => seriesOf(r.study, signal))).has(r.series)) throw notFound();
    if (r.instance === undefined) return;
    if (!(await storeCall(() => instancesOf(r.study, r.series as string, signal))).has(r.instance))
      throw notFound();
  }

  async function answerJson(
    ctx: Context,
    r: GatewayResource,
    query: GatewayQuery,
    signal: AbortSignal,
    held: StudyReports | null,
  ) {
    if (!acceptsDicomJson(query.accept ?? ctx.get('accept')))
      throw new GatewayError(406, 'not_acceptable', 'this resource is answered in application/dicom+json');
    let datasets: DicomJsonObject[];
    if (r.kind === 'series_search') {
      datasets = await storeCall(() => deps.dicomweb.searchSeries(r.study, { ...query.qido, signal }));
      datasets = datasets.filter((d) => belongs(d, r));
      // A partial answer (limit, offset) is no list of the study's series.
      if (query.qido.limit === undefined && query.qido.offset === undefined)
        seriesLists.set(r.study, new Set(tagValues(datasets, Tag.SeriesInstanceUID)));
    } else if (r.kind === 'instance_search') {
      // QIDO-RS of the study's or the series' instances (the study is the granted one, the series
      // was checked), asked of the store with a bound: a stock Orthanc opens every file an
      // instance-level search returns (Rows, Columns... are not in its index). Measured on a 4 × 100
      // slice 512² CT, 2 cores under load: the study's 400 instances 2.9–6.0 s, `limit=100` 1.0 s,
      // `limit=10` 0.2–0.4 s; its four series' metadata 1.7–3.0 s; the series list 6–60 ms. So one
      // answer holds at most `maxInstanceResults`, with PS3.18's Warning when there are more (a
      // client pages on with `offset`), rather than the gateway reading the whole study's metadata.
      const max = o.maxInstanceResults;
      const limit = Math.min(query.qido.limit ?? max, max);
      datasets = await storeCall(() =>
        deps.dicomweb.searchInstances(r.study, r.series, {
          ...query.qido,
          limit: limit === 0 ? 0 : limit + 1,
          signal,
        }),
      );
      datasets = datasets.filter((d) => belongs(d, r));
      if (datasets.length > limit) {
        datasets = datasets.slice(0, limit);
        if (limit === max)
          ctx.set(
            'warning',
            '299 studylink: "The number of results exceeded the maximum supported by the server. Additional results can be requested."',
          );
      }
    } else if (r.series !== undefined && o.metadataCacheMs > 0) {
      datasets = await storeCall(() => metadataOf(r.study, r.series as string));
      datasets = datasets.filter((d) => belongs(d, r));
    } else {
      datasets = await storeCall(() => deps.dicomweb.retrieveMetadata(r.study, r.series, { signal }));
      datasets = datasets.filter((d) => belongs(d, r));
      if (r.series !== undefined) {
        instanceLists.set(`${r.study}/${r.series}`, new Set(tagValues(datasets, Tag.SOPInstanceUID)));
        framesPerInstance.set(`${r.study}/${r.series}`, frameCounts(datasets));
      }
    }
    // A report the link may not show is in no list: its series (when made of reports only) and its
    // instances are left out of searches and metadata alike.
    if (held)
      datasets = datasets.filter(
        (d) =>
          !isReportDataset(d) &&
          !held.instances.has(String(d[Tag.SOPInstanceUID]?.Value?.[0] ?? '')) &&
          !(
            r.kind === 'series_search' &&
            held.reportOnlySeries.has(String(d[Tag.SeriesInstanceUID]?.Value?.[0] ?? ''))
          ),
      );
    ctx.status = 200;
    ctx.type = 'application/dicom+json';
    if (ctx.method !== 'HEAD') ctx.body = JSON.stringify(scrubDicomJson(datasets, deps.storeAddresses));
  }

  /** A 404 when a requested frame number is past the instance's NumberOfFrames (from the series' metadata). */
  async function checkFramesOrThrow(r: GatewayResource, signal: AbortSignal) {
    if (!r.frames || r.series === undefined || r.instance === undefined) return;
    const series = r.series;
    const counts = await storeCall(() =>
      framesPerInstance.get(`${r.study}/${series}`, async () =>
        frameCounts(await deps.dicomweb.retrieveMetadata(r.study, series, { signal })),
      ),
    );
    const count = counts.get(r.instance);
    if (count !== undefined && r.frames.some((f) => f > count))
      throw new GatewayError(
        404,
        'frame_not_found',
        `this image has ${count} frame${count === 1 ? '' : 's'}`,
      );
  }

  async function relay(
    ctx: Context,
    r: GatewayResource,
    query: GatewayQuery,
    key: string,
    controller: AbortController,
  ) {
    // Study and series retrieves answer what an instance does, for every instance in them.
    const kind = (ORIGINAL_FILE_KINDS.has(r.kind) ? 'instance' : r.kind) as keyof typeof DEFAULT_ACCEPT;
    const accept = negotiateAccept(kind, query.accept ?? ctx.get('accept'));
    if (accept === null)
      throw new GatewayError(
        406,
        'not_acceptable',
        `this resource is available as ${DEFAULT_ACCEPT[kind]} (and the types PS3.18 lists for it), not as asked`,
      );
    if (ctx.method === 'HEAD') {
      // Link checkers and prefetchers: membership is checked, the store is not bothered.
      ctx.status = 200;
      ctx.type = kind === 'rendered' || kind === 'thumbnail' ? accept : 'multipart/related';
      return;
    }
    const open = inFlight.get(key) ?? 0;
    if (open >= o.maxInFlightPerClient) throw tooMany(1, 'too_many_open_requests');
    const up = await storeCall(() => deps.dicomweb.relay(r.storePath, { accept, signal: controller.signal }));
    if (up.status !== 200) {
      up.body.destroy();
      // A frame number the instance does not have is the client's mistake, whatever the store says.
      await checkFramesOrThrow(r, controller.signal);
      if (up.status === 404) throw notFound();
      if (up.status === 429 || up.status === 503)
        throw new ServiceUnavailableError('the image archive is busy; try again shortly', 5, 'store_busy');
      // The store refuses to render or transcode this object (Orthanc: 400 for a rendering it cannot
      // make): the client's answer is that it cannot be had in this form, not a server failure.
      if (up.status === 400 || up.status === 406 || up.status === 415 || up.status === 501)
        throw new GatewayError(
          406,
          'store_cannot_render',
          `the image archive cannot send this object as ${accept} (it answered ${up.status}); ask for another type, or the frames as stored`,
        );
      // 5xx (failed on this file): the viewer falls back to another path for this image.
      throw new GatewayError(
        502,
        'store_cannot_answer',
        `the image archive could not send this (${up.status})`,
      );
    }
    inFlight.set(key, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (inFlight.get(key) ?? 1) - 1;
      if (left <= 0) inFlight.delete(key);
      else inFlight.set(key, left);
    };
    const res = ctx.res;
    res.once('close', () => {
      release();
      // The client left midway: stop reading the store.
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    // A client that stops reading holds a slot and a store connection: cut it after a while.
    res.setTimeout(o.clientStallMs, () => res.destroy());
    const type = [up.headers['content-type']].flat()[0] ?? '';
    ctx.status = 200;
    if (kind === 'frames' || kind === 'instance') {
      // Re-framed: the store's part headers (Content-Location: its own URL) stay here.
      let reframed: ReturnType<typeof reframeMultipart>;
      try {
        reframed = reframeMultipart(type, up.body);
      } catch {
        up.body.destroy();
        throw new GatewayError(502, 'store_bad_answer', 'the image archive answered unexpectedly');
      }
      ctx.type = reframed.contentType;
      ctx.body = reframed.body;
      return;
    }
    ctx.type = SAFE_CONTENT_TYPE.test(type) && /^image\//.test(type) ? type : 'application/octet-stream';
    ctx.body = up.body;
    const length = Number([up.headers['content-length']].flat()[0]);
    if (Number.isSafeInteger(length) && length >= 0) ctx.length = length;
  }

  return async (ctx: Context, next: Next) => {
    if (!ctx.path.startsWith(GATEWAY_PREFIX)) return next();
    setGatewayHeaders(ctx);
    const r = parseGatewayPath(ctx.path.slice(GATEWAY_PREFIX.length));
    const kind = r?.kind ?? 'unknown';
    let outcome = 'ok';
    const controller = new AbortController();
    try {
      // Nothing token-shaped is accepted in a URL (nginx logs paths; a query may reach other logs).
      if (TOKEN_LIKE.test(ctx.path) || TOKEN_LIKE.test(ctx.querystring))
        throw new GatewayError(400, 'token_in_url', 'send the token in the Authorization header only');
      if (!r) throw new GatewayError(404, 'not_found', 'no such DICOMweb resource');
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        throw new GatewayError(405, 'method_not_allowed', 'the viewer gateway is read-only', undefined, {
          allow: 'GET, HEAD',
        });
      }
      const query = parseGatewayQueryOrThrow(ctx.querystring, r.kind);
      const who: Presenter = {
        clientIp: clientIp(
          ctx.req.socket.remoteAddress,
          ctx.get('x-real-ip') || undefined,
          deps.trustedProxies,
        ),
        userAgent: ctx.get('user-agent').slice(0, 512),
      };
      const clientWait = perClient.take(who.clientIp);
      if (clientWait > 0) throw tooMany(clientWait, 'rate_limited');
      const grant = await authoriseOrThrow(ctx, who);
      const tokenWait = perToken.take(String(grant.tokenId));
      if (tokenWait > 0) throw tooMany(tokenWait, 'rate_limited');
      ctx.res.once('close', () => {
        if (!ctx.res.writableFinished) controller.abort(new Error('client disconnected'));
      });
      await checkMembershipOrThrow(r, grant, controller.signal);
      // The link gate decided what "view" includes: a view-only or spent link gets no original file.
      if (ORIGINAL_FILE_KINDS.has(r.kind) && !grant.may.viewFiles)
        throw new GatewayError(
          403,
          grant.downloadRefusal ?? 'download_not_allowed',
          'this link shows the images but does not hand out the original files',
        );
      // A report held back (the grant's may.report false): neither listed nor retrieved.
      const held = grant.may.report ? null : await storeCall(() => reports.of(r.study, controller.signal));
      if (held) holdReportsOrThrow(r, held);
      if (JSON_KINDS.has(r.kind)) await answerJson(ctx, r, query, controller.signal, held);
      else await relay(ctx, r, query, who.clientIp, controller);
    } catch (err) {
      outcome = err instanceof AppError ? err.code : 'internal_error';
      throw err;
    } finally {
      count(kind, outcome);
    }
  };
}

/**
 * A link that may not show the study's report: its report instances, and series made of them only, are
 * not found; a series or study retrieve that would carry a report among other instances is refused
 * (403 report_held: ask for the series or instances one by one).
 */
function holdReportsOrThrow(r: GatewayResource, held: StudyReports): void {
  if (r.instance !== undefined && held.instances.has(r.instance)) throw notFound();
  if (r.series !== undefined && held.reportOnlySeries.has(r.series)) throw notFound();
  const carriesReport =
    (r.kind === 'study_retrieve' && held.instances.size > 0) ||
    (r.kind === 'series_retrieve' && r.series !== undefined && held.seriesWithReports.has(r.series));
  if (carriesReport)
    throw new GatewayError(
      403,
      'report_held',
      "this link does not show the study's report: retrieve its image series or instances one by one",
    );
}

/** A dataset the store returned for this request must be of the granted study (and series): the store is not trusted to filter. */
function belongs(d: DicomJsonObject, r: GatewayResource): boolean {
  const study = d[Tag.StudyInstanceUID]?.Value?.[0];
  if (study !== undefined && study !== r.study) return false;
  if (r.series === undefined) return true;
  const series = d[Tag.SeriesInstanceUID]?.Value?.[0];
  return series === undefined || series === r.series;
}

/** A gateway request's query: PS3.18's `accept` (any resource), and QIDO-RS's paging and fields (searches). */
interface GatewayQuery {
  accept?: string;
  qido: { includefield?: string[]; limit?: number; offset?: number };
}

function parseGatewayQueryOrThrow(qs: string, kind: GatewayResourceKind): GatewayQuery {
  const out: GatewayQuery = { qido: {} };
  if (qs === '') return out;
  const search = kind === 'series_search' || kind === 'instance_search';
  for (const [key, value] of new URLSearchParams(qs)) {
    if (key === 'accept' && ACCEPT_VALUE.test(value) && out.accept === undefined) {
      out.accept = value;
      continue;
    }
    if (!search || !QIDO_KEYS.has(key) || !QIDO_VALUE.test(value))
      throw new GatewayError(
        400,
        'unexpected_query',
        search
          ? 'only includefield, limit, offset and accept are accepted'
          : 'this resource takes only the accept query parameter',
      );
    if (key === 'includefield')
      out.qido.includefield = [...(out.qido.includefield ?? []), ...value.split(',')];
    else if (/^[0-9]{1,6}$/.test(value)) out.qido[key as 'limit' | 'offset'] = Number(value);
    else throw new GatewayError(400, 'unexpected_query', `${key} must be a number`);
  }
  return out;
}

/** Store failures as the viewer should see them: missing is 404, unreachable is 503, never a 500. */
async function storeCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (err instanceof DicomwebNotFoundError) throw notFound();
    if (err instanceof DicomwebUnavailableError)
      throw new ServiceUnavailableError('the image archive is not answering', 5, 'store_unavailable');
    if (err instanceof Error && err.name === 'DicomwebArgumentError')
      throw new GatewayError(400, 'invalid_request', err.message);
    if (err instanceof Error && (err.name === 'AbortError' || err.message === 'client disconnected'))
      throw err;
    throw new GatewayError(502, 'store_bad_answer', 'the image archive answered unexpectedly');
  }
}

import {
  type AccessEventBody,
  type Grant,
  grantSchema,
  INTERNAL_ACCESS_EVENTS_PATH,
  INTERNAL_GRANTS_PATH,
  INTERNAL_REPORTS_PATH,
  INTERNAL_SECRET_HEADER,
  INTERNAL_SENDER_PATH,
  INTERNAL_ZIP_LAYOUT_STALE_PATH,
  INTERNAL_ZIP_LAYOUTS_PATH,
  type PatientSender,
  PUSHED_REPORT_MAX_BYTES,
  patientSenderSchema,
  type ZipLayoutBody,
  zipLayoutSchema,
} from '@studylink/contracts';
import { AppError, ServiceUnavailableError, TooManyInvalidTokensError } from '@studylink/service-kit';

export type { AccessEventBody, Grant };
export { TooManyInvalidTokensError };

export class GrantNotFoundError extends AppError {
  constructor() {
    super(404, 'token_not_found', 'not found or no longer available');
  }
}

/** A link with a second factor, asked for without its verification cookie: 403 from the token service. */
export class GrantVerificationRequiredError extends AppError {
  constructor() {
    super(403, 'verification_required', 'confirm the link with a birth date or PIN first');
  }
}

/** The token service refused the zip: a view-only link, or one past its maxDownloads (410). */
export class GrantDownloadRefusedError extends AppError {
  constructor(code: 'download_not_allowed' | 'download_limit_reached') {
    super(410, code, 'this link does not allow (more) downloads');
  }
}

/** What a grant is for, and the patient's verification cookie (the token service decides). */
export interface GrantContext {
  purpose: 'download' | 'view';
  verificationCookie: string | null;
  acceptLanguage?: string;
  languageCookie?: string;
  /** A GET of the zip (not a HEAD): reserve one of a limited link's downloads. */
  reserve?: boolean;
  /** A GET with a single Range, and its If-Range (a resume, perhaps of a counted download). */
  range?: { ifRange: string | null } | null;
  /** The request shows a browser's signs (isBrowserRequest); the token service decides. */
  browser?: boolean;
}

/** Who presented a token, so downloads count against the client's invalid-token allowance. */
export interface Presenter {
  clientIp: string;
  userAgent: string;
}

/** The export service's only way to learn what a token grants: it asks the token service. */
export interface TokenServiceClient {
  /**
   * What `token` grants; null stands for a value that is not token-shaped (never forwarded). With
   * `who`, an unknown or malformed token counts against that client, and a client over its
   * allowance gets TooManyInvalidTokensError before any lookup.
   */
  grantOrThrow(
    token: string | null,
    signal?: AbortSignal,
    who?: Presenter,
    context?: GrantContext,
  ): Promise<Grant>;
  report(event: AccessEventBody): Promise<void>;
  /** A study's zip layout by the id a grant named; null when it is gone (or cannot be read). */
  zipLayout(id: string, signal?: AbortSignal): Promise<ZipLayoutBody | null>;
  /** Keeps a layout made while streaming a study that had none. */
  saveZipLayout(layout: ZipLayoutBody): Promise<void>;
  /** The store's study differs from this layout: the token service makes it again. */
  reportStaleZipLayout(id: string): Promise<void>;
  /** The bytes of the PDF the RIS pushed, by the id a grant named (`grant.pushedReport.id`); null when gone. */
  pushedReportPdf?(id: string, signal?: AbortSignal): Promise<Buffer | null>;
}

/** The HTTP client main builds: also lets shutdown wait for access events still on their way. */
export interface TokenServiceConnection extends TokenServiceClient {
  /** Resolves once every report sent so far has settled, or after `timeoutMs`. */
  flushReports(timeoutMs: number): Promise<void>;
}

export interface ReportRetry {
  /** Tries per event, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Enough to ride out a token service restart (about 20 s), not so much that events pile up. */
export const DEFAULT_REPORT_RETRY: ReportRetry = { attempts: 8, baseDelayMs: 250, maxDelayMs: 5_000 };

/** A refusal that retrying cannot change (the token service said the event is malformed). */
class PermanentReportError extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * The token service's internal listener as the export service uses it. Access events are delivered
 * with capped exponential backoff (a token service restart loses none); one that cannot be
 * delivered, or is still pending when shutdown gives up on it, goes to `onDropped`: counted, never
 * silent.
 * @example const tokens = createTokenServiceClient({ baseUrl, secret, timeoutMs: 5_000, onDropped });
 */
export function createTokenServiceClient(opts: {
  baseUrl: string;
  secret: string;
  timeoutMs: number;
  reportRetry?: ReportRetry;
  onDropped?: (event: AccessEventBody, reason: string) => void;
}): TokenServiceConnection {
  const headers = { 'content-type': 'application/json', [INTERNAL_SECRET_HEADER]: opts.secret };
  const retry = opts.reportRetry ?? DEFAULT_REPORT_RETRY;
  const pendingReports = new Map<Promise<void>, { event: AccessEventBody; giveUp: AbortController }>();
  const sendOnce = async (event: AccessEventBody, signal: AbortSignal) => {
    const res = await fetch(`${opts.baseUrl}${INTERNAL_ACCESS_EVENTS_PATH}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(event),
      signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)]),
    });
    await res.body?.cancel();
    if (res.ok) return;
    const message = `access event refused with ${res.status}`;
    // 4xx but 408/429: the event itself is wrong, and sending it again cannot help.
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
      throw new PermanentReportError(message);
    throw new Error(message);
  };
  const deliver = async (event: AccessEventBody, giveUp: AbortSignal) => {
    let lastError: Error = new Error('not sent');
    for (let attempt = 0; attempt < retry.attempts && !giveUp.aborted; attempt++) {
      if (attempt > 0)
        await sleep(Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1)), giveUp);
      if (giveUp.aborted) break;
      try {
        return await sendOnce(event, giveUp);
      } catch (err) {
        lastError = err as Error;
        if (err instanceof PermanentReportError) break;
      }
    }
    const reason = giveUp.aborted ? 'shutdown' : lastError.message;
    opts.onDropped?.(event, reason);
    throw new Error(`access event dropped: ${reason}`);
  };
  return {
    async grantOrThrow(token, signal, who, context) {
      let res: Response;
      try {
        res = await fetch(`${opts.baseUrl}${INTERNAL_GRANTS_PATH}`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            token,
            ...(who ? { client: { ip: who.clientIp, userAgent: who.userAgent } } : {}),
            ...(context ?? {}),
          }),
          signal: signal
            ? AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)])
            : AbortSignal.timeout(opts.timeoutMs),
        });
      } catch {
        throw new ServiceUnavailableError('the token service is not answering', 5);
      }
      if (res.status === 404) {
        await res.body?.cancel();
        throw new GrantNotFoundError();
      }
      if (res.status === 403 || res.status === 410) {
        const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error
          ?.code;
        if (res.status === 403) throw new GrantVerificationRequiredError();
        throw new GrantDownloadRefusedError(
          code === 'download_not_allowed' ? code : 'download_limit_reached',
        );
      }
      if (res.status === 429) {
        await res.body?.cancel();
        const retryAfter = Number(res.headers.get('retry-after'));
        throw new TooManyInvalidTokensError(
          Number.isSafeInteger(retryAfter) && retryAfter > 0 ? retryAfter : 60,
        );
      }
      if (!res.ok) {
        await res.body?.cancel();
        // 503 (its database is down) and anything unexpected: the patient may retry later.
        throw new ServiceUnavailableError('the token service could not check the link', 5);
      }
      const parsed = grantSchema.safeParse(await res.json().catch(() => null));
      if (!parsed.success) throw new ServiceUnavailableError('the token service answered unexpectedly', 5);
      return parsed.data;
    },
    async zipLayout(id, signal) {
      const res = await fetch(`${opts.baseUrl}${INTERNAL_ZIP_LAYOUTS_PATH}/${encodeURIComponent(id)}`, {
        headers,
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)])
          : AbortSignal.timeout(opts.timeoutMs),
      }).catch(() => null);
      if (!res?.ok) {
        await res?.body?.cancel();
        return null;
      }
      const parsed = zipLayoutSchema.safeParse(await res.json().catch(() => null));
      return parsed.success ? parsed.data : null;
    },
    async pushedReportPdf(id, signal) {
      const res = await fetch(`${opts.baseUrl}${INTERNAL_REPORTS_PATH}/${encodeURIComponent(id)}`, {
        headers: { [INTERNAL_SECRET_HEADER]: opts.secret },
        signal: signal
          ? AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs * 4)])
          : AbortSignal.timeout(opts.timeoutMs * 4),
      }).catch(() => {
        throw new ServiceUnavailableError('the token service is not answering', 5);
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new ServiceUnavailableError('the token service could not send the report', 5);
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      if (bytes.length > PUSHED_REPORT_MAX_BYTES)
        throw new ServiceUnavailableError('the token service sent more than a report', 5);
      return bytes;
    },
    async saveZipLayout(layout) {
      const res = await fetch(`${opts.baseUrl}${INTERNAL_ZIP_LAYOUTS_PATH}`, {
        method: 'PUT',
        headers,
        body: JSON.stringify(layout),
        signal: AbortSignal.timeout(opts.timeoutMs * 4),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`zip layout refused with ${res.status}`);
    },
    async reportStaleZipLayout(id) {
      const res = await fetch(`${opts.baseUrl}${INTERNAL_ZIP_LAYOUT_STALE_PATH}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ id }),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`stale zip layout refused with ${res.status}`);
    },
    report(event) {
      const giveUp = new AbortController();
      const sent = deliver(event, giveUp.signal);
      const settled = sent.then(
        () => {},
        () => {},
      );
      pendingReports.set(settled, { event, giveUp });
      void settled.then(() => pendingReports.delete(settled));
      return sent;
    },
    async flushReports(timeoutMs) {
      if (pendingReports.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pendingReports.keys()),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      // What is still on its way is given up, and so counted as dropped, before the process exits.
      const left = [...pendingReports.entries()];
      for (const [, p] of left) p.giveUp.abort();
      await Promise.all(left.map(([settled]) => settled));
    },
  };
}

/**
 * Who sent the links (the token service's setup), for the export service's patient pages: read at
 * most once per `ttlMs` (a setup change shows within it), shared by concurrent callers. Unreadable
 * (the token service down): null, tried again after `ttlMs`; a page then goes without it.
 * @example const sender = createSenderSource({ baseUrl, secret, timeoutMs: 2_000, ttlMs: 30_000 });
 */
export function createSenderSource(opts: {
  baseUrl: string;
  secret: string;
  timeoutMs: number;
  ttlMs: number;
  now?: () => number;
}): () => Promise<PatientSender | null> {
  const now = opts.now ?? Date.now;
  let cached: { at: number; value: Promise<PatientSender | null> } | null = null;
  const read = async (): Promise<PatientSender | null> => {
    try {
      const res = await fetch(`${opts.baseUrl}${INTERNAL_SENDER_PATH}`, {
        headers: { [INTERNAL_SECRET_HEADER]: opts.secret },
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      if (!res.ok) {
        await res.body?.cancel();
        return null;
      }
      const parsed = patientSenderSchema.safeParse(await res.json());
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  };
  return () => {
    if (!cached || now() - cached.at >= opts.ttlMs) cached = { at: now(), value: read() };
    return cached.value;
  };
}

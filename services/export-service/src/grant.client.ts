import { AppError, ServiceUnavailableError } from '@studylink/service-kit';
import { z } from 'zod';

/** What the token service says a token grants. */
export const grantSchema = z.object({
  tokenId: z.number(),
  studyInstanceUid: z
    .string()
    .regex(/^[0-9]+(\.[0-9]+)*$/)
    .max(64),
  zipContent: z.enum(['as-stored', 'jpeg-lossless']),
  institution: z.string(),
  viewerUrl: z.string(),
  // Link trust (issue 12); defaults keep an older token service readable.
  defaultLanguage: z.string().default('en'),
  verification: z.enum(['none', 'birth-date', 'pin']).default('none'),
  verified: z.boolean().default(true),
  allowDownload: z.boolean().default(true),
  downloadsRemaining: z.number().int().min(0).nullable().default(null),
  study: z.object({
    patientName: z.string(),
    studyDate: z.string(),
    description: z.string(),
    modalities: z.array(z.string()),
  }),
});
export type Grant = z.infer<typeof grantSchema>;

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
}

/** The token service counted too many invalid tokens from this client: 429 with Retry-After. */
export class TooManyInvalidTokensError extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', 'too many invalid links from this address; try again later', undefined, {
      'retry-after': String(retryAfterSeconds),
    });
  }
}

/** Who presented a token, so downloads count against the client's invalid-token allowance. */
export interface Presenter {
  clientIp: string;
  userAgent: string;
}

export type AccessEventName = 'download_start' | 'download_complete' | 'download_abort' | 'invalid_token';

export interface AccessEventBody {
  event: AccessEventName;
  outcome?: string;
  tokenId?: number | null;
  studyInstanceUid?: string | null;
  clientIp?: string | null;
  userAgent?: string | null;
  bytes?: number | null;
  detail?: Record<string, unknown> | null;
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
}

/** The HTTP client main builds: also lets shutdown wait for access events still on their way. */
export interface TokenServiceConnection extends TokenServiceClient {
  /** Resolves once every report sent so far has settled, or after `timeoutMs`. */
  flushReports(timeoutMs: number): Promise<void>;
}

export function createTokenServiceClient(opts: {
  baseUrl: string;
  secret: string;
  timeoutMs: number;
}): TokenServiceConnection {
  const headers = { 'content-type': 'application/json', 'x-internal-secret': opts.secret };
  const pendingReports = new Set<Promise<void>>();
  const sendReport = async (event: AccessEventBody) => {
    const res = await fetch(`${opts.baseUrl}/internal/v1/access-events`, {
      method: 'POST',
      headers,
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`access event refused with ${res.status}`);
  };
  return {
    async grantOrThrow(token, signal, who, context) {
      let res: Response;
      try {
        res = await fetch(`${opts.baseUrl}/internal/v1/grants`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            token,
            ...(who ? { client: { ip: who.clientIp, userAgent: who.userAgent } } : {}),
            ...(context ? { purpose: context.purpose, verificationCookie: context.verificationCookie } : {}),
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
    report(event) {
      const sent = sendReport(event);
      const settled = sent.then(
        () => {},
        () => {},
      );
      pendingReports.add(settled);
      void settled.then(() => pendingReports.delete(settled));
      return sent;
    },
    async flushReports(timeoutMs) {
      if (pendingReports.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(pendingReports),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

import { isTransientStatus, withRetry } from './retry.js';

/** The token stopped working (revoked, expired) or the server refused it. */
export class LinkGoneError extends Error {}

/** The gateway or the store could not send this resource (the viewer may try another path). */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A gateway request's failure that may pass if asked again: no answer (the connection reset or cut,
 * a timeout) or a 5xx; not a refusal (4xx) and not a link that is gone.
 */
export function isTransientError(err: unknown): boolean {
  if (err instanceof LinkGoneError) return false;
  if (err instanceof GatewayError) return isTransientStatus(err.status);
  return true;
}

/**
 * Requests to the token-scoped DICOMweb gateway: the token goes in `Authorization: Bearer`, never
 * in a URL; 429 and 503 are retried after their Retry-After (a few times); 401/404 on the study
 * mean the link is gone.
 */
export class GatewayClient {
  onLinkGone: () => void = () => {};
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  get authorization(): string {
    return `Bearer ${this.token}`;
  }

  async fetch(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(this.base + path, {
        headers: { authorization: this.authorization, accept },
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        signal,
      });
      if ((res.status === 429 || res.status === 503) && attempt < 5) {
        await res.body?.cancel();
        const wait = Number(res.headers.get('retry-after'));
        await sleep((Number.isFinite(wait) && wait > 0 ? Math.min(wait, 30) : 1) * 1000);
        continue;
      }
      if (res.status === 401) {
        await res.body?.cancel();
        this.onLinkGone();
        throw new LinkGoneError('the link is no longer valid');
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new GatewayError(res.status, `the server answered ${res.status}`);
      }
      return res;
    }
  }

  /** DICOM JSON (the study's lists), asked again while it fails for want of a connection or a 5xx. */
  json<T>(path: string, stopped: () => boolean = () => false): Promise<T> {
    return withRetry(async () => (await (await this.fetch(path, 'application/dicom+json')).json()) as T, {
      transient: isTransientError,
      stopped,
    });
  }
}

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

  async json<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.fetch(path, 'application/dicom+json', signal);
    return (await res.json()) as T;
  }
}

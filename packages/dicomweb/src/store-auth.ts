import { createPrivateKey, createSign, type KeyObject } from 'node:crypto';
import { type Dispatcher, request } from 'undici';
import { DicomwebUnavailableError } from './dicomweb.errors.js';

/**
 * Where the store's Authorization header comes from. The client asks for it before each request
 * and says when the store answered 401 to one, so a token is fetched again once and the request
 * retried once. Values are secrets: nothing here logs them or puts them in an error.
 */
export interface StoreAuthorization {
  /** The header value for the next request (fetching or refreshing a token when due). */
  header(signal?: AbortSignal): Promise<string>;
  /** The store refused `value` (401): the next header() does not hand it out again. */
  rejected(value: string): void;
}

/** How the services are configured to authenticate to the store (service-kit's storeAuthOf). */
export type StoreAuthSpec =
  | { kind: 'header'; value: string }
  | { kind: 'client-credentials'; tokenUrl: string; clientId: string; clientSecret: string; scope?: string }
  | { kind: 'google-service-account'; key: ServiceAccountKey; scope?: string };

/** The fields of a Google service-account key file (JSON) the JWT bearer flow needs. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

export interface TokenEndpointOptions {
  /** Milliseconds since the epoch (tests move it to pass an expiry). */
  now?: () => number;
  /** Timeout of a token request. */
  timeoutMs?: number;
  /** undici dispatcher for the token endpoint (tests); default: a shared global one. */
  dispatcher?: Dispatcher;
}

/** The scope Google Cloud Healthcare's DICOMweb needs. */
export const GOOGLE_HEALTHCARE_SCOPE = 'https://www.googleapis.com/auth/cloud-healthcare';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * The store's authorization from the services' configuration (null: none beyond the URL's).
 * @example const auth = createStoreAuthorization({ kind: 'client-credentials', tokenUrl, clientId, clientSecret });
 */
export function createStoreAuthorization(
  spec: StoreAuthSpec | null,
  options: TokenEndpointOptions = {},
): StoreAuthorization | null {
  if (spec === null) return null;
  if (spec.kind === 'header') return { header: async () => spec.value, rejected: () => undefined };
  if (spec.kind === 'client-credentials') return clientCredentialsAuthorization(spec, options);
  return serviceAccountAuthorization(spec.key, spec.scope ?? GOOGLE_HEALTHCARE_SCOPE, options);
}

/** Checks a Google service-account key file's JSON; the message never quotes the key. */
export function parseServiceAccountKey(json: string): ServiceAccountKey {
  let key: Partial<ServiceAccountKey> & { type?: string };
  try {
    key = JSON.parse(json);
  } catch {
    throw new Error('not JSON (expected a Google service-account key file)');
  }
  for (const field of ['client_email', 'private_key', 'token_uri'] as const) {
    if (typeof key[field] !== 'string' || key[field] === '')
      throw new Error(`no ${field} in it (expected a Google service-account key file)`);
  }
  if (!/^https?:\/\//.test(key.token_uri as string)) throw new Error('its token_uri is not an http(s) URL');
  try {
    createPrivateKey(key.private_key as string);
  } catch {
    throw new Error('its private_key is not a PEM private key');
  }
  return key as ServiceAccountKey;
}

/** OAuth 2.0 client credentials (RFC 6749 4.4), the client authenticated with HTTP Basic. */
function clientCredentialsAuthorization(
  spec: { tokenUrl: string; clientId: string; clientSecret: string; scope?: string },
  options: TokenEndpointOptions,
): StoreAuthorization {
  // RFC 6749 2.3.1: id and secret form-encoded, then Basic.
  const basic = Buffer.from(
    `${encodeURIComponent(spec.clientId)}:${encodeURIComponent(spec.clientSecret)}`,
  ).toString('base64');
  return tokenCache(options, (signal) =>
    postTokenRequest(
      spec.tokenUrl,
      { grant_type: 'client_credentials', ...(spec.scope ? { scope: spec.scope } : {}) },
      { authorization: `Basic ${basic}` },
      options,
      signal,
    ),
  );
}

/** Google's JWT bearer flow (RFC 7523): an assertion signed RS256 with the service account's key. */
function serviceAccountAuthorization(
  key: ServiceAccountKey,
  scope: string,
  options: TokenEndpointOptions,
): StoreAuthorization {
  const privateKey: KeyObject = createPrivateKey(key.private_key);
  const now = options.now ?? Date.now;
  return tokenCache(options, (signal) => {
    const iat = Math.floor(now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', ...(key.private_key_id ? { kid: key.private_key_id } : {}) };
    const claims = { iss: key.client_email, scope, aud: key.token_uri, iat, exp: iat + 3600 };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(privateKey).toString('base64url');
    return postTokenRequest(
      key.token_uri,
      { grant_type: JWT_BEARER_GRANT, assertion: `${signingInput}.${signature}` },
      {},
      options,
      signal,
    );
  });
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

interface IssuedToken {
  accessToken: string;
  /** Lifetime in ms from when it was asked for. */
  lifetimeMs: number;
}

/**
 * Holds one token: fetched on first use, fetched again before it expires (a tenth of its lifetime,
 * at most a minute, early) or after the store refused it; concurrent callers share one fetch.
 */
function tokenCache(
  options: TokenEndpointOptions,
  fetchToken: (signal?: AbortSignal) => Promise<IssuedToken>,
): StoreAuthorization {
  const now = options.now ?? Date.now;
  let current: { value: string; refreshAt: number } | null = null;
  let inFlight: Promise<string> | null = null;
  return {
    header(signal) {
      if (current && now() < current.refreshAt) return Promise.resolve(current.value);
      inFlight ??= (async () => {
        try {
          const askedAt = now();
          const token = await fetchToken(signal);
          const margin = Math.min(60_000, token.lifetimeMs / 10);
          current = { value: `Bearer ${token.accessToken}`, refreshAt: askedAt + token.lifetimeMs - margin };
          return current.value;
        } finally {
          inFlight = null;
        }
      })();
      return inFlight;
    },
    rejected(value) {
      if (current?.value === value) current = null;
    },
  };
}

async function postTokenRequest(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string>,
  options: TokenEndpointOptions,
  signal?: AbortSignal,
): Promise<IssuedToken> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where = `the store's token endpoint ${new URL(url).origin}${new URL(url).pathname}`;
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new DicomwebUnavailableError(`${where} did not answer`, { retryable: true, cause: error });
  }
  let body: { access_token?: unknown; expires_in?: unknown; token_type?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch {
    // Reported below without the text: it may echo what was sent.
  }
  if (status !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
    // Only the standard error code (RFC 6749 5.2), never the body: it may echo a secret.
    const code =
      typeof body.error === 'string' && /^[\x20-\x7e]{1,64}$/.test(body.error) ? ` (${body.error})` : '';
    throw new DicomwebUnavailableError(
      status === 200
        ? `${where} answered without an access_token`
        : `${where} answered HTTP ${status}${code}`,
      { retryable: status >= 500 || status === 429, status },
    );
  }
  if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer')
    throw new DicomwebUnavailableError(`${where} issued a ${body.token_type} token, not a Bearer one`, {
      retryable: false,
    });
  const expiresIn = Number(body.expires_in);
  // Without expires_in (it is only RECOMMENDED): assume an hour, and rely on the 401 retry.
  const lifetimeMs = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 3_600_000;
  return { accessToken: body.access_token, lifetimeMs };
}

import { readFileSync } from 'node:fs';
import { parseServiceAccountKey, type ServiceAccountKey, type StoreAuthSpec } from '@studylink/dicomweb';
import { z } from 'zod';
import { ConfigError } from './config.parser.js';

/**
 * Environment fields both services read, with the same meaning and defaults, to spread into each
 * service's own zod schema.
 * @example const envSchema = z.object({ ...sharedEnvFields, PORT: z.coerce.number() });
 */
export const sharedEnvFields = {
  DICOMWEB_URL: z.url({ protocol: /^https?$/ }),
  // Store access beyond Basic auth in the URL: the Authorization header value of every request to
  // the store (e.g. `Bearer <token>`): a secret, never logged.
  DICOMWEB_AUTHORIZATION: z
    .string()
    .regex(/^[\x21-\x7e][\x20-\x7e]*$/, 'must be a header value of printable ASCII, e.g. "Bearer <token>"')
    .optional(),
  // Stores behind OAuth 2.0 (client credentials): a token from this endpoint before the first
  // request, again before it expires and after a 401. The secret is never logged.
  DICOMWEB_OAUTH_TOKEN_URL: z.url({ protocol: /^https?$/ }).optional(),
  DICOMWEB_OAUTH_CLIENT_ID: z.string().optional(),
  DICOMWEB_OAUTH_CLIENT_SECRET: z.string().optional(),
  DICOMWEB_OAUTH_SCOPE: z.string().optional(),
  // Google Cloud Healthcare: a service account's JSON key file (JWT bearer flow), read at start.
  DICOMWEB_GOOGLE_KEY_FILE: z
    .string()
    .optional()
    .transform((path, ctx): ServiceAccountKey | undefined => {
      if (!path) return undefined;
      try {
        return parseServiceAccountKey(readFileSync(path, 'utf8'));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `cannot use ${path}: ${(err as Error).message}` });
        return z.NEVER;
      }
    }),
  // PEM file of the CA(s) that sign the store's TLS certificate (a hospital's own CA), trusted in
  // addition to Node's built-in ones. Read once at start.
  DICOMWEB_CA_FILE: z
    .string()
    .optional()
    .transform((path, ctx) => {
      if (!path) return undefined;
      try {
        const pem = readFileSync(path, 'utf8');
        if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
        return pem;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(err as Error).message}` });
        return z.NEVER;
      }
    }),
  // Authenticates the export service's grant checks; the same value on both services.
  INTERNAL_SECRET: z.string().min(32, 'must be at least 32 characters'),
  // During a change of INTERNAL_SECRET: the old value, still accepted on internal routes.
  INTERNAL_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
  // The bearer token Prometheus scrapes /metrics (internal listener) with. Its own secret: whoever
  // holds it reads metrics, never grant checks. Unset: /metrics refuses every scrape.
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  HOST: z.string().default('127.0.0.1'),
  // The internal listener's address (grant checks, access events, /metrics); default: HOST.
  INTERNAL_HOST: z.string().optional(),
  // Peers whose X-Real-IP is believed: nginx's address(es), exact addresses.
  TRUSTED_PROXIES: z
    .string()
    .default('127.0.0.1,::1')
    .transform(
      (s): ReadonlySet<string> =>
        new Set(
          s
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
        ),
    ),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
};

/** A TCP port from the environment (0 lets the OS choose, for tests). */
export const portField = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/**
 * METRICS_TOKEN as the internal app takes it (null: unset), refused when it is one of the internal
 * secrets: a scraper's credential must not authorise grant checks.
 * @example const metricsToken = metricsTokenOf(e);
 */
export function metricsTokenOf(e: {
  METRICS_TOKEN?: string | undefined;
  INTERNAL_SECRET: string;
  INTERNAL_SECRET_PREVIOUS?: string | undefined;
}): string | null {
  if (!e.METRICS_TOKEN) return null;
  if (e.METRICS_TOKEN === e.INTERNAL_SECRET || e.METRICS_TOKEN === e.INTERNAL_SECRET_PREVIOUS)
    throw new ConfigError(['METRICS_TOKEN: must differ from INTERNAL_SECRET (and INTERNAL_SECRET_PREVIOUS)']);
  return e.METRICS_TOKEN;
}

/**
 * How the services authenticate to the store, beyond user:password in DICOMWEB_URL: a fixed
 * DICOMWEB_AUTHORIZATION, OAuth 2.0 client credentials or a Google service account (one of them).
 * @example const auth = createStoreAuthorization(storeAuthOf(e));
 */
export function storeAuthOf(e: {
  DICOMWEB_URL: string;
  DICOMWEB_AUTHORIZATION?: string | undefined;
  DICOMWEB_OAUTH_TOKEN_URL?: string | undefined;
  DICOMWEB_OAUTH_CLIENT_ID?: string | undefined;
  DICOMWEB_OAUTH_CLIENT_SECRET?: string | undefined;
  DICOMWEB_OAUTH_SCOPE?: string | undefined;
  DICOMWEB_GOOGLE_KEY_FILE?: ServiceAccountKey | undefined;
}): StoreAuthSpec | null {
  const oauth = [e.DICOMWEB_OAUTH_TOKEN_URL, e.DICOMWEB_OAUTH_CLIENT_ID, e.DICOMWEB_OAUTH_CLIENT_SECRET];
  const url = new URL(e.DICOMWEB_URL);
  const chosen = [
    url.username !== '' && 'user:password in DICOMWEB_URL',
    e.DICOMWEB_AUTHORIZATION && 'DICOMWEB_AUTHORIZATION',
    oauth.some(Boolean) && 'DICOMWEB_OAUTH_*',
    e.DICOMWEB_GOOGLE_KEY_FILE && 'DICOMWEB_GOOGLE_KEY_FILE',
  ].filter((x): x is string => Boolean(x));
  if (chosen.length > 1)
    throw new ConfigError([`store authorization: ${chosen.join(' and ')} are both set: use one`]);
  if (oauth.some(Boolean) && !oauth.every(Boolean))
    throw new ConfigError([
      'DICOMWEB_OAUTH_TOKEN_URL, DICOMWEB_OAUTH_CLIENT_ID and DICOMWEB_OAUTH_CLIENT_SECRET: set all three or none',
    ]);
  if (e.DICOMWEB_AUTHORIZATION) return { kind: 'header', value: e.DICOMWEB_AUTHORIZATION };
  if (e.DICOMWEB_OAUTH_TOKEN_URL && e.DICOMWEB_OAUTH_CLIENT_ID && e.DICOMWEB_OAUTH_CLIENT_SECRET)
    return {
      kind: 'client-credentials',
      tokenUrl: e.DICOMWEB_OAUTH_TOKEN_URL,
      clientId: e.DICOMWEB_OAUTH_CLIENT_ID,
      clientSecret: e.DICOMWEB_OAUTH_CLIENT_SECRET,
      ...(e.DICOMWEB_OAUTH_SCOPE ? { scope: e.DICOMWEB_OAUTH_SCOPE } : {}),
    };
  if (e.DICOMWEB_GOOGLE_KEY_FILE)
    return {
      kind: 'google-service-account',
      key: e.DICOMWEB_GOOGLE_KEY_FILE,
      ...(e.DICOMWEB_OAUTH_SCOPE ? { scope: e.DICOMWEB_OAUTH_SCOPE } : {}),
    };
  return null;
}

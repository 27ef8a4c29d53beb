import {
  ConfigError,
  metricsTokenOf,
  parseConfig,
  portField,
  sharedEnvFields,
  storeAuthOf,
} from '@studylink/service-kit';
import { z } from 'zod';

const envSchema = z.object({
  ...sharedEnvFields,
  // The token service's internal listener (grant checks, access events), not its public port.
  TOKEN_SERVICE_INTERNAL_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3011'),
  TOKEN_SERVICE_URL: z.string().optional(),
  EXPORT_SERVICE_PORT: portField(3002),
  EXPORT_SERVICE_INTERNAL_PORT: portField(3012),
  MAX_CONCURRENT_EXPORTS: z.coerce.number().int().min(1).max(1000).default(8),
  // Shares of those slots (each kept below MAX_CONCURRENT_EXPORTS): per link, per client address.
  MAX_EXPORTS_PER_LINK: z.coerce.number().int().min(1).max(1000).default(2),
  MAX_EXPORTS_PER_CLIENT: z.coerce.number().int().min(1).max(1000).default(3),
  // A client that takes less than EXPORT_CLIENT_MIN_BYTES in this time while its zip waits loses its slot.
  EXPORT_CLIENT_STALL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  EXPORT_CLIENT_MIN_BYTES: z.coerce.number().int().min(1).default(65_536),
  STORE_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  // No bytes from the store for this long fails the export; below nginx's proxy_read_timeout.
  STORE_STALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  STORE_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  EXPORT_SERVICE_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).optional(),
  // The old name, read when the new one is not set.
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).optional(),
  // The viewer's gateway: a grant is trusted this long (a revoked token stops within it, at most 5 s).
  GATEWAY_GRANT_CACHE_MS: z.coerce.number().int().min(0).max(5_000).default(2_000),
  GATEWAY_RATE_PER_TOKEN: z.coerce.number().positive().default(100),
  GATEWAY_BURST_PER_TOKEN: z.coerce.number().int().min(1).default(1_000),
  GATEWAY_RATE_PER_CLIENT: z.coerce.number().positive().default(200),
  GATEWAY_BURST_PER_CLIENT: z.coerce.number().int().min(1).default(2_000),
});

export type ExportServiceConfig = ReturnType<typeof loadConfig>;

/** Reads and validates the export service's environment once. */
export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseConfig(envSchema, env);
  if (e.TOKEN_SERVICE_URL !== undefined && env.TOKEN_SERVICE_INTERNAL_URL === undefined)
    throw new ConfigError([
      "TOKEN_SERVICE_URL: replaced by TOKEN_SERVICE_INTERNAL_URL, the token service's internal listener (port 3011 by default)",
    ]);
  return Object.freeze({
    dicomwebUrl: e.DICOMWEB_URL.replace(/\/+$/, ''),
    dicomwebCa: e.DICOMWEB_CA_FILE,
    tokenServiceInternalUrl: e.TOKEN_SERVICE_INTERNAL_URL.replace(/\/+$/, ''),
    host: e.HOST,
    internalHost: e.INTERNAL_HOST ?? e.HOST,
    port: e.EXPORT_SERVICE_PORT,
    internalPort: e.EXPORT_SERVICE_INTERNAL_PORT,
    exportShares: Object.freeze({ perLink: e.MAX_EXPORTS_PER_LINK, perClient: e.MAX_EXPORTS_PER_CLIENT }),
    clientStall: Object.freeze({
      windowMs: Math.round(e.EXPORT_CLIENT_STALL_SECONDS * 1000),
      minBytes: e.EXPORT_CLIENT_MIN_BYTES,
    }),
    trustedProxies: e.TRUSTED_PROXIES,
    logLevel: e.LOG_LEVEL,
    maxConcurrentExports: e.MAX_CONCURRENT_EXPORTS,
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    storeStallTimeoutMs: e.STORE_STALL_TIMEOUT_MS,
    storeRetryAttempts: e.STORE_RETRY_ATTEMPTS,
    shutdownGraceMs: e.EXPORT_SERVICE_SHUTDOWN_GRACE_MS ?? e.SHUTDOWN_GRACE_MS ?? 30_000,
    secrets: Object.freeze({
      internalSecret: e.INTERNAL_SECRET,
      internalSecrets: [
        e.INTERNAL_SECRET,
        ...(e.INTERNAL_SECRET_PREVIOUS ? [e.INTERNAL_SECRET_PREVIOUS] : []),
      ],
      dicomwebAuthorization: e.DICOMWEB_AUTHORIZATION ?? null,
      /** How the store is authenticated to (a header, OAuth 2.0 client credentials, a Google key). */
      storeAuth: storeAuthOf(e),
      metricsToken: metricsTokenOf(e),
    }),
    gateway: Object.freeze({
      grantCacheMs: e.GATEWAY_GRANT_CACHE_MS,
      perToken: { rate: e.GATEWAY_RATE_PER_TOKEN, burst: e.GATEWAY_BURST_PER_TOKEN },
      perClient: { rate: e.GATEWAY_RATE_PER_CLIENT, burst: e.GATEWAY_BURST_PER_CLIENT },
    }),
  });
}

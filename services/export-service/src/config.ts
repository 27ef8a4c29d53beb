import { parseConfig, portField, sharedEnvFields } from '@studylink/service-kit';
import { z } from 'zod';

const envSchema = z.object({
  ...sharedEnvFields,
  TOKEN_SERVICE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3001'),
  EXPORT_SERVICE_PORT: portField(3002),
  MAX_CONCURRENT_EXPORTS: z.coerce.number().int().min(1).max(1000).default(8),
  STORE_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  // No bytes from the store for this long fails the export; below nginx's proxy_read_timeout.
  STORE_STALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  STORE_RETRY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
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
  return Object.freeze({
    dicomwebUrl: e.DICOMWEB_URL.replace(/\/+$/, ''),
    tokenServiceUrl: e.TOKEN_SERVICE_URL.replace(/\/+$/, ''),
    host: e.HOST,
    port: e.EXPORT_SERVICE_PORT,
    trustedProxies: e.TRUSTED_PROXIES,
    logLevel: e.LOG_LEVEL,
    maxConcurrentExports: e.MAX_CONCURRENT_EXPORTS,
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    storeStallTimeoutMs: e.STORE_STALL_TIMEOUT_MS,
    storeRetryAttempts: e.STORE_RETRY_ATTEMPTS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    gateway: Object.freeze({
      grantCacheMs: e.GATEWAY_GRANT_CACHE_MS,
      perToken: { rate: e.GATEWAY_RATE_PER_TOKEN, burst: e.GATEWAY_BURST_PER_TOKEN },
      perClient: { rate: e.GATEWAY_RATE_PER_CLIENT, burst: e.GATEWAY_BURST_PER_CLIENT },
    }),
    secrets: Object.freeze({ internalSecret: e.INTERNAL_SECRET }),
  });
}

import { z } from 'zod';

/**
 * Environment fields both services read, with the same meaning and defaults, to spread into each
 * service's own zod schema.
 * @example const envSchema = z.object({ ...sharedEnvFields, PORT: z.coerce.number() });
 */
export const sharedEnvFields = {
  DICOMWEB_URL: z.url({ protocol: /^https?$/ }),
  // Authenticates the export service's grant checks; the same value on both services.
  INTERNAL_SECRET: z.string().min(32, 'must be at least 32 characters'),
  // During a change of INTERNAL_SECRET: the old value, still accepted on internal routes.
  INTERNAL_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
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

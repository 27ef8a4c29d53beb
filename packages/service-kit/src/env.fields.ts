import { readFileSync } from 'node:fs';
import { z } from 'zod';

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

import { isIP } from 'node:net';
import { LANGUAGES } from '@studylink/i18n';
import { z } from 'zod';

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * The setup's own rules, as the API words them for integrators; the staff page says each one from
 * its catalogue, keyed by these (setup.routes.ts), so rewording one here cannot leave the page behind.
 */
export const SETUP_RULES = {
  controlCharacters: 'must not contain control characters',
  zoneId: 'must be an address without a zone id (%interface)',
  ipAddress: 'must be an IPv4 or IPv6 address',
  hostName: 'must be a DNS host name',
  viewerUrl: 'must be an http(s) URL',
  noHost: 'either serverName or publicAddress must be set: links need a host',
  contactPhone: 'must be a telephone number: digits, spaces, + ( ) . - /',
  contactEmail: 'must be an e-mail address',
  timeZone: 'must be an IANA time zone name, e.g. Europe/Paris',
} as const;

/** The server's own time zone: the default of `timeZone`. */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** True for an IANA zone name this runtime knows (`Asia/Tokyo`, `UTC`); offsets (`+01:00`) are not names. */
export function isTimeZone(v: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(v)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: v });
    return true;
  } catch {
    return false;
  }
}

// A telephone number as people write it: +33 1 23 45 67 89, (212) 555-0100; at least 3 digits.
const PHONE = /^\+?[0-9 ()./-]{3,40}$/;
// A plain address (no display name, no quotes): what a patient can copy into a mail program.
const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

// Control characters (NUL above all: PostgreSQL cannot store it in text) have no place in setup text.
const CONTROL = /\p{Cc}/u;
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((v) => !CONTROL.test(v), SETUP_RULES.controlCharacters);

const ipAddress = z
  .string()
  .trim()
  .transform((v) => v.replace(/^\[(.*)\]$/, '$1'))
  // A zone id (fe80::1%eth0) names an interface of this host, which no patient's browser shares.
  .refine((v) => !v.includes('%'), SETUP_RULES.zoneId)
  .refine((v) => v === '' || isIP(v) !== 0, SETUP_RULES.ipAddress);

export const serverConfigSchema = z
  .object({
    institution: text(200),
    department: text(200),
    publicAddress: ipAddress.describe(
      'The public ("true") IP address, used in links when serverName is empty.',
    ),
    localAddress: ipAddress.describe('The address on the hospital network, for reference.'),
    port: z.number().int().min(1).max(65535).describe('The public web port in links.'),
    serverName: z
      .string()
      .trim()
      .refine((v) => v === '' || HOSTNAME.test(v), SETUP_RULES.hostName)
      .describe('The web server DNS name; links use it when set.'),
    ssl: z.boolean().describe('Links use https when true.'),
    zipContent: z.enum(['as-stored', 'jpeg-lossless']),
    viewerUrl: text(2000).refine(
      (v) => v === '' || /^https?:\/\/[^\s"'<>\p{Cc}]+$/u.test(v),
      SETUP_RULES.viewerUrl,
    ),
    defaultExpiryDays: z.number().int().min(1).max(36500).nullable(),
    defaultVerification: z
      .enum(['none', 'birth-date', 'pin'])
      .default('none')
      .describe('The second factor of new links when the request names none.'),
    defaultLanguage: z
      .enum(LANGUAGES)
      .default('en')
      .describe("Patient pages' language when the browser asks for none of ours."),
    contactPhone: z
      .string()
      .trim()
      .refine(
        (v) => v === '' || (PHONE.test(v) && (v.match(/\d/g)?.length ?? 0) >= 3),
        SETUP_RULES.contactPhone,
      )
      .default('')
      .describe('The telephone number patient pages give for questions about the link.'),
    contactEmail: z
      .string()
      .trim()
      .max(254)
      .refine((v) => v === '' || EMAIL.test(v), SETUP_RULES.contactEmail)
      .default('')
      .describe('The e-mail address patient pages give for questions about the link.'),
    timeZone: z
      .string()
      .trim()
      .refine(isTimeZone, SETUP_RULES.timeZone)
      .default(serverTimeZone)
      .describe(
        "IANA time zone every time shown to patients and staff is written in (default: the server's).",
      ),
    reportsOnPage: z
      .boolean()
      .default(true)
      .describe("New links show the study's report unless the request says includeReport: false."),
    allowOnwardDownloads: z
      .boolean()
      .default(false)
      .describe('Links a patient shares onward with a doctor may download the zip (default: view only).'),
    logoUrl: z
      .string()
      .nullable()
      .default(null)
      .describe('Read-only: where pages load the logo (PUT/DELETE /api/v1/server-config/logo change it).'),
  })
  .refine((c) => c.serverName !== '' || c.publicAddress !== '', {
    message: SETUP_RULES.noHost,
    path: ['publicAddress'],
  });

export type ServerConfig = z.infer<typeof serverConfigSchema>;

/** PUT body: any subset of the fields; the merged result must still be valid. */
export const serverConfigUpdateSchema = z
  .object({
    institution: z.string(),
    department: z.string(),
    publicAddress: z.string(),
    localAddress: z.string(),
    port: z.number(),
    serverName: z.string(),
    ssl: z.boolean(),
    zipContent: z.enum(['as-stored', 'jpeg-lossless']),
    viewerUrl: z.string(),
    defaultExpiryDays: z.number().nullable(),
    defaultVerification: z.enum(['none', 'birth-date', 'pin']),
    defaultLanguage: z.string(),
    contactPhone: z.string(),
    contactEmail: z.string(),
    timeZone: z.string(),
    reportsOnPage: z.boolean(),
    allowOnwardDownloads: z.boolean(),
    // Accepted so a client may PUT back what it GOT; the logo itself has its own path.
    logoUrl: z.string().nullable(),
  })
  .partial()
  .strict();

/**
 * The fully qualified link for a token: server name if set, else the public IP (IPv6 in brackets);
 * https when SSL is on; the default port of the scheme left out.
 * @example tokenUrl({ serverName: 'pacs.example.org', ssl: true, port: 443, ... }, t) === `https://pacs.example.org/token?${t}`
 */
export function tokenUrl(
  c: Pick<ServerConfig, 'serverName' | 'publicAddress' | 'ssl' | 'port'>,
  token: string,
): string {
  return `${baseUrl(c)}/token?${token}`;
}

/** The public origin links are built on, e.g. `http://[2001:db8::1]:3000`. */
export function baseUrl(c: Pick<ServerConfig, 'serverName' | 'publicAddress' | 'ssl' | 'port'>): string {
  const scheme = c.ssl ? 'https' : 'http';
  const address = c.publicAddress.replace(/^\[(.*)\]$/, '$1');
  const host =
    c.serverName !== '' ? c.serverName.replace(/\.$/, '') : isIP(address) === 6 ? `[${address}]` : address;
  const defaultPort = c.ssl ? 443 : 80;
  return `${scheme}://${host}${c.port === defaultPort ? '' : `:${c.port}`}`;
}

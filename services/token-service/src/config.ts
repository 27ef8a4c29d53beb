import { isIP } from 'node:net';
import { LANGUAGES } from '@studylink/i18n';
import {
  ConfigError,
  metricsTokenOf,
  parseConfig,
  portField,
  sharedEnvFields,
  storeAuthOf,
} from '@studylink/service-kit';
import { z } from 'zod';
import { isTimeZone, serverTimeZone } from './server-config/server-config.schema.js';
import { issuerAllowsHttp, type OidcSettings } from './staff/session/oidc.client.js';
import { parseKey } from './tokens/token.crypto.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const key32 = z.string().transform((raw, ctx) => {
  const key = parseKey(raw);
  if (!key) {
    ctx.addIssue({ code: 'custom', message: 'must be 32 bytes as 64 hex characters or base64' });
    return z.NEVER;
  }
  return key;
});

const envSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  ...sharedEnvFields,
  TOKEN_ENCRYPTION_KEY: key32,
  TOKEN_ENCRYPTION_KEYS_PREVIOUS: z
    .string()
    .optional()
    .transform((raw, ctx) =>
      (raw ?? '')
        .split(',')
        .filter(Boolean)
        .map((k) => {
          const key = parseKey(k.trim());
          if (!key)
            ctx.addIssue({ code: 'custom', message: 'each previous key must be 32 bytes (hex or base64)' });
          return key ?? Buffer.alloc(32);
        }),
    ),
  ADMIN_API_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  TOKEN_SERVICE_PORT: portField(3001),
  // Grant checks and access events for the export service, and /metrics: never routed by nginx.
  TOKEN_SERVICE_INTERNAL_PORT: portField(3011),
  STORE_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  PAGE_REFRESH_TIMEOUT_MS: z.coerce.number().int().min(50).default(1_500),
  // A study copy is refreshed from the store in the background at most this often.
  STUDY_REFRESH_INTERVAL_MS: z.coerce.number().int().min(1_000).default(60_000),
  // The staff search's index walks the whole store this often (0: never; searches still add to it).
  STUDY_INDEX_WALK_INTERVAL_MS: z.coerce.number().int().min(0).default(900_000),
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  TOKEN_SERVICE_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).optional(),
  // The old name, read when the new one is not set.
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).optional(),
  // Guessing limit: invalid tokens (page or download) per client address (IPv6: per /64) and window.
  INVALID_TOKEN_LIMIT: z.coerce.number().int().min(0).default(20),
  INVALID_TOKEN_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  // The server-address setup. Set (non-empty), a variable wins over the stored setup on every
  // start and is read-only in the setup page and the API; unset, the stored value applies (these
  // defaults seed the first start only).
  PUBLIC_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  PUBLIC_ADDRESS: z
    .string()
    .refine((v) => isIP(v.replace(/^\[|\]$/g, '')) !== 0, 'must be an IPv4 or IPv6 address')
    .default('127.0.0.1'),
  SERVER_NAME: z.string().default(''),
  LOCAL_ADDRESS: z.string().default(''),
  INSTITUTION: z.string().default(''),
  DEPARTMENT: z.string().default(''),
  SSL: bool.default(false),
  ZIP_CONTENT: z.enum(['as-stored', 'jpeg-lossless']).default('as-stored'),
  VIEWER_URL: z.string().default('https://www.microdicom.com/dicom-viewer/'),
  // Where the built patient viewer is (default: the @studylink/patient-viewer workspace's dist/).
  VIEWER_DIST_DIR: z.string().min(1).optional(),
  DEFAULT_EXPIRY_DAYS: z.coerce.number().int().min(1).optional(),
  // Link trust (issue 12): the second factor of new links, and patient pages' fallback language.
  DEFAULT_VERIFICATION: z.enum(['none', 'birth-date', 'pin']).default('none'),
  DEFAULT_LANGUAGE: z.enum(LANGUAGES).default('en'),
  // Who sent the link (issue 20): the contact patient pages give, the zone times are shown in,
  // whether reports show by default, and a PNG/JPEG logo file (at most 200 kB) read at start.
  CONTACT_PHONE: z.string().default(''),
  CONTACT_EMAIL: z.string().default(''),
  TIME_ZONE: z.string().refine(isTimeZone, 'must be an IANA time zone name, e.g. Europe/Paris').optional(),
  REPORTS_ON_PAGE: bool.default(true),
  // Share onward (issue 21): may the links a patient shares with a doctor download the zip?
  ALLOW_ONWARD_DOWNLOADS: bool.default(false),
  LOGO_FILE: z.string().min(1).optional(),
  // Staff web interface: the first admin (made on start while no active admin exists), sessions.
  STAFF_ADMIN_USERNAME: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'letters, digits, dots, hyphens, underscores')
    .optional(),
  STAFF_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(256).optional(),
  STAFF_SESSION_HOURS: z.coerce.number().min(0.01).max(168).default(12),
  STAFF_IDLE_MINUTES: z.coerce.number().min(1).max(1440).default(30),
  // Staff single sign-on (OpenID Connect): issuer, client id and secret together, or none of them.
  STAFF_OIDC_ISSUER: z
    .url({ protocol: /^https?$/ })
    .refine(
      (v) => v.startsWith('https://') || issuerAllowsHttp(v),
      'must be an https URL (http only for a provider on this machine)',
    )
    .optional(),
  STAFF_OIDC_CLIENT_ID: z.string().min(1).max(512).optional(),
  STAFF_OIDC_CLIENT_SECRET: z.string().min(1).max(4096).optional(),
  // A value of the group claim that makes an administrator; every other user is staff.
  STAFF_OIDC_ADMIN_GROUP: z.string().min(1).max(512).optional(),
  STAFF_OIDC_GROUPS_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/, 'a claim name, or a dotted path (realm_access.roles)')
    .default('groups'),
  STAFF_OIDC_SCOPES: z
    .string()
    .regex(/(^|\s)openid(\s|$)/, 'must include openid')
    .default('openid profile email'),
  // Default: the setup's public address + /staff/sign-in/oidc/callback.
  STAFF_OIDC_REDIRECT_URI: z.url({ protocol: /^https?$/ }).optional(),
  STAFF_LOCAL_SIGN_IN: bool.default(true),
  // How long a replica answers from its in-process copy of the setup: a change made through another
  // replica shows in this one's links within this bound.
  SERVER_CONFIG_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  // Delivery of links to patients (issue 21). E-mail: both SMTP_URL and MAIL_FROM; SMS (a
  // Twilio-shaped Messages API): SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM.
  SMTP_URL: z
    .string()
    .refine(isSmtpUrl, 'must be smtp://host:port or smtps://user:password@host:465')
    .optional(),
  MAIL_FROM: z.string().trim().min(3).max(320).optional(),
  SMS_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be an http(s) URL')
    .default('https://api.twilio.com'),
  SMS_ACCOUNT_SID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - and _')
    .optional(),
  SMS_AUTH_TOKEN: z.string().min(1).optional(),
  SMS_FROM: z.string().trim().min(1).max(64).optional(),
  // How often each replica looks for deliveries that are due (a new one is sent at once).
  DELIVERY_POLL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
});

/** `smtp://host:port` or `smtps://user:password@host:465`: a host is required, nothing after the port. */
function isSmtpUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return (
      (u.protocol === 'smtp:' || u.protocol === 'smtps:') && u.hostname !== '' && /^\/?$/.test(u.pathname)
    );
  } catch {
    return false;
  }
}

/** Variables that may be set empty (compose's `${X:-}`): empty counts as not set. */
const DELIVERY_VARS = [
  'SMTP_URL',
  'MAIL_FROM',
  'SMS_API_URL',
  'SMS_ACCOUNT_SID',
  'SMS_AUTH_TOKEN',
  'SMS_FROM',
] as const;

/** The setup's variables: an empty value (compose's `${X:-}`) counts as not set. */
const SETUP_VARS = [
  'PUBLIC_PORT',
  'PUBLIC_ADDRESS',
  'SERVER_NAME',
  'LOCAL_ADDRESS',
  'INSTITUTION',
  'DEPARTMENT',
  'SSL',
  'ZIP_CONTENT',
  'VIEWER_URL',
  'DEFAULT_EXPIRY_DAYS',
  'DEFAULT_VERIFICATION',
  'DEFAULT_LANGUAGE',
  'CONTACT_PHONE',
  'CONTACT_EMAIL',
  'TIME_ZONE',
  'REPORTS_ON_PAGE',
  'ALLOW_ONWARD_DOWNLOADS',
  'LOGO_FILE',
] as const;

/** Sign-in variables: empty (compose's `${X:-}`) counts as not set too. */
const SIGN_IN_VARS = [
  'STAFF_OIDC_ISSUER',
  'STAFF_OIDC_CLIENT_ID',
  'STAFF_OIDC_CLIENT_SECRET',
  'STAFF_OIDC_ADMIN_GROUP',
  'STAFF_OIDC_GROUPS_CLAIM',
  'STAFF_OIDC_SCOPES',
  'STAFF_OIDC_REDIRECT_URI',
  'STAFF_LOCAL_SIGN_IN',
] as const;

export type TokenServiceConfig = ReturnType<typeof loadConfig>;
export type DeliveryConfig = TokenServiceConfig['delivery'];

/** The SMTP server as the setup page shows it: scheme, user, host and port, never the password. */
function smtpServerShown(raw: string): string {
  const u = new URL(raw);
  const port = u.port || (u.protocol === 'smtps:' ? '465' : '25');
  const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
  return `${u.protocol}//${user}${u.hostname}:${port}`;
}

/** Reads and validates the token service's environment once, failing with every problem listed. */
export function loadConfig(rawEnv: Record<string, string | undefined>) {
  const env = { ...rawEnv };
  for (const k of [...SETUP_VARS, ...DELIVERY_VARS, ...SIGN_IN_VARS])
    if (env[k]?.trim() === '') delete env[k];
  const e = parseConfig(envSchema, env);
  const set = (k: (typeof SETUP_VARS)[number]) => env[k] !== undefined;
  const fromEnv = Object.freeze({
    ...(set('INSTITUTION') ? { institution: e.INSTITUTION } : {}),
    ...(set('DEPARTMENT') ? { department: e.DEPARTMENT } : {}),
    ...(set('PUBLIC_ADDRESS') ? { publicAddress: e.PUBLIC_ADDRESS } : {}),
    ...(set('LOCAL_ADDRESS') ? { localAddress: e.LOCAL_ADDRESS } : {}),
    ...(set('PUBLIC_PORT') ? { port: e.PUBLIC_PORT } : {}),
    ...(set('SERVER_NAME') ? { serverName: e.SERVER_NAME } : {}),
    ...(set('SSL') ? { ssl: e.SSL } : {}),
    ...(set('ZIP_CONTENT') ? { zipContent: e.ZIP_CONTENT } : {}),
    ...(set('VIEWER_URL') ? { viewerUrl: e.VIEWER_URL } : {}),
    ...(set('DEFAULT_EXPIRY_DAYS') ? { defaultExpiryDays: e.DEFAULT_EXPIRY_DAYS ?? null } : {}),
    ...(set('DEFAULT_VERIFICATION') ? { defaultVerification: e.DEFAULT_VERIFICATION } : {}),
    ...(set('DEFAULT_LANGUAGE') ? { defaultLanguage: e.DEFAULT_LANGUAGE } : {}),
    ...(set('CONTACT_PHONE') ? { contactPhone: e.CONTACT_PHONE } : {}),
    ...(set('CONTACT_EMAIL') ? { contactEmail: e.CONTACT_EMAIL } : {}),
    ...(set('TIME_ZONE') && e.TIME_ZONE ? { timeZone: e.TIME_ZONE } : {}),
    ...(set('REPORTS_ON_PAGE') ? { reportsOnPage: e.REPORTS_ON_PAGE } : {}),
    ...(set('ALLOW_ONWARD_DOWNLOADS') ? { allowOnwardDownloads: e.ALLOW_ONWARD_DOWNLOADS } : {}),
  });
  if ((e.STAFF_ADMIN_USERNAME === undefined) !== (e.STAFF_ADMIN_PASSWORD === undefined))
    throw new ConfigError(['STAFF_ADMIN_USERNAME and STAFF_ADMIN_PASSWORD: set both, or neither']);
  const oidcSet = [e.STAFF_OIDC_ISSUER, e.STAFF_OIDC_CLIENT_ID, e.STAFF_OIDC_CLIENT_SECRET].filter(
    (v) => v !== undefined,
  ).length;
  if (oidcSet !== 0 && oidcSet !== 3)
    throw new ConfigError([
      'STAFF_OIDC_ISSUER, STAFF_OIDC_CLIENT_ID and STAFF_OIDC_CLIENT_SECRET: set all three, or none',
    ]);
  if (!e.STAFF_LOCAL_SIGN_IN && !e.STAFF_OIDC_ISSUER)
    throw new ConfigError([
      'STAFF_LOCAL_SIGN_IN=false needs single sign-on (STAFF_OIDC_ISSUER...): nobody could sign in',
    ]);
  const oidc: OidcSettings | null =
    e.STAFF_OIDC_ISSUER && e.STAFF_OIDC_CLIENT_ID
      ? Object.freeze({
          issuer: e.STAFF_OIDC_ISSUER,
          clientId: e.STAFF_OIDC_CLIENT_ID,
          adminGroup: e.STAFF_OIDC_ADMIN_GROUP ?? null,
          groupsClaim: e.STAFF_OIDC_GROUPS_CLAIM,
          redirectUri: e.STAFF_OIDC_REDIRECT_URI ?? null,
          scopes: e.STAFF_OIDC_SCOPES.trim().split(/\s+/).join(' '),
        })
      : null;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    dicomwebUrl: e.DICOMWEB_URL.replace(/\/+$/, ''),
    dicomwebCa: e.DICOMWEB_CA_FILE,
    host: e.HOST,
    internalHost: e.INTERNAL_HOST ?? e.HOST,
    port: e.TOKEN_SERVICE_PORT,
    internalPort: e.TOKEN_SERVICE_INTERNAL_PORT,
    trustedProxies: e.TRUSTED_PROXIES,
    logLevel: e.LOG_LEVEL,
    storeTimeoutMs: e.STORE_TIMEOUT_MS,
    pageRefreshTimeoutMs: e.PAGE_REFRESH_TIMEOUT_MS,
    studyRefreshIntervalMs: e.STUDY_REFRESH_INTERVAL_MS,
    studyIndexWalkIntervalMs: e.STUDY_INDEX_WALK_INTERVAL_MS,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    shutdownGraceMs: e.TOKEN_SERVICE_SHUTDOWN_GRACE_MS ?? e.SHUTDOWN_GRACE_MS ?? 10_000,
    staffSessions: Object.freeze({
      absoluteMs: Math.round(e.STAFF_SESSION_HOURS * 3_600_000),
      idleMs: Math.round(e.STAFF_IDLE_MINUTES * 60_000),
    }),
    invalidTokenLimit: Object.freeze({
      limit: e.INVALID_TOKEN_LIMIT,
      windowSeconds: e.INVALID_TOKEN_WINDOW_SECONDS,
    }),
    /** How staff sign in: local passwords (on unless STAFF_LOCAL_SIGN_IN=false), single sign-on. */
    staffSignIn: Object.freeze({ local: e.STAFF_LOCAL_SIGN_IN, oidc }),
    viewerDistDir: e.VIEWER_DIST_DIR ?? null,
    seed: Object.freeze({
      institution: e.INSTITUTION,
      department: e.DEPARTMENT,
      publicAddress: e.PUBLIC_ADDRESS,
      localAddress: e.LOCAL_ADDRESS,
      port: e.PUBLIC_PORT,
      serverName: e.SERVER_NAME,
      ssl: e.SSL,
      zipContent: e.ZIP_CONTENT,
      viewerUrl: e.VIEWER_URL,
      defaultExpiryDays: e.DEFAULT_EXPIRY_DAYS ?? null,
      defaultVerification: e.DEFAULT_VERIFICATION,
      defaultLanguage: e.DEFAULT_LANGUAGE,
      contactPhone: e.CONTACT_PHONE,
      contactEmail: e.CONTACT_EMAIL,
      timeZone: e.TIME_ZONE ?? serverTimeZone(),
      reportsOnPage: e.REPORTS_ON_PAGE,
      allowOnwardDownloads: e.ALLOW_ONWARD_DOWNLOADS,
      logoUrl: null,
    }),
    /** LOGO_FILE: main reads and checks it; the logo then wins over a stored one. */
    logoFile: e.LOGO_FILE ?? null,
    /** The setup fields set in the environment: they win over the stored setup. */
    setupFromEnv: fromEnv,
    serverConfigCacheMs: e.SERVER_CONFIG_CACHE_MS,
    /** What the setup page shows of delivery (no password, no auth token); `missing`: unset variables. */
    delivery: Object.freeze({
      mail: Object.freeze({
        server: e.SMTP_URL ? smtpServerShown(e.SMTP_URL) : null,
        from: e.MAIL_FROM ?? null,
        missing: [...(e.SMTP_URL ? [] : ['SMTP_URL']), ...(e.MAIL_FROM ? [] : ['MAIL_FROM'])],
      }),
      sms: Object.freeze({
        apiUrl: e.SMS_API_URL.replace(/\/+$/, ''),
        accountSid: e.SMS_ACCOUNT_SID ?? null,
        from: e.SMS_FROM ?? null,
        missing: [
          ...(e.SMS_ACCOUNT_SID ? [] : ['SMS_ACCOUNT_SID']),
          ...(e.SMS_AUTH_TOKEN ? [] : ['SMS_AUTH_TOKEN']),
          ...(e.SMS_FROM ? [] : ['SMS_FROM']),
        ],
      }),
      pollMs: e.DELIVERY_POLL_MS,
    }),
    // Secrets kept apart from the rest so nothing logs them with the config.
    secrets: Object.freeze({
      tokenKey: e.TOKEN_ENCRYPTION_KEY,
      previousTokenKeys: e.TOKEN_ENCRYPTION_KEYS_PREVIOUS,
      adminApiKey: e.ADMIN_API_KEY ?? null,
      internalSecret: e.INTERNAL_SECRET,
      metricsToken: metricsTokenOf(e),
      dicomwebAuthorization: e.DICOMWEB_AUTHORIZATION ?? null,
      /** How the store is authenticated to (a header, OAuth 2.0 client credentials, a Google key). */
      storeAuth: storeAuthOf(e),
      /** May carry a user and password. */
      smtpUrl: e.SMTP_URL ?? null,
      smsAuthToken: e.SMS_AUTH_TOKEN ?? null,
      internalSecrets: [
        e.INTERNAL_SECRET,
        ...(e.INTERNAL_SECRET_PREVIOUS ? [e.INTERNAL_SECRET_PREVIOUS] : []),
      ],
      staffOidcClientSecret: e.STAFF_OIDC_CLIENT_SECRET ?? null,
      staffAdmin:
        e.STAFF_ADMIN_USERNAME && e.STAFF_ADMIN_PASSWORD
          ? Object.freeze({ username: e.STAFF_ADMIN_USERNAME, password: e.STAFF_ADMIN_PASSWORD })
          : null,
    }),
  });
}

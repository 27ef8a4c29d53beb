import { ValidationError } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { z } from 'zod';
import type { DB } from '../db/tables.js';
import { type Logo, type LogoType, logoOrThrow, logoUrl } from './logo.js';
import {
  findLogo,
  findServerConfig,
  rowToServerConfig,
  saveLogo,
  saveServerConfig,
  seedServerConfig,
} from './server-config.repository.js';
import {
  type ServerConfig,
  serverConfigSchema,
  serverConfigUpdateSchema,
  serverTimeZone,
} from './server-config.schema.js';

export type SetupField = keyof ServerConfig;

/** The environment variable of each setup field. */
export const SETUP_ENV: Readonly<Record<SetupField, string>> = Object.freeze({
  institution: 'INSTITUTION',
  department: 'DEPARTMENT',
  publicAddress: 'PUBLIC_ADDRESS',
  localAddress: 'LOCAL_ADDRESS',
  port: 'PUBLIC_PORT',
  serverName: 'SERVER_NAME',
  ssl: 'SSL',
  zipContent: 'ZIP_CONTENT',
  viewerUrl: 'VIEWER_URL',
  defaultExpiryDays: 'DEFAULT_EXPIRY_DAYS',
  defaultVerification: 'DEFAULT_VERIFICATION',
  defaultLanguage: 'DEFAULT_LANGUAGE',
  contactPhone: 'CONTACT_PHONE',
  contactEmail: 'CONTACT_EMAIL',
  timeZone: 'TIME_ZONE',
  reportsOnPage: 'REPORTS_ON_PAGE',
  allowOnwardDownloads: 'ALLOW_ONWARD_DOWNLOADS',
  logoUrl: 'LOGO_FILE',
});

/** The first start's setup: fields with a default may be left out. */
export type ServerConfigSeed = z.input<typeof serverConfigSchema>;

const SEED_DEFAULTS = {
  contactPhone: '',
  contactEmail: '',
  timeZone: serverTimeZone(),
  reportsOnPage: true,
  allowOnwardDownloads: false,
  logoUrl: null,
};

export type SetupSource = 'environment' | 'stored' | 'default';

export interface ServerConfigOptions {
  /**
   * Fields set in the environment: they win over the stored setup on every start (nginx reads SSL
   * and PUBLIC_PORT on every start too, so links must follow), are shown read-only and cannot be
   * changed through the API or the staff interface.
   */
  fromEnv?: Partial<ServerConfig>;
  /**
   * How long a replica may answer from its in-process copy of the setup (0: read every time). A
   * change made through this replica shows at once; through another one within this bound.
   */
  cacheMs?: number;
  /** The logo from LOGO_FILE: stored on every start, read-only like the other environment fields. */
  logoFromEnv?: Logo | null;
}

/** A change to fields the environment sets: 400, naming the variables to change instead. */
export class SetByEnvironmentError extends ValidationError {
  constructor(fields: SetupField[]) {
    super(
      `${fields.map((f) => `${f} is set by the environment (${SETUP_ENV[f]})`).join('; ')}: change the environment and restart`,
      fields.map((f) => ({
        path: [f],
        code: 'set_by_environment',
        message: `set by the environment (${SETUP_ENV[f]}); change it there`,
      })),
    );
  }
}

export class ServerConfigService {
  private readonly fromEnv: Partial<ServerConfig>;
  private readonly cacheMs: number;
  private cached: { value: ServerConfig; at: number } | null = null;
  private readonly logoFromEnv: Logo | null;

  private readonly seed: ServerConfig;

  constructor(
    private readonly db: Kysely<DB>,
    seed: ServerConfigSeed,
    opts: ServerConfigOptions = {},
  ) {
    // The newer fields' defaults (contact, time zone, reports) filled in; validated by ensureSeeded.
    const parsed = serverConfigSchema.safeParse(seed);
    this.seed = parsed.success ? parsed.data : ({ ...SEED_DEFAULTS, ...seed } as ServerConfig);
    this.fromEnv = Object.freeze({ ...(opts.fromEnv ?? {}) });
    this.cacheMs = opts.cacheMs ?? 0;
    this.logoFromEnv = opts.logoFromEnv ?? null;
    if (this.logoFromEnv)
      this.fromEnv = Object.freeze({ ...this.fromEnv, logoUrl: logoUrl(this.logoFromEnv) });
  }

  /** Writes the seed on first start; later starts keep what staff edited (the environment still wins). */
  async ensureSeeded(): Promise<void> {
    await seedServerConfig(this.db, serverConfigSchema.parse({ ...this.seed, ...this.fromEnv }));
    if (this.logoFromEnv) await saveLogo(this.db, this.logoFromEnv);
  }

  /**
   * Replaces the logo (null removes it): PNG or JPEG by its first bytes, at most 200 kB.
   * Refused while LOGO_FILE sets it.
   */
  async setLogo(bytes: Uint8Array | null): Promise<ServerConfig> {
    if (this.logoFromEnv) throw new SetByEnvironmentError(['logoUrl']);
    const logo = bytes === null ? null : logoOrThrow(bytes);
    await this.ensureSeeded();
    await saveLogo(this.db, logo);
    this.cached = null;
    return this.get();
  }

  /** The logo's bytes for `/assets/logo/<digest>.<ext>`; undefined once it was replaced. */
  logoFile(sha256Prefix: string): Promise<{ logo: Buffer; logo_type: LogoType } | undefined> {
    return findLogo(this.db, sha256Prefix);
  }

  /** The setup links are built with: the stored one, with the environment's fields on top. */
  async get(): Promise<ServerConfig> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.value;
    const value = this.effective(await this.stored());
    if (this.cacheMs > 0) this.cached = { value, at: now };
    return value;
  }

  /** The fields the environment sets (read-only in the setup page and the API). */
  environmentFields(): SetupField[] {
    return Object.keys(this.fromEnv) as SetupField[];
  }

  /** Where each field's value comes from, for the start-up log and the setup page. */
  async sources(): Promise<Record<SetupField, SetupSource>> {
    const row = await findServerConfig(this.db);
    return Object.fromEntries(
      (Object.keys(SETUP_ENV) as SetupField[]).map((f) => [
        f,
        f in this.fromEnv ? 'environment' : row ? 'stored' : 'default',
      ]),
    ) as Record<SetupField, SetupSource>;
  }

  /**
   * Applies a partial update; the merged setup is validated as a whole. A field the environment
   * sets may be sent with its current value (a client PUTting back what it GOT), never changed.
   */
  async update(patch: unknown): Promise<ServerConfig> {
    const parsedPatch = serverConfigUpdateSchema.safeParse(patch);
    if (!parsedPatch.success)
      throw new ValidationError('invalid server configuration', parsedPatch.error.issues);
    const fixed = (Object.keys(parsedPatch.data) as SetupField[]).filter(
      (f) => f in this.fromEnv && !sameValue(this.fromEnv[f], parsedPatch.data[f], f),
    );
    if (fixed.length > 0) throw new SetByEnvironmentError(fixed);
    if (parsedPatch.data.logoUrl !== undefined && !(('logoUrl' as SetupField) in this.fromEnv)) {
      const current = (await this.get()).logoUrl;
      if (parsedPatch.data.logoUrl !== current)
        throw new ValidationError('logoUrl is read-only: PUT or DELETE /api/v1/server-config/logo', [
          { path: ['logoUrl'], code: 'read_only', message: 'change the logo at /api/v1/server-config/logo' },
        ]);
    }
    const storable = Object.fromEntries(
      Object.entries(parsedPatch.data).filter(([f]) => !(f in this.fromEnv) && f !== 'logoUrl'),
    ) as Partial<ServerConfig>;
    const saved = await this.db.transaction().execute(async (trx) => {
      const current = await findServerConfig(trx);
      const base = current ? rowToServerConfig(current) : this.seed;
      // Validated as links will be built: with the environment's fields in place.
      const merged = serverConfigSchema.safeParse({ ...base, ...storable, ...this.fromEnv });
      if (!merged.success) throw new ValidationError('invalid server configuration', merged.error.issues);
      const toStore = serverConfigSchema.safeParse({ ...base, ...storable });
      const row = toStore.success ? toStore.data : { ...base, ...storable };
      if (!current) await seedServerConfig(trx, row as ServerConfig);
      return rowToServerConfig(await saveServerConfig(trx, row as ServerConfig));
    });
    const value = this.effective(saved);
    this.cached = this.cacheMs > 0 ? { value, at: Date.now() } : null;
    return value;
  }

  private async stored(): Promise<ServerConfig> {
    const row = await findServerConfig(this.db);
    return row ? rowToServerConfig(row) : serverConfigSchema.parse(this.seed);
  }

  private effective(stored: ServerConfig): ServerConfig {
    return { ...stored, ...this.fromEnv };
  }
}

function sameValue(a: unknown, b: unknown, field: SetupField): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    const norm = (v: string) =>
      (field === 'publicAddress' || field === 'localAddress' ? v.replace(/^\[(.*)\]$/, '$1') : v).trim();
    return norm(a) === norm(b);
  }
  return a === b;
}

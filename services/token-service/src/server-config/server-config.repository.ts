import { isLanguage } from '@studylink/i18n';
import type { Db } from '../db/database.js';
import type { ServerConfigRow } from '../db/tables.js';
import { type Logo, type LogoType, logoUrl } from './logo.js';
import { isTimeZone, type ServerConfig, serverTimeZone } from './server-config.schema.js';

/** The setup row without the logo's bytes (pages need its digest, not the image). */
export type ServerConfigFields = Omit<ServerConfigRow, 'logo'>;

export function findServerConfig(db: Db): Promise<ServerConfigFields | undefined> {
  return db
    .selectFrom('server_config')
    .select([
      'id',
      'institution',
      'department',
      'public_address',
      'local_address',
      'port',
      'server_name',
      'ssl',
      'zip_content',
      'viewer_url',
      'default_expiry_days',
      'default_verification',
      'default_language',
      'contact_phone',
      'contact_email',
      'time_zone',
      'reports_on_page',
      'allow_onward_downloads',
      'logo_type',
      'logo_sha256',
      'updated_at',
    ])
    .where('id', '=', 1)
    .executeTakeFirst();
}

/** The logo's bytes, when its digest is still the current one. */
export function findLogo(
  db: Db,
  sha256Prefix: string,
): Promise<{ logo: Buffer; logo_type: LogoType } | undefined> {
  return db
    .selectFrom('server_config')
    .select(['logo', 'logo_type'])
    .where('id', '=', 1)
    .where('logo_sha256', 'like', `${sha256Prefix.replace(/[^0-9a-f]/g, '')}%`)
    .executeTakeFirst()
    .then((r) => (r?.logo && r.logo_type ? { logo: r.logo, logo_type: r.logo_type } : undefined));
}

/** Replaces (or with null removes) the logo. */
export async function saveLogo(db: Db, logo: Logo | null): Promise<void> {
  await db
    .updateTable('server_config')
    .set({
      logo: logo?.bytes ?? null,
      logo_type: logo?.contentType ?? null,
      logo_sha256: logo?.sha256 ?? null,
      updated_at: new Date(),
    })
    .where('id', '=', 1)
    .execute();
}

/** Inserts the seed row unless one exists: the environment seeds the first start only. */
export async function seedServerConfig(db: Db, c: ServerConfig): Promise<void> {
  await db
    .insertInto('server_config')
    .values({ id: 1, ...toColumns(c) })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

export async function saveServerConfig(db: Db, c: ServerConfig): Promise<ServerConfigFields> {
  await db
    .updateTable('server_config')
    .set({ ...toColumns(c), updated_at: new Date() })
    .where('id', '=', 1)
    .execute();
  const row = await findServerConfig(db);
  if (!row) throw new Error('server_config row vanished');
  return row;
}

function toColumns(c: ServerConfig) {
  return {
    institution: c.institution,
    department: c.department,
    public_address: c.publicAddress,
    local_address: c.localAddress,
    port: c.port,
    server_name: c.serverName,
    ssl: c.ssl,
    zip_content: c.zipContent,
    viewer_url: c.viewerUrl,
    default_expiry_days: c.defaultExpiryDays,
    default_verification: c.defaultVerification,
    default_language: c.defaultLanguage,
    contact_phone: c.contactPhone,
    contact_email: c.contactEmail,
    time_zone: c.timeZone,
    reports_on_page: c.reportsOnPage,
    allow_onward_downloads: c.allowOnwardDownloads,
  };
}

export function rowToServerConfig(r: ServerConfigFields): ServerConfig {
  return {
    institution: r.institution,
    department: r.department,
    publicAddress: r.public_address,
    localAddress: r.local_address,
    port: r.port,
    serverName: r.server_name,
    ssl: r.ssl,
    zipContent: r.zip_content,
    viewerUrl: r.viewer_url,
    defaultExpiryDays: r.default_expiry_days,
    defaultVerification: r.default_verification,
    defaultLanguage: isLanguage(r.default_language) ? r.default_language : 'en',
    contactPhone: r.contact_phone,
    contactEmail: r.contact_email,
    timeZone: r.time_zone && isTimeZone(r.time_zone) ? r.time_zone : serverTimeZone(),
    reportsOnPage: r.reports_on_page,
    allowOnwardDownloads: r.allow_onward_downloads,
    logoUrl:
      r.logo_sha256 && r.logo_type ? logoUrl({ sha256: r.logo_sha256, contentType: r.logo_type }) : null,
  };
}

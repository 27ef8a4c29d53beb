import { isLanguage } from '@studylink/i18n';
import type { Db } from '../db/database.js';
import type { ServerConfigRow } from '../db/tables.js';
import type { ServerConfig } from './server-config.schema.js';

export function findServerConfig(db: Db): Promise<ServerConfigRow | undefined> {
  return db.selectFrom('server_config').selectAll().where('id', '=', 1).executeTakeFirst();
}

/** Inserts the seed row unless one exists: the environment seeds the first start only. */
export async function seedServerConfig(db: Db, c: ServerConfig): Promise<void> {
  await db
    .insertInto('server_config')
    .values({ id: 1, ...toColumns(c) })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

export async function saveServerConfig(db: Db, c: ServerConfig): Promise<ServerConfigRow> {
  return db
    .updateTable('server_config')
    .set({ ...toColumns(c), updated_at: new Date() })
    .where('id', '=', 1)
    .returningAll()
    .executeTakeFirstOrThrow();
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
  };
}

export function rowToServerConfig(r: ServerConfigRow): ServerConfig {
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
  };
}

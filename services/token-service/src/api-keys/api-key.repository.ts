import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export interface ApiKeyListItem {
  id: number;
  name: string;
  keyPrefix: string;
  role: 'admin' | 'integrator';
  scopes: ('tokens' | 'audit' | 'admin')[];
  createdAt: Date;
  createdBy: string;
  disabledAt: Date | null;
  disabledBy: string | null;
  lastUsedAt: Date | null;
}

export async function listApiKeys(db: Db): Promise<ApiKeyListItem[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select([
      'id',
      'name',
      'key_prefix',
      'role',
      'scopes',
      'created_at',
      'created_by',
      'disabled_at',
      'disabled_by',
      'last_used_at',
    ])
    .orderBy('disabled_at', (ob) => ob.desc().nullsFirst())
    .orderBy('id', 'desc')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    keyPrefix: r.key_prefix,
    role: r.role,
    scopes: r.scopes,
    createdAt: r.created_at,
    createdBy: r.created_by,
    disabledAt: r.disabled_at,
    disabledBy: r.disabled_by,
    lastUsedAt: r.last_used_at,
  }));
}

/** Disables a key at once (the API refuses it from the next request); undefined if none such. */
export async function disableApiKey(
  db: Db,
  id: number,
  by: string,
): Promise<{ name: string; alreadyDisabled: boolean } | undefined> {
  const key = await db
    .selectFrom('api_keys')
    .select(['name', 'disabled_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!key) return undefined;
  if (!key.disabled_at) {
    await db
      .updateTable('api_keys')
      .set({ disabled_at: sql<Date>`now()`, disabled_by: by })
      .where('id', '=', id)
      .where('disabled_at', 'is', null)
      .execute();
  }
  return { name: key.name, alreadyDisabled: key.disabled_at !== null };
}

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.js';

export interface ApiPrincipal {
  keyId: number;
  name: string;
  role: 'admin' | 'integrator';
  /** How the access log names this caller: never the key itself. */
  actor: string;
}

const BOOTSTRAP_CREATOR = 'env:ADMIN_API_KEY';

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new API key: a recognisable prefix and 256 random bits. */
export function generateApiKey(): string {
  return `slk_${randomBytes(32).toString('base64url')}`;
}

export class ApiKeyService {
  constructor(private readonly db: Kysely<DB>) {}

  /**
   * Makes ADMIN_API_KEY an admin key; a changed value disables the previous one, so rotating the
   * variable and restarting is enough.
   */
  async bootstrapAdminKey(key: string | null): Promise<void> {
    if (!key) return;
    const hash = hashKey(key);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('api_keys')
        .set({ disabled_at: new Date() })
        .where('created_by', '=', BOOTSTRAP_CREATOR)
        .where('key_hash', '!=', hash)
        .where('disabled_at', 'is', null)
        .execute();
      await trx
        .insertInto('api_keys')
        .values({
          name: 'admin (ADMIN_API_KEY)',
          key_hash: hash,
          key_prefix: key.slice(0, 8),
          role: 'admin',
          created_by: BOOTSTRAP_CREATOR,
        })
        // A key that staff disabled stays disabled across restarts: set a new ADMIN_API_KEY instead.
        .onConflict((oc) => oc.column('key_hash').doNothing())
        .execute();
    });
  }

  async create(
    name: string,
    role: 'admin' | 'integrator',
    createdBy: string,
  ): Promise<{ id: number; key: string }> {
    const key = generateApiKey();
    const row = await this.db
      .insertInto('api_keys')
      .values({ name, key_hash: hashKey(key), key_prefix: key.slice(0, 8), role, created_by: createdBy })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, key };
  }

  /**
   * The principal behind a presented key, or null. Keys are found by their SHA-256 and the hash
   * is compared again in constant time, so timing says nothing about how close a guess was.
   */
  async authenticate(presented: string): Promise<ApiPrincipal | null> {
    if (presented.length < 16 || presented.length > 256) return null;
    const hash = hashKey(presented);
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'name', 'role', 'key_hash', 'disabled_at'])
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.disabled_at || !timingSafeEqual(row.key_hash, hash)) return null;
    return { keyId: row.id, name: row.name, role: row.role, actor: `api-key:${row.id}:${row.name}` };
  }
}

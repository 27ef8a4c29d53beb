import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { DB } from '../db/tables.js';

/**
 * What a key may do: `tokens` issue, show and revoke links; `audit` read the access log and the
 * setup; `admin` everything, changing the setup included.
 */
export const API_SCOPES = ['tokens', 'audit', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** True when a key with `scopes` may do what needs any one of `needed` (admin may do anything). */
export function hasScope(scopes: readonly ApiScope[], needed: readonly ApiScope[]): boolean {
  return scopes.includes('admin') || needed.some((s) => scopes.includes(s));
}

export interface ApiPrincipal {
  keyId: number;
  name: string;
  role: 'admin' | 'integrator';
  scopes: ApiScope[];
  /** How the access log names this caller: never the key itself. */
  actor: string;
}

const BOOTSTRAP_CREATOR = 'env:ADMIN_API_KEY';
const LAST_USED_RESOLUTION_MS = 60_000;

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
          scopes: ['admin'],
          created_by: BOOTSTRAP_CREATOR,
        })
        // A key that staff disabled stays disabled across restarts: set a new ADMIN_API_KEY instead.
        .onConflict((oc) => oc.column('key_hash').doNothing())
        .execute();
    });
  }

  async create(
    name: string,
    scopes: readonly ApiScope[],
    createdBy: string,
  ): Promise<{ id: number; key: string }> {
    const key = generateApiKey();
    const row = await this.db
      .insertInto('api_keys')
      .values({
        name,
        key_hash: hashKey(key),
        key_prefix: key.slice(0, 8),
        scopes: [...new Set(scopes)].sort(),
        created_by: createdBy,
      })
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
      .select(['id', 'name', 'role', 'scopes', 'key_hash', 'disabled_at', 'last_used_at'])
      .where('key_hash', '=', hash)
      .executeTakeFirst();
    if (!row || row.disabled_at || !timingSafeEqual(row.key_hash, hash)) return null;
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS)
      await this.touch(row.id);
    return {
      keyId: row.id,
      name: row.name,
      role: row.role,
      scopes: row.scopes,
      actor: `api-key:${row.id}:${row.name}`,
    };
  }

  /** Records when a key was last used, at most once a minute per key (no write on every request). */
  private async touch(id: number): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb('last_used_at', 'is', null),
          eb(
            'last_used_at',
            '<',
            sql<Date>`now() - make_interval(secs => ${LAST_USED_RESOLUTION_MS / 1000})`,
          ),
        ]),
      )
      .execute();
  }
}

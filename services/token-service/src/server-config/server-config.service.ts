import { ValidationError } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { DB } from '../db/tables.js';
import {
  findServerConfig,
  rowToServerConfig,
  saveServerConfig,
  seedServerConfig,
} from './server-config.repository.js';
import { type ServerConfig, serverConfigSchema, serverConfigUpdateSchema } from './server-config.schema.js';

export class ServerConfigService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly seed: ServerConfig,
  ) {}

  /** Writes the environment's values on first start; later starts keep what staff edited. */
  async ensureSeeded(): Promise<void> {
    await seedServerConfig(this.db, serverConfigSchema.parse(this.seed));
  }

  async get(): Promise<ServerConfig> {
    const row = await findServerConfig(this.db);
    return row ? rowToServerConfig(row) : serverConfigSchema.parse(this.seed);
  }

  /** Applies a partial update; the merged setup is validated as a whole. */
  async update(patch: unknown): Promise<ServerConfig> {
    const parsedPatch = serverConfigUpdateSchema.safeParse(patch);
    if (!parsedPatch.success)
      throw new ValidationError('invalid server configuration', parsedPatch.error.issues);
    return this.db.transaction().execute(async (trx) => {
      const current = await findServerConfig(trx);
      const merged = serverConfigSchema.safeParse({
        ...(current ? rowToServerConfig(current) : this.seed),
        ...parsedPatch.data,
      });
      if (!merged.success) throw new ValidationError('invalid server configuration', merged.error.issues);
      if (!current) await seedServerConfig(trx, merged.data);
      return rowToServerConfig(await saveServerConfig(trx, merged.data));
    });
  }
}

import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { DB } from './tables.js';

export type Db = Kysely<DB> | Transaction<DB>;

/** int8 columns (ids, byte counts) as numbers; refuse silently losing precision. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value out of safe range: ${value}`);
  return n;
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return parseInt8;
    // biome-ignore lint/suspicious/noExplicitAny: pg's overloads do not accept the union
    return pg.types.getTypeParser(oid, format as any);
  },
};

export interface Database {
  db: Kysely<DB>;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * Builds the pg pool and Kysely. Statement and connection timeouts keep an outage from
 * hanging requests; pool errors (a backend killed by a restart) are logged, not fatal.
 */
export function createDatabase(opts: {
  url: string;
  max?: number;
  statementTimeoutMs?: number;
  onPoolError?: (err: Error) => void;
  /** Sees every SQL statement (tests count queries with it). */
  onQuery?: (sql: string) => void;
}): Database {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: opts.statementTimeoutMs ?? 5_000,
    query_timeout: (opts.statementTimeoutMs ?? 5_000) + 1_000,
    application_name: 'token-service',
    types,
  });
  pool.on('error', (err) => opts.onPoolError?.(err));
  // pg-pool listens for errors on idle clients only, but a connection that dies mid-query (the
  // database restarting) emits 'error' on the checked-out client as well, and an 'error' nobody
  // hears kills the process. The query itself rejects with it (a 503); the pool then drops the client.
  pool.on('connect', (client) => client.on('error', () => {}));
  const onQuery = opts.onQuery;
  const db = new Kysely<DB>({
    dialect: new PostgresDialect({ pool }),
    ...(onQuery ? { log: (e: { level: string; query: { sql: string } }) => onQuery(e.query.sql) } : {}),
  });
  return { db, pool, close: () => db.destroy() };
}

/** True for errors that mean "the database is unreachable", as opposed to a bad query. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (!e) return false;
  if (typeof e.code === 'string') {
    // connection refused/reset, admin shutdown, cannot connect now, too many connections
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code))
      return true;
    if (e.code.startsWith('08') || ['57P01', '57P02', '57P03', '53300', '57014'].includes(e.code))
      return true;
  }
  const m = typeof e.message === 'string' ? e.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error|Query read timeout/i.test(
    m,
  );
}

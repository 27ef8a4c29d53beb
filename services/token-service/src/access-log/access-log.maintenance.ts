import pg from 'pg';

/**
 * Access-log upkeep, run as the owner role (`cli.js purge-access-log`, the compose one-shot
 * `access-log-purge`): makes the monthly partitions ahead of time and, with a retention, drops the
 * months wholly older than it. Whole partitions only: no row is ever deleted or changed, and rows
 * are kept between `retentionDays` and `retentionDays` + one month.
 *
 * Locks: making a partition attaches it (SHARE UPDATE EXCLUSIVE on the log: inserts go on); dropping
 * one needs a brief ACCESS EXCLUSIVE. Every statement runs with a short lock_timeout and is retried,
 * so a long reader (a CSV export) never leaves inserts queued behind a waiting DROP for longer than
 * that timeout.
 */
export interface MaintenanceOptions {
  /** Keep this many days (null: keep everything). */
  retentionDays: number | null;
  /** Months after the current one to make partitions for. */
  monthsAhead?: number;
  lockTimeoutMs?: number;
  attempts?: number;
  now?: Date;
  log?: (line: string) => void;
}

export interface MaintenanceResult {
  created: string[];
  dropped: { name: string; before: string; rows: number }[];
}

const LOCK_NOT_AVAILABLE = '55P03';

function monthStart(d: Date, offset = 0): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
}

export async function maintainAccessLog(url: string, o: MaintenanceOptions): Promise<MaintenanceResult> {
  const client = new pg.Client({ connectionString: url, application_name: 'access-log-purge' });
  await client.connect();
  client.on('error', () => {});
  const log = o.log ?? (() => {});
  const lockTimeoutMs = o.lockTimeoutMs ?? 500;
  const attempts = o.attempts ?? 20;
  const now = o.now ?? new Date();
  const result: MaintenanceResult = { created: [], dropped: [] };

  /** One statement in its own transaction, retried when a lock is not free within the timeout. */
  const retrying = async <T>(work: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt += 1) {
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL lock_timeout = ${Math.round(lockTimeoutMs)}`);
        const value = await work();
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        if ((err as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= attempts) throw err;
        log(`the access log is busy; retrying (${attempt}/${attempts})`);
        await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2_000)));
      }
    }
  };

  const partitions = async () =>
    (
      await client.query<{ name: string; bound: string }>(
        `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'access_log'::regclass`,
      )
    ).rows;

  try {
    const ownerCheck = await client.query<{ owner: boolean }>(
      "SELECT pg_has_role(current_user, relowner, 'USAGE') AS owner FROM pg_class WHERE oid = 'access_log'::regclass",
    );
    if (!ownerCheck.rows[0]?.owner)
      throw new Error(
        'this role does not own the access log: run purge-access-log with MIGRATION_DATABASE_URL (the owner role)',
      );
    const before = new Set((await partitions()).map((p) => p.name));
    // Months the DEFAULT partition caught (no partition was made ahead), then the months to come.
    const strays = (
      await client.query<{ m: Date }>(
        "SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM access_log_default",
      )
    ).rows.map((r) => r.m);
    const months = [...strays];
    for (let i = 0; i <= (o.monthsAhead ?? 3); i += 1) months.push(monthStart(now, i));
    for (const m of months) {
      const day = m.toISOString().slice(0, 10);
      const name = await retrying(
        async () =>
          (
            await client.query<{ name: string }>('SELECT access_log_create_partition($1::date) AS name', [
              day,
            ])
          ).rows[0]?.name as string,
      );
      if (!before.has(name) && !result.created.includes(name)) {
        result.created.push(name);
        log(`made partition ${name}`);
      }
    }

    if (o.retentionDays !== null) {
      const cutoff = new Date(now.getTime() - o.retentionDays * 86_400_000);
      for (const p of await partitions()) {
        const upper = /TO \('([^']+)'\)/.exec(p.bound)?.[1];
        if (!upper || p.name === 'access_log_default') continue;
        const end = new Date(upper.replace(' ', 'T').replace(/\+00$/, 'Z'));
        if (!(end.getTime() <= cutoff.getTime())) continue;
        const rows = await retrying(async () => {
          const n = Number(
            (await client.query(`SELECT count(*) AS n FROM "${p.name.replaceAll('"', '""')}"`)).rows[0].n,
          );
          await client.query(`DROP TABLE "${p.name.replaceAll('"', '""')}"`);
          return n;
        });
        result.dropped.push({ name: p.name, before: end.toISOString(), rows });
        log(`dropped partition ${p.name}: ${rows} rows from before ${end.toISOString()}`);
      }
    }
    // The purge is itself in the log, as the owner wrote it.
    if (result.dropped.length > 0 || result.created.length > 0) {
      await client.query(
        "INSERT INTO access_log (event, outcome, actor, detail) VALUES ('access_log_purged', 'ok', 'cli:purge-access-log', $1)",
        [
          JSON.stringify({
            retentionDays: o.retentionDays,
            dropped: result.dropped,
            created: result.created,
          }),
        ],
      );
    }
    return result;
  } finally {
    await client.end();
  }
}

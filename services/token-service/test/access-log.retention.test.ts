import { Readable } from 'node:stream';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliIo, main, UsageError } from '../src/cli.js';

// `cli.js purge-access-log`, as the owner: monthly partitions made ahead, whole months older than
// ACCESS_LOG_RETENTION_DAYS dropped, nothing else touched; the services' role may not do it.
let db: TestDatabase;
let owner: pg.Client;

beforeEach(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterEach(async () => {
  await owner.end();
  await db.drop();
});

function cli(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    env,
    stdin: Readable.from([]),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
  };
  return { io, out, err };
}

const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

async function insertAt(at: Date, event = 'page_view') {
  await owner.query('INSERT INTO access_log (at, event, outcome) VALUES ($1, $2, $3)', [at, event, 'ok']);
}

const partitions = async () =>
  (
    await owner.query<{ name: string }>(
      "SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'access_log'::regclass ORDER BY 1",
    )
  ).rows.map((r) => r.name);

const monthName = (d: Date) =>
  `access_log_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

describe('purge-access-log', () => {
  it('drops whole months older than the retention, keeps the rest, and logs what it did', async () => {
    // 400 and 200 days ago have no partition (the migration made this month's and later ones):
    // the DEFAULT partition caught them.
    for (const d of [400, 200, 10, 0]) await insertAt(daysAgo(d));
    const inDefault = await owner.query('SELECT count(*)::int AS n FROM access_log_default');
    expect(inDefault.rows[0].n).toBeGreaterThanOrEqual(2);

    const run = cli({ MIGRATION_DATABASE_URL: db.ownerUrl, ACCESS_LOG_RETENTION_DAYS: '90' });
    expect(await main(['purge-access-log'], run.io)).toBe(0);
    const summary = JSON.parse(run.out.join(''));
    expect(summary.dropped).toEqual(
      expect.arrayContaining([monthName(daysAgo(400)), monthName(daysAgo(200))]),
    );
    expect(summary.rowsDropped).toBe(2);

    const left = (await owner.query<{ at: Date }>("SELECT at FROM access_log WHERE event = 'page_view'"))
      .rows;
    expect(left).toHaveLength(2);
    for (const r of left) expect(r.at.getTime()).toBeGreaterThan(daysAgo(90 + 31).getTime());
    expect((await owner.query('SELECT count(*)::int AS n FROM access_log_default')).rows[0].n).toBe(0);
    // Partitions for this month and the three after it exist, so inserts never wait for one.
    const names = await partitions();
    for (let i = 0; i <= 3; i += 1) {
      const m = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + i, 15));
      expect(names).toContain(monthName(m));
    }
    expect(names).not.toContain(monthName(daysAgo(400)));
    const [event] = (
      await owner.query("SELECT actor, detail FROM access_log WHERE event = 'access_log_purged'")
    ).rows;
    expect(event.actor).toBe('cli:purge-access-log');
    expect(event.detail.retentionDays).toBe(90);
    expect(event.detail.dropped.map((d: { name: string }) => d.name)).toEqual(summary.dropped);
  });

  it('keeps everything when ACCESS_LOG_RETENTION_DAYS is unset, and a second run changes nothing', async () => {
    await insertAt(daysAgo(3000));
    const first = cli({ MIGRATION_DATABASE_URL: db.ownerUrl });
    expect(await main(['purge-access-log'], first.io)).toBe(0);
    expect(JSON.parse(first.out.join('')).dropped).toEqual([]);
    expect(
      (await owner.query('SELECT count(*)::int AS n FROM access_log WHERE at < $1', [daysAgo(2000)])).rows[0]
        .n,
    ).toBe(1);
    const again = cli({ MIGRATION_DATABASE_URL: db.ownerUrl });
    expect(await main(['purge-access-log'], again.io)).toBe(0);
    expect(JSON.parse(again.out.join(''))).toMatchObject({ created: [], dropped: [] });
  });

  it('the application role cannot run it, and bad retention values are usage errors', async () => {
    await insertAt(daysAgo(400));
    await expect(
      main(['purge-access-log'], cli({ MIGRATION_DATABASE_URL: db.url, ACCESS_LOG_RETENTION_DAYS: '1' }).io),
    ).rejects.toThrow(/does not own the access log/);
    await expect(main(['purge-access-log'], cli({ DATABASE_URL: db.url }).io)).rejects.toThrow(UsageError);
    for (const bad of ['0', '-5', 'ten', '1.5'])
      await expect(
        main(
          ['purge-access-log'],
          cli({ MIGRATION_DATABASE_URL: db.ownerUrl, ACCESS_LOG_RETENTION_DAYS: bad }).io,
        ),
      ).rejects.toThrow(/ACCESS_LOG_RETENTION_DAYS/);
    expect((await owner.query('SELECT count(*)::int AS n FROM access_log')).rows[0].n).toBe(1);
  });

  it('waits for a reader holding the log instead of queueing inserts behind it, then finishes', async () => {
    await insertAt(daysAgo(400));
    // A long reader (a CSV export, say) holds ACCESS SHARE on an old partition.
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM access_log');
    const run = cli({ MIGRATION_DATABASE_URL: db.ownerUrl, ACCESS_LOG_RETENTION_DAYS: '30' });
    const purge = main(['purge-access-log'], run.io);
    // Meanwhile the application goes on appending: its insert is not stuck behind the waiting DROP.
    await new Promise((r) => setTimeout(r, 300));
    const app = new pg.Client({ connectionString: db.url, statement_timeout: 1500 });
    await app.connect();
    await app.query("INSERT INTO access_log (event, outcome) VALUES ('page_view', 'during purge')");
    await app.end();
    await reader.query('COMMIT');
    await reader.end();
    expect(await purge).toBe(0);
    expect(run.err.join('')).toMatch(/busy; retrying/);
    expect(
      (await owner.query("SELECT count(*)::int AS n FROM access_log WHERE outcome = 'during purge'")).rows[0]
        .n,
    ).toBe(1);
  });
});

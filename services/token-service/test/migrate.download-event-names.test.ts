import { readFile } from 'node:fs/promises';
import { createTestDatabase, type TestDatabase } from '@studylink/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';

// Migration 0019 renames download_start / download_abort (issue 18) in rows logged before it, and
// leaves the log append-only. The template database has every migration applied, so rows with the
// old names are written as the owner (as the release before wrote them) and 0019 is run again:
// it is written to be run twice.
const MIGRATION = new URL('../../../migrations/0019_download_event_names.sql', import.meta.url);
let db: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner?.end();
  await db?.drop();
});

const rows = async () =>
  (
    await owner.query<{
      id: string;
      at: Date;
      event: string;
      outcome: string;
      bytes: string | null;
      detail: unknown;
    }>('SELECT id, at, event, outcome, bytes, detail FROM access_log ORDER BY id')
  ).rows;

it('rewrites the old names of stored rows, touching nothing else, and the log stays append-only', async () => {
  // One row in an old month's partition (the default one) and the rest in this month's.
  await owner.query(
    `INSERT INTO access_log (at, event, outcome, token_id, bytes, detail) VALUES
       ('2019-03-01T10:00:00Z', 'download_start', 'ok', 1, NULL, '{"downloadId": "a"}'),
       (now(), 'download_start', 'ok', 1, NULL, NULL),
       (now(), 'download_resumed', 'ok', 1, NULL, '{"ranges": "bytes=10-"}'),
       (now(), 'download_abort', 'client_disconnected', 1, 1048576, NULL),
       (now(), 'download_complete', 'ok', 1, 3000000, '{"ranged": true}'),
       (now(), 'page_view', 'ok', 1, NULL, NULL)`,
  );
  const before = await rows();
  await owner.query('BEGIN');
  await owner.query(await readFile(MIGRATION, 'utf8'));
  await owner.query('COMMIT');
  const after = await rows();
  expect(after.map((r) => r.event)).toEqual([
    'download_started',
    'download_started',
    'download_resumed',
    'download_aborted',
    'download_complete',
    'page_view',
  ]);
  // Same rows, same times, outcomes, bytes and details: only the names changed.
  expect(after.map(({ event: _e, ...r }) => r)).toEqual(before.map(({ event: _e, ...r }) => r));
  const old = await owner.query(
    "SELECT count(*)::int AS n FROM access_log WHERE event IN ('download_start', 'download_abort')",
  );
  expect(old.rows[0].n).toBe(0);

  // The append-only trigger is back on the parent and on every partition, the owner included.
  const disabled = await owner.query(
    `SELECT tgrelid::regclass::text AS rel FROM pg_trigger
      WHERE tgname = 'access_log_no_update' AND tgenabled <> 'O'`,
  );
  expect(disabled.rows).toEqual([]);
  await expect(owner.query("UPDATE access_log SET outcome = 'x' WHERE event = 'page_view'")).rejects.toThrow(
    /append-only/,
  );
  await expect(owner.query("UPDATE access_log SET event = 'x' WHERE at < '2020-01-01'")).rejects.toThrow(
    /append-only/,
  );
});

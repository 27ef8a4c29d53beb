// Who may reach the application's database, on a cluster `make deps` / `make dev` set up (issue 17,
// probe item 5). The machine's pg_hba.conf trusts loopback for the tests and the migration owner;
// members of the `studylink_app` group (the services' roles) are taken out of that trust:
//   1. pg_hba: `scram-sha-256` rules for `+studylink_app` ahead of every other rule, so any local
//      process that connects as an application role needs its password; other users of the cluster
//      keep the rules they had.
//   2. CONNECT: an application role may connect to its own database only. PostgreSQL grants CONNECT
//      to PUBLIC, so on every other database PUBLIC's CONNECT is replaced by grants to the login
//      roles that are not application roles, and to that database's own application role when it is
//      a studylink database (`<database>_app`, `studylink_app` for `studylink`). Roles made later
//      are granted CONNECT by whoever makes them (a superuser needs none). The test kit's databases
//      (`studylink_tpl_*`) are left alone.
// Run as a superuser. Idempotent.
import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';

export const APP_GROUP = 'studylink_app';
const MARK = '# studylink: application roles need their password (scripts/pg-access.mjs)';
export const HBA_RULES = [
  MARK,
  `local all +${APP_GROUP} scram-sha-256`,
  `host all +${APP_GROUP} 127.0.0.1/32 scram-sha-256`,
  `host all +${APP_GROUP} ::1/128 scram-sha-256`,
];

/**
 * Puts HBA_RULES at the top of the cluster's pg_hba.conf unless they are there, and reloads. Returns
 * 'added', 'present', or 'not-writable' (then the caller says what to add by hand).
 * @example await ensureAppGroupHba(admin) // 'added'
 */
export async function ensureAppGroupHba(admin) {
  const file = (await admin.query('SHOW hba_file')).rows[0].hba_file;
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return 'not-writable';
  }
  const firstRule = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
  if (text.includes(MARK) && firstRule === HBA_RULES[1]) return 'present';
  const rest = text
    .split('\n')
    .filter((l) => !HBA_RULES.includes(l))
    .join('\n');
  try {
    await writeFile(file, `${HBA_RULES.join('\n')}\n${rest}`);
  } catch {
    return 'not-writable';
  }
  await admin.query('SELECT pg_reload_conf()');
  return 'added';
}

/**
 * Takes CONNECT on every database but `database` (and templates and the test kit's) away from the
 * application roles, keeping it for everyone else. Returns the databases changed.
 * @example await restrictAppConnect(admin, 'studylink') // ['postgres']
 */
export async function restrictAppConnect(admin, database) {
  const { rows: dbs } = await admin.query(
    `SELECT datname FROM pg_database
      WHERE datallowconn AND NOT datistemplate AND datname <> $1 AND left(datname, 14) <> 'studylink_tpl_'
        AND has_database_privilege('public', oid, 'CONNECT')`,
    [database],
  );
  const { rows: others } = await admin.query(
    `SELECT rolname FROM pg_roles
      WHERE rolcanlogin AND NOT rolsuper AND rolname !~ '^pg_' AND NOT pg_has_role(oid, $1, 'MEMBER')`,
    [APP_GROUP],
  );
  const ident = (s) => `"${s.replaceAll('"', '""')}"`;
  const appRoleOf = (db) => (db === 'studylink' ? APP_GROUP : `${db}_app`);
  const roleExists = async (role) =>
    (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount > 0;
  for (const { datname } of dbs) {
    await admin.query(`REVOKE CONNECT ON DATABASE ${ident(datname)} FROM PUBLIC`);
    for (const { rolname } of others)
      await admin.query(`GRANT CONNECT ON DATABASE ${ident(datname)} TO ${ident(rolname)}`);
    // Another studylink database on the same cluster keeps its own application role.
    if (await roleExists(appRoleOf(datname)))
      await admin.query(`GRANT CONNECT ON DATABASE ${ident(datname)} TO ${ident(appRoleOf(datname))}`);
  }
  // Its own database, even when an earlier run for another database took PUBLIC's CONNECT from it.
  if (await roleExists(appRoleOf(database)))
    await admin.query(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(appRoleOf(database))}`);
  return dbs.map((d) => d.datname);
}

/**
 * Both, for `make dev`'s local database: says what it did, or what to do by hand.
 * @example await secureAppAccess('postgres://postgres@127.0.0.1:5432/postgres', 'studylink', log)
 */
export async function secureAppAccess(adminUrl, database, log = () => {}) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const hba = await ensureAppGroupHba(admin);
    if (hba === 'not-writable')
      log(
        `pg_hba.conf is not writable here: add these lines at its top, then reload:\n${HBA_RULES.join('\n')}`,
      );
    else if (hba === 'added') log('pg_hba.conf: application roles now need their password');
    const revoked = await restrictAppConnect(admin, database);
    if (revoked.length) log(`CONNECT taken from the application roles on: ${revoked.join(', ')}`);
    return { hba, revoked };
  } finally {
    await admin.end();
  }
}

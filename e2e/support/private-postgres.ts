import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@studylink/testkit';
import pg from 'pg';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url: string;
  /** The same database as the application role the services connect as (made by the migration runner). */
  appUrl: string;
  port: number;
  dir: string;
  /** Stops the server the hard way (pg_ctl stop -m immediate): every backend dies at once. */
  stopImmediate(): Promise<void>;
  /** Starts it again on the same port and data (crash recovery included); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (if running) and deletes its files. Idempotent. */
  destroy(): Promise<void>;
}

/** PG_BIN_DIR, else the newest server binaries Debian installed (they are not in PATH). */
async function newestBin(): Promise<string> {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) throw new Error('no PostgreSQL server binaries (apt-get install postgresql)');
  const versions = (await readdir(root)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error(`no PostgreSQL version under ${root}`);
  return join(root, versions[0], 'bin');
}

/**
 * A throw-away PostgreSQL cluster of its own (initdb into a temp dir, a free loopback port), for tests
 * that stop and start the database: the machine's shared cluster must never be restarted under other
 * people's tests. postgres refuses to run as root, so as root it runs as the `postgres` user (runuser).
 * @example const db = await startPrivatePostgres(); await db.stopImmediate(); await db.start();
 */
export async function startPrivatePostgres(database = 'studylink'): Promise<PrivatePostgres> {
  const bin = await newestBin();
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(join(tmpdir(), 'studylink-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const port = await freePort();
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgCmd = (tool: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { cwd: dir })
      : run(join(bin, tool), args, { cwd: dir });

  await pgCmd('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const options = [
    `-p ${port}`,
    "-c listen_addresses='127.0.0.1'",
    `-c unix_socket_directories='${dir}'`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c synchronous_commit=off',
    '-c max_connections=50',
  ].join(' ');
  let running = false;
  const start = async () => {
    await pgCmd('pg_ctl', ['start', '-w', '-t', '30', '-D', data, '-l', logFile, '-o', options]);
    running = true;
  };
  const stop = async (mode: 'immediate' | 'fast') => {
    if (!running) return;
    await pgCmd('pg_ctl', ['stop', '-w', '-t', '30', '-m', mode, '-D', data]);
    running = false;
  };
  await start();
  // A daemon, not our child: if this process dies without destroy(), take the cluster down with it.
  const onExit = () => {
    if (!running) return;
    const args = ['stop', '-m', 'immediate', '-D', data];
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args]);
      else execFileSync(join(bin, 'pg_ctl'), args);
    } catch {
      // exiting anyway
    }
  };
  process.once('exit', onExit);
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();

  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    appUrl: `postgres://studylink_test_app@127.0.0.1:${port}/${database}`,
    port,
    dir,
    stopImmediate: () => stop('immediate'),
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      process.off('exit', onExit);
      await stop('fast').catch(() => stop('immediate').catch(() => {}));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

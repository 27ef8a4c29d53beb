#!/usr/bin/env node
// Staff user administration from the command line, for the first admin and for getting back in:
//
//   DATABASE_URL=postgres://... node services/token-service/dist/cli.js create-admin --username alice
//   DATABASE_URL=postgres://... node services/token-service/dist/cli.js reset-password --username alice
//
// The password comes from STAFF_ADMIN_PASSWORD if set, else from stdin: asked for twice, without
// echo, on a terminal; the first line otherwise (`... < password.txt`). It is never printed.
//
// Access-log upkeep, as the owner role (schedule it daily; see the README's Operations):
//
//   MIGRATION_DATABASE_URL=postgres://owner@... ACCESS_LOG_RETENTION_DAYS=3650 node .../cli.js purge-access-log
import { parseArgs } from 'node:util';
import { isEntryPoint, ValidationError } from '@studylink/service-kit';
import type { z } from 'zod';
import { maintainAccessLog } from './access-log/access-log.maintenance.js';
import { createDatabase } from './db/database.js';
import { passwordSchema, usernameSchema } from './staff/shared/staff.schemas.js';
import { findUserByUsername } from './staff/users/staff-user.repository.js';
import { StaffUserService } from './staff/users/staff-user.service.js';

const USAGE = `usage: cli.js <command> [--username <name>]

commands:
  create-admin       make a new administrator
  reset-password     set a new password for an existing user (also lifts a lockout, ends sessions)
  purge-access-log   make the access log's coming monthly partitions and drop the months older
                     than ACCESS_LOG_RETENTION_DAYS (unset: keep everything); as the owner role

The password is read from STAFF_ADMIN_PASSWORD, else from stdin. DATABASE_URL is required, except
for purge-access-log, which connects with MIGRATION_DATABASE_URL.`;

export class UsageError extends Error {}

/** What the CLI reads and writes; tests pass their own. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Reads a line from a terminal without echoing it. */
function askHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin;
  return new Promise((resolve, reject) => {
    let value = '';
    io.stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readFirstLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += chunk.toString();
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

async function readPassword(io: CliIo): Promise<string> {
  const fromEnv = io.env.STAFF_ADMIN_PASSWORD;
  if (fromEnv) return fromEnv;
  if (!io.stdin.isTTY) return readFirstLine(io.stdin);
  const first = await askHidden(io, 'Password: ');
  const again = await askHidden(io, 'Password again: ');
  if (first !== again) throw new UsageError('the passwords differ');
  return first;
}

function parseOrUsage<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${what}: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** Runs one command; resolves to the exit code, throws UsageError (exit 2) or others (exit 1). */
export async function main(
  argv: string[],
  io: CliIo = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { username: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const command = positionals[0];
  if (values.help || !command) {
    io.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (command === 'purge-access-log') return purgeAccessLog(io);
  if (command !== 'create-admin' && command !== 'reset-password')
    throw new UsageError(`unknown command ${command}`);
  const url = io.env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url))
    throw new UsageError('DATABASE_URL must be a postgres:// URL');
  const username = parseOrUsage(usernameSchema, values.username ?? '', 'username');
  const given = await readPassword(io);
  if (given === '') throw new UsageError('no password: set STAFF_ADMIN_PASSWORD or give it on stdin');
  const password = parseOrUsage(passwordSchema, given, 'password');

  const database = createDatabase({ url, max: 1 });
  try {
    const users = new StaffUserService(database.db);
    const by = { actor: `cli:${command}`, clientIp: '', userAgent: '' };
    if (command === 'create-admin') {
      await users.create({ username, role: 'admin', password }, by);
      io.stdout.write(`administrator ${username} created\n`);
    } else {
      const user = await findUserByUsername(database.db, username);
      if (!user) throw new UsageError(`no user named ${username}`);
      await users.resetPassword(user.id, password, by);
      io.stdout.write(`password of ${username} changed; their sessions were ended\n`);
    }
    return 0;
  } finally {
    await database.close();
  }
}

async function purgeAccessLog(io: CliIo): Promise<number> {
  const url = io.env.MIGRATION_DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url))
    throw new UsageError(
      'MIGRATION_DATABASE_URL must be the postgres:// URL of the role that owns the tables (the services’ role may not drop partitions)',
    );
  const raw = (io.env.ACCESS_LOG_RETENTION_DAYS ?? '').trim();
  if (raw !== '' && !/^[1-9][0-9]{0,5}$/.test(raw))
    throw new UsageError(
      'ACCESS_LOG_RETENTION_DAYS must be a whole number of days (1 or more), or unset to keep all',
    );
  const retentionDays = raw === '' ? null : Number(raw);
  const result = await maintainAccessLog(url, {
    retentionDays,
    log: (line) => io.stderr.write(`${line}\n`),
  });
  io.stdout.write(
    `${JSON.stringify({
      msg: 'access log maintained',
      retentionDays,
      created: result.created,
      dropped: result.dropped.map((d) => d.name),
      rowsDropped: result.dropped.reduce((n, d) => n + d.rows, 0),
    })}\n`,
  );
  return 0;
}

if (isEntryPoint(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const usage = err instanceof UsageError || err instanceof ValidationError;
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`error: ${message}\n`);
      if (err instanceof UsageError && /unknown command/.test(message)) process.stderr.write(`${USAGE}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}

import type { Logger } from '@studylink/service-kit';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import type { ApiKeyService } from '../api-keys/api-key.service.js';
import type { DB } from '../db/tables.js';
import { requestClientIp } from '../patient/patient.routes.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { TokenService } from '../tokens/token.service.js';
import type { StaffDB } from './staff.tables.js';
import type { SignInCsrf } from './staff-auth.middleware.js';
import { sessionOrThrow } from './staff-auth.middleware.js';
import type { StaffSessionService } from './staff-session.service.js';
import { type StaffActor, type StaffUserService, staffActor } from './staff-user.service.js';
import type { StudySearch } from './study-search.source.js';

/** Everything the staff routes use, built once in createStaffModule. */
export interface StaffRouteDeps {
  db: Kysely<DB>;
  staffDb: Kysely<StaffDB>;
  log: Logger;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  apiKeys: ApiKeyService;
  studySearch: StudySearch;
  users: StaffUserService;
  sessions: StaffSessionService;
  signInCsrf: SignInCsrf;
  trustedProxies: ReadonlySet<string>;
}

/** The client as the access log records it. */
export function clientOf(
  ctx: Context,
  trusted: ReadonlySet<string>,
): { clientIp: string; userAgent: string } {
  return { clientIp: requestClientIp(ctx, trusted), userAgent: ctx.get('user-agent') };
}

/** The signed-in user as the actor of an access-log event. */
export function actorOf(ctx: Context, trusted: ReadonlySet<string>): StaffActor {
  const s = sessionOrThrow(ctx);
  return { actor: staffActor(s.username), userId: s.userId, ...clientOf(ctx, trusted) };
}

/** Fixed confirmations shown after a redirect (`?done=<key>`): never text from the request. */
const FLASH = {
  issued: 'A link was made. Copy it, or print the handout for the patient.',
  revoked: 'The link was revoked: it no longer works.',
  reissued: 'The old link was revoked and a new one made. Give the patient the new link.',
  expiry: 'The expiry date was saved.',
  unlocked: 'The link was unlocked: the patient can try the birth date or PIN again.',
  setup: 'The server setup was saved.',
  'user-created': 'The user was created.',
  'user-disabled': 'The user was disabled and signed out.',
  'user-enabled': 'The user was enabled.',
  'password-reset': 'The password was changed; the user was signed out everywhere.',
  'key-disabled': 'The API key was disabled.',
} as const;
export type FlashKey = keyof typeof FLASH;

export function flashOf(ctx: Context): string | null {
  const key = ctx.query.done;
  return typeof key === 'string' && Object.hasOwn(FLASH, key) ? FLASH[key as FlashKey] : null;
}

/** POST → redirect → GET, with a confirmation to show. */
export function redirectDone(ctx: Context, path: string, done: FlashKey): void {
  ctx.status = 303;
  ctx.redirect(`${path}${path.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`);
}

export function sendPage(ctx: Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = body;
}

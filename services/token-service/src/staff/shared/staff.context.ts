import type { StaffMessageKey } from '@studylink/i18n';
import { escapeHtml, type Logger, requesterOf } from '@studylink/service-kit';
import type { Context } from 'koa';
import type { Kysely } from 'kysely';
import type { ApiKeyService } from '../../api-keys/api-key.service.js';
import type { DB } from '../../db/tables.js';
import type { DeliveryService } from '../../deliveries/delivery.service.js';
import type { ServerConfigService } from '../../server-config/server-config.service.js';
import type { ShareService } from '../../sharing/share.service.js';
import type { TokenService } from '../../tokens/token.service.js';
import type { StaffOidcService } from '../session/oidc.service.js';
import type { SignInCsrf } from '../session/staff-auth.middleware.js';
import { sessionOrThrow } from '../session/staff-auth.middleware.js';
import type { StaffSessionService } from '../session/staff-session.service.js';
import type { StudyFinder } from '../studies/study-finder.service.js';
import type { StudySearch } from '../studies/study-search.source.js';
import { type StaffActor, type StaffUserService, staffActor } from '../users/staff-user.service.js';
import { st } from './staff.i18n.js';
import { THIS_PAGE } from './staff.layout.js';

/** Everything the staff routes use, built once in createStaffModule. */
export interface StaffRouteDeps {
  db: Kysely<DB>;
  log: Logger;
  tokens: TokenService;
  serverConfig: ServerConfigService;
  apiKeys: ApiKeyService;
  studySearch: StudySearch;
  finder: StudyFinder;
  users: StaffUserService;
  sessions: StaffSessionService;
  signInCsrf: SignInCsrf;
  trustedProxies: ReadonlySet<string>;
  /** How staff sign in: local passwords (STAFF_LOCAL_SIGN_IN), single sign-on (STAFF_OIDC_*). */
  signInMethods: { local: boolean; oidc: StaffOidcService | null };
  /** E-mail/SMS delivery of links; absent: the study page offers none. */
  deliveries?: DeliveryService | undefined;
  /** Share onward: the study page lists the links the patient shared. */
  shares?: ShareService | undefined;
}

/** The client as the access log records it. */
export function clientOf(
  ctx: Context,
  trusted: ReadonlySet<string>,
): { clientIp: string; userAgent: string } {
  return requesterOf(ctx, trusted);
}

/** The signed-in user as the actor of an access-log event. */
export function actorOf(ctx: Context, trusted: ReadonlySet<string>): StaffActor {
  const s = sessionOrThrow(ctx);
  return { actor: staffActor(s.username), userId: s.userId, ...clientOf(ctx, trusted) };
}

/** Fixed confirmations shown after a redirect (`?done=<key>`): never text from the request. */
const FLASH = {
  issued: 'flash.issued',
  revoked: 'flash.revoked',
  reissued: 'flash.reissued',
  expiry: 'flash.expiry',
  unlocked: 'flash.unlocked',
  report: 'flash.report',
  setup: 'flash.setup',
  'user-created': 'flash.userCreated',
  'user-disabled': 'flash.userDisabled',
  'user-enabled': 'flash.userEnabled',
  'password-reset': 'flash.passwordReset',
  'key-disabled': 'flash.keyDisabled',
  sent: 'flash.sent',
  'sent-pin-not-sent': 'flash.sentPinNotSent',
} as const satisfies Record<string, StaffMessageKey>;
export type FlashKey = keyof typeof FLASH;

export function flashOf(ctx: Context): string | null {
  const key = ctx.query.done;
  return typeof key === 'string' && Object.hasOwn(FLASH, key) ? st.t(FLASH[key as FlashKey]) : null;
}

/** POST → redirect → GET, with a confirmation to show. */
export function redirectDone(ctx: Context, path: string, done: FlashKey): void {
  ctx.status = 303;
  ctx.redirect(`${path}${path.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}`);
}

export function sendPage(ctx: Context, body: string, status = 200): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  const here = ctx.method === 'GET' ? escapeHtml(ctx.originalUrl) : '/staff/studies';
  ctx.body = body.replace(`value="${THIS_PAGE}"`, () => `value="${here}"`);
}

/** The setup's time zone: staff pages write every time in it. */
export async function timeZoneOf(deps: Pick<StaffRouteDeps, 'serverConfig'>): Promise<string> {
  return (await deps.serverConfig.get()).timeZone;
}

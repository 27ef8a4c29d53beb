import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import * as oidc from 'openid-client';
import { appendAccessEvent } from '../../access-log/access-log.repository.js';
import type { DB, StaffRole, StaffUserRow } from '../../db/tables.js';
import type { Actor } from '../../tokens/token.service.js';
import { staffActor } from '../users/staff-user.service.js';
import type { OidcClient, OidcIdentity } from './oidc.client.js';
import {
  OidcInvalidResponseError,
  OidcLoginUnknownError,
  OidcProviderRefusedError,
  OidcReplayedError,
  OidcStateMismatchError,
  OidcUnavailableError,
  OidcUserDisabledError,
} from './oidc.errors.js';
import {
  deleteOldOidcLogins,
  findUserByOidc,
  insertOidcLogin,
  insertOidcUser,
  takeOidcLogin,
  updateOidcUser,
  usernameTaken,
} from './oidc.repository.js';
import { sameSecret } from './staff-auth.middleware.js';

/** How long a sign-in may take at the provider (login, second factor) before its callback is refused. */
export const OIDC_LOGIN_TTL_MS = 10 * 60_000;
/** Used and expired sign-ins are kept this long, so a replayed callback is named as one. */
const KEEP_USED_MS = 24 * 3_600_000;
// 32 random bytes as base64url: the cookie's value.
const LOGIN_ID = /^[A-Za-z0-9_-]{43}$/;

type Who = Omit<Actor, 'actor'>;

function hashId(id: string): Buffer {
  return createHash('sha256').update(id, 'utf8').digest();
}

/** A provider's name as a staff user name (the column's rule): lower case, `[a-z0-9._@+-]`. */
export function usernameFromProvider(name: string): string {
  let u = name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^a-z0-9._@+-]/g, '_')
    .slice(0, 120);
  if (!/^[a-z0-9]/.test(u)) u = `u${u}`.slice(0, 120);
  return u;
}

/**
 * Staff sign-in through the hospital's identity provider: starts a sign-in (state, nonce and PKCE
 * verifier kept server-side, behind a cookie), completes it at the callback (each sign-in once),
 * and links the user by issuer + subject, made or updated at every sign-in with the role the group
 * claim gives now.
 */
export class StaffOidcService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly client: OidcClient,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get settings() {
    return this.client.settings;
  }

  /** A new sign-in: the cookie value that binds it to this browser, and the provider's URL. */
  async begin(next: string, redirectUri: string): Promise<{ loginId: string; url: string }> {
    const checks = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
    };
    const url = await this.client.authorizationUrl(redirectUri, checks);
    const loginId = randomBytes(32).toString('base64url');
    const now = this.now();
    await deleteOldOidcLogins(this.db, new Date(now - KEEP_USED_MS));
    await insertOidcLogin(this.db, hashId(loginId), {
      ...checks,
      redirectUri,
      next,
      expiresAt: new Date(now + OIDC_LOGIN_TTL_MS),
    });
    return { loginId, url };
  }

  /**
   * The provider's answer at the callback: the sign-in of this browser (used once), its state,
   * the provider's error if any, then the code exchanged and the ID token checked. Every refusal
   * is in the access log; the user, made or updated, comes back with the page to go to.
   */
  async complete(
    loginId: string | undefined,
    query: URLSearchParams,
    who: Who,
  ): Promise<{ user: StaffUserRow; next: string }> {
    try {
      const taken =
        loginId && LOGIN_ID.test(loginId)
          ? await takeOidcLogin(this.db, hashId(loginId), new Date(this.now()))
          : undefined;
      if (!taken) throw new OidcLoginUnknownError();
      if ('used' in taken) throw new OidcReplayedError();
      const { login } = taken;
      if (login.expiresAt.getTime() <= this.now()) throw new OidcLoginUnknownError();
      // An error answer creates no session, whatever its state: say what the provider said.
      const error = query.get('error');
      if (error !== null)
        throw new OidcProviderRefusedError(/^[\w.-]{1,64}$/.test(error) ? error : 'invalid');
      if (!sameSecret(query.get('state') ?? '', login.state)) throw new OidcStateMismatchError();
      const identity = await this.client.exchange(login.redirectUri, query, login);
      const { user, previousRole } = await this.linkUser(identity);
      if (user.disabled_at) {
        await this.logFailure('oidc_user_disabled', who, user.username);
        throw new OidcUserDisabledError();
      }
      await appendAccessEvent(this.db, {
        event: 'staff_sign_in',
        outcome: 'ok',
        actor: staffActor(user.username),
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        // The role the group claim gave at this sign-in, and the one before when it changed.
        detail: { method: 'oidc', role: user.role, ...(previousRole ? { previousRole } : {}) },
      });
      return { user, next: login.next };
    } catch (err) {
      if (err instanceof OidcUserDisabledError) throw err;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('oidc_')) {
        await this.logFailure(code, who, null, err);
        if (err instanceof OidcUnavailableError)
          this.log.warn({ reason: describe(err.reason) }, 'identity provider not answering');
      }
      throw err;
    }
  }

  /** The provider's end-session URL, or null when it has none (or cannot be reached). */
  endSessionUrl(postLogoutRedirectUri: string): Promise<string | null> {
    return this.client.endSessionUrl(postLogoutRedirectUri);
  }

  private async linkUser(
    identity: OidcIdentity,
  ): Promise<{ user: StaffUserRow; previousRole: StaffRole | null }> {
    const { adminGroup } = this.client.settings;
    const role: StaffRole = adminGroup !== null && identity.groups.includes(adminGroup) ? 'admin' : 'staff';
    const now = new Date(this.now());
    const existing = await findUserByOidc(this.db, identity.issuer, identity.subject);
    const username = await this.freeUsername(identity, existing?.id);
    if (existing) {
      const updated = await updateOidcUser(this.db, existing.id, { username, role, now });
      return {
        user: updated ?? existing,
        previousRole: existing.role !== role ? existing.role : null,
      };
    }
    const created = await insertOidcUser(this.db, {
      username,
      role,
      issuer: identity.issuer,
      subject: identity.subject,
      now,
    });
    // Made by a concurrent callback of the same user a moment ago.
    const row = created ?? (await findUserByOidc(this.db, identity.issuer, identity.subject));
    if (!row) throw new OidcInvalidResponseError('user link');
    if (created)
      await appendAccessEvent(this.db, {
        event: 'user_created',
        outcome: 'ok',
        actor: 'oidc',
        detail: { username: row.username, role: row.role, issuer: identity.issuer },
      });
    return { user: row, previousRole: null };
  }

  /**
   * The provider's name for the user if no other account has it; else the name with a short hash
   * of issuer + subject (a local `alice` is never taken over by a provider's `alice`).
   */
  private async freeUsername(identity: OidcIdentity, exceptId: number | undefined): Promise<string> {
    const wanted = usernameFromProvider(identity.name);
    if (!(await usernameTaken(this.db, wanted, exceptId))) return wanted;
    const tag = createHash('sha256')
      .update(`${identity.issuer}\n${identity.subject}`)
      .digest('hex')
      .slice(0, 8);
    return `${wanted.slice(0, 110)}-${tag}`;
  }

  private async logFailure(outcome: string, who: Who, username: string | null, err?: unknown): Promise<void> {
    const providerError = (err as { providerError?: unknown } | undefined)?.providerError;
    await appendAccessEvent(this.db, {
      event: 'staff_sign_in_failed',
      outcome,
      actor: username ? staffActor(username) : null,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
      detail: { method: 'oidc', ...(typeof providerError === 'string' ? { providerError } : {}) },
    });
  }
}

/** An error's name and code, never its message (which may quote the provider's answer). */
function describe(err: unknown): { name?: string; code?: string } {
  const e = err as { name?: unknown; code?: unknown; cause?: { code?: unknown } } | null;
  return {
    ...(typeof e?.name === 'string' ? { name: e.name } : {}),
    ...(typeof e?.code === 'string'
      ? { code: e.code }
      : typeof e?.cause?.code === 'string'
        ? { code: e.cause.code }
        : {}),
  };
}

import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { Db } from '../db/database.js';
import type { DB, StudyRow, TokenRow } from '../db/tables.js';
import { StudyTokenNotFoundError, TokenNotDisplayableError, TokenNotFoundError } from '../errors.js';
import { tokenUrl } from '../server-config/server-config.schema.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import type { StudyService } from '../studies/study.service.js';
import { generateToken, hashToken, TOKEN_PATTERN, type TokenCipher } from './token.crypto.js';
import { findActiveTokenForStudy, findTokenByHash, insertToken, revokeToken } from './token.repository.js';

export interface IssuedToken {
  studyInstanceUid: string;
  token: string;
  url: string;
  createdAt: string;
  expiresAt: string | null;
}

/** Who asked, for the access log: an API key or a staff user, and from where. */
export interface Actor {
  actor: string;
  clientIp: string;
  userAgent: string;
}

export interface Grant {
  tokenId: number;
  studyInstanceUid: string;
  expiresAt: Date | null;
}

export class TokenService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly cipher: TokenCipher,
    private readonly studies: StudyService,
    private readonly serverConfig: ServerConfigService,
  ) {}

  /**
   * The study's active token, made if there is none. An expired one is retired and replaced.
   * A UID the store does not know throws StudyNotFoundError.
   */
  async issue(
    uid: string,
    who: Actor,
    opts: { expiresAt?: Date | null } = {},
  ): Promise<{ created: boolean; token: IssuedToken }> {
    const existing = await this.activeOrRetire(uid, who);
    if (existing) return { created: false, token: await this.display(existing, who, 'token_displayed') };

    await this.studies.forIssueOrThrow(uid);
    const config = await this.serverConfig.get();
    const made = await this.db.transaction().execute((trx) => this.insertLogged(trx, uid, who, opts, config));
    if (!made) {
      // Another request made one at the same moment: that one is the study's token.
      const winner = await findActiveTokenForStudy(this.db, uid);
      if (!winner) throw new Error('token insert lost a race but no active token exists');
      return { created: false, token: await this.display(winner, who, 'token_displayed') };
    }
    return { created: true, token: this.toIssued(made.row, made.token, config) };
  }

  /**
   * Replaces the study's link in one transaction: the old token is revoked and the new one made
   * together, so when the new one cannot be made (the database fails midway) the old one still
   * works. The study comes from the store, or from its stored copy while the store is down.
   */
  async replace(uid: string, who: Actor, opts: { expiresAt?: Date | null } = {}): Promise<IssuedToken> {
    await this.studies.forIssueOrThrow(uid);
    const config = await this.serverConfig.get();
    const made = await this.db.transaction().execute(async (trx) => {
      const old = await trx
        .selectFrom('tokens')
        .select(['id'])
        .where('study_instance_uid', '=', uid)
        .where('revoked_at', 'is', null)
        .forUpdate()
        .executeTakeFirst();
      if (old) {
        await revokeToken(trx, old.id, new Date());
        await appendAccessEvent(trx, {
          event: 'token_revoked',
          outcome: 'ok',
          tokenId: old.id,
          studyInstanceUid: uid,
          actor: who.actor,
          clientIp: who.clientIp,
          userAgent: who.userAgent,
          detail: { replaced: true },
        });
      }
      const fresh = await this.insertLogged(trx, uid, who, opts, config);
      if (!fresh) throw new Error('a token was made for the study while it was being replaced');
      return fresh;
    });
    return this.toIssued(made.row, made.token, config);
  }

  /** Inserts a new token and its token_issued event in the caller's transaction; null if one exists. */
  private async insertLogged(
    trx: Db,
    uid: string,
    who: Actor,
    opts: { expiresAt?: Date | null },
    config: { defaultExpiryDays: number | null },
  ): Promise<{ row: TokenRow; token: string } | null> {
    const expiresAt =
      opts.expiresAt !== undefined
        ? opts.expiresAt
        : config.defaultExpiryDays
          ? new Date(Date.now() + config.defaultExpiryDays * 86_400_000)
          : null;
    const token = generateToken();
    const hash = hashToken(token);
    const row = await insertToken(trx, {
      study_instance_uid: uid,
      token_hash: hash,
      token_ciphertext: this.cipher.encrypt(token, hash),
      expires_at: expiresAt,
      created_by: who.actor,
    });
    if (!row) return null;
    await appendAccessEvent(trx, {
      event: 'token_issued',
      outcome: 'ok',
      tokenId: row.id,
      studyInstanceUid: uid,
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
    return { row, token };
  }

  /** The study's active token for display; 404 when there is none. */
  async getActiveOrThrow(uid: string, who: Actor): Promise<IssuedToken> {
    const row = await this.activeOrRetire(uid, who);
    if (!row) throw new StudyTokenNotFoundError();
    return this.display(row, who, 'token_displayed');
  }

  /** Revokes at once: page and download refuse the old token from the next request on. */
  async revokeOrThrow(uid: string, who: Actor): Promise<void> {
    const row = await findActiveTokenForStudy(this.db, uid);
    if (!row) throw new StudyTokenNotFoundError();
    await this.db.transaction().execute(async (trx) => {
      await revokeToken(trx, row.id, new Date());
      await appendAccessEvent(trx, {
        event: 'token_revoked',
        outcome: 'ok',
        tokenId: row.id,
        studyInstanceUid: uid,
        actor: who.actor,
        clientIp: who.clientIp,
        userAgent: who.userAgent,
      });
    });
  }

  /**
   * What a presented token grants. The format is checked before any query; unknown, revoked and
   * expired tokens all throw the same TokenNotFoundError.
   */
  async resolveOrThrow(token: string): Promise<Grant> {
    if (!TOKEN_PATTERN.test(token)) throw new TokenNotFoundError();
    const row = await findTokenByHash(this.db, hashToken(token));
    if (!row || row.revoked_at || isExpired(row)) throw new TokenNotFoundError();
    return { tokenId: row.id, studyInstanceUid: row.study_instance_uid, expiresAt: row.expires_at };
  }

  async studyForPage(grant: Grant): Promise<StudyRow | undefined> {
    return this.studies.forPage(grant.studyInstanceUid);
  }

  /** The study's active token; an expired one is retired (revoked, and logged as token_expired). */
  private async activeOrRetire(uid: string, who: Actor): Promise<TokenRow | undefined> {
    const row = await findActiveTokenForStudy(this.db, uid);
    if (row && isExpired(row)) {
      await this.db.transaction().execute(async (trx) => {
        const retired = await revokeToken(trx, row.id, new Date());
        if (!retired) return; // another request retired it first, and logged that
        await appendAccessEvent(trx, {
          event: 'token_expired',
          outcome: 'ok',
          tokenId: row.id,
          studyInstanceUid: uid,
          actor: who.actor,
          clientIp: who.clientIp,
          userAgent: who.userAgent,
          detail: { expiredAt: row.expires_at?.toISOString() ?? null },
        });
      });
      return undefined;
    }
    return row;
  }

  private async display(row: TokenRow, who: Actor, event: 'token_displayed'): Promise<IssuedToken> {
    let token: string;
    try {
      token = this.cipher.decrypt(row.token_ciphertext, row.token_hash);
    } catch {
      // Encrypted under a key this service no longer has (TOKEN_ENCRYPTION_KEY changed without
      // TOKEN_ENCRYPTION_KEYS_PREVIOUS): the link still works, but nobody can show it again.
      throw new TokenNotDisplayableError();
    }
    await appendAccessEvent(this.db, {
      event,
      outcome: 'ok',
      tokenId: row.id,
      studyInstanceUid: row.study_instance_uid,
      actor: who.actor,
      clientIp: who.clientIp,
      userAgent: who.userAgent,
    });
    return this.toIssued(row, token, await this.serverConfig.get());
  }

  private toIssued(row: TokenRow, token: string, config: Parameters<typeof tokenUrl>[0]): IssuedToken {
    return {
      studyInstanceUid: row.study_instance_uid,
      token,
      url: tokenUrl(config, token),
      createdAt: row.created_at.toISOString(),
      expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
    };
  }
}

function isExpired(row: TokenRow): boolean {
  return row.expires_at !== null && row.expires_at.getTime() <= Date.now();
}

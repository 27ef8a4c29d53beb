import type { Requester } from '@studylink/service-kit';
import { type Kysely, sql } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import { TooManyChildLinksError } from '../errors.js';
import type { OpenedLink } from '../link-access/link-access.js';
import { tokenUrl } from '../server-config/server-config.schema.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { OPENED_BY_BROWSER } from '../tokens/active-links.repository.js';
import { generateToken, hashToken, type TokenCipher } from '../tokens/token.crypto.js';

/** Active child links one link may have at once. */
export const MAX_CHILD_LINKS = 5;
/** expiresInDays of a child link: 1 to 30, 7 unless the patient says otherwise. */
export const CHILD_DAYS = { min: 1, max: 30, default: 7 } as const;

/** A child link as the patient's page, the staff page and the API list it. */
export interface ChildLink {
  id: number;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  allowDownload: boolean;
  /** When a browser last opened it (its page's script, the viewer, a download); null: never. */
  openedAt: string | null;
  /** False once revoked or expired (or, for the staff and API, once its parent is). */
  active: boolean;
}

/**
 * Share onward (issue 21): a patient makes child links of their link for a doctor. The gate
 * (LinkAccess, purpose `share`) decides who may; this service makes, lists and revokes them. A
 * child is a token of the same study with `parent_id`: no second factor, view-only unless the setup
 * allows onward downloads, expiring no later than its parent, at most MAX_CHILD_LINKS active.
 */
export class ShareService {
  private readonly now: () => Date;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly cipher: TokenCipher,
    private readonly serverConfig: ServerConfigService,
    now?: () => Date,
  ) {
    this.now = now ?? (() => new Date());
  }

  /** Makes a child of the opened link; the answer carries its token and URL, shown once. */
  async shareOrThrow(
    parent: OpenedLink,
    expiresInDays: number,
    requester: Requester,
  ): Promise<{ id: number; token: string; url: string; expiresAt: Date | null; allowDownload: boolean }> {
    const config = await this.serverConfig.get();
    const now = this.now();
    const base = {
      tokenId: parent.link.tokenId,
      studyInstanceUid: parent.link.studyInstanceUid,
      clientIp: requester.clientIp,
      userAgent: requester.userAgent,
    };
    const made = await this.db.transaction().execute(async (trx) => {
      // The parent's row is locked: two shares at once cannot both pass the limit.
      const row = await trx
        .selectFrom('tokens')
        .select(['id', 'expires_at'])
        .where('id', '=', parent.link.tokenId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      const { n } = await trx
        .selectFrom('tokens')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('parent_id', '=', row.id)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirstOrThrow();
      if (Number(n) >= MAX_CHILD_LINKS) return null;
      const wanted = new Date(now.getTime() + expiresInDays * 86_400_000);
      const expiresAt = row.expires_at && row.expires_at < wanted ? row.expires_at : wanted;
      const token = generateToken();
      const hash = hashToken(token);
      const child = await trx
        .insertInto('tokens')
        .values({
          study_instance_uid: parent.link.studyInstanceUid,
          token_hash: hash,
          token_ciphertext: this.cipher.encrypt(token, hash),
          expires_at: expiresAt,
          created_by: 'patient',
          verification: 'none',
          pin_ciphertext: null,
          max_downloads: null,
          allow_download: config.allowOnwardDownloads,
          parent_id: row.id,
        })
        .returning(['id', 'expires_at', 'allow_download'])
        .executeTakeFirstOrThrow();
      const detail = { childId: child.id, expiresAt: child.expires_at?.toISOString() ?? null };
      await appendAccessEvent(trx, {
        event: 'link_shared',
        outcome: 'ok',
        ...base,
        detail: { ...detail, allowDownload: child.allow_download },
      });
      await appendAccessEvent(trx, {
        event: 'token_issued',
        outcome: 'ok',
        ...base,
        tokenId: child.id,
        actor: 'patient',
        detail: { parentId: row.id, verification: 'none', allowDownload: child.allow_download, ...detail },
      });
      return { id: child.id, token, expiresAt: child.expires_at, allowDownload: child.allow_download };
    });
    if (!made) {
      await appendAccessEvent(this.db, { event: 'link_shared', outcome: 'limit', ...base });
      throw new TooManyChildLinksError(MAX_CHILD_LINKS);
    }
    return { ...made, url: tokenUrl(config, made.token) };
  }

  /** The patient revokes one of their link's children; false when it is not one (or was revoked). */
  async revokeChild(parent: OpenedLink, childId: number, requester: Requester): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('tokens')
        .set({ revoked_at: this.now() })
        .where('id', '=', childId)
        .where('parent_id', '=', parent.link.tokenId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await appendAccessEvent(trx, {
        event: 'shared_link_revoked',
        outcome: 'ok',
        tokenId: childId,
        studyInstanceUid: parent.link.studyInstanceUid,
        clientIp: requester.clientIp,
        userAgent: requester.userAgent,
        actor: 'patient',
        detail: { parentId: parent.link.tokenId },
      });
      return true;
    });
  }

  /** The children of a link, newest first; `active` also needs the parent alive (the caller knows). */
  async childrenOf(parentId: number, parentActive = true): Promise<ChildLink[]> {
    const now = this.now();
    const rows = await this.db
      .selectFrom('tokens as t')
      .select(['t.id', 't.created_at', 't.expires_at', 't.revoked_at', 't.allow_download'])
      .select(
        sql<Date | null>`(SELECT max(a.at) FROM access_log a WHERE a.token_id = t.id
          AND ${OPENED_BY_BROWSER})`.as('opened_at'),
      )
      .where('t.parent_id', '=', parentId)
      .orderBy('t.id', 'desc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: r.created_at.toISOString(),
      expiresAt: r.expires_at?.toISOString() ?? null,
      revokedAt: r.revoked_at?.toISOString() ?? null,
      allowDownload: r.allow_download,
      openedAt: r.opened_at ? new Date(r.opened_at).toISOString() : null,
      active: parentActive && r.revoked_at === null && (r.expires_at === null || r.expires_at > now),
    }));
  }

  /** The children of a study's own active link ([] without one), for the staff page and the API. */
  async childrenForStudy(uid: string): Promise<ChildLink[]> {
    const parent = await this.db
      .selectFrom('tokens')
      .select(['id', 'expires_at'])
      .where('study_instance_uid', '=', uid)
      .where('revoked_at', 'is', null)
      .where('parent_id', 'is', null)
      .executeTakeFirst();
    if (!parent) return [];
    return this.childrenOf(parent.id, parent.expires_at === null || parent.expires_at > this.now());
  }
}

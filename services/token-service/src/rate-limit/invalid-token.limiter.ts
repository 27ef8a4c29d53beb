import { type Logger, rateLimitKey, TooManyInvalidTokensError } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB } from '../db/tables.js';
import {
  claimRefusalLog,
  findWindowCount,
  incrementWindowCount,
  pruneWindows,
  type WindowCount,
} from './invalid-token.repository.js';

export { TooManyInvalidTokensError };

/** Who is asking, as the access log records it. */
export interface Requester {
  clientIp: string;
  userAgent: string;
}

/** The guessing limit as routes see it; NO_INVALID_TOKEN_LIMIT stands in where none applies. */
export interface InvalidTokenGuard {
  /** Throws TooManyInvalidTokensError while the client is over its allowance. Call before any token lookup. */
  checkOrThrow(who: Requester): Promise<void>;
  /**
   * Counts an unknown, malformed, revoked or expired token against the client, atomically: the one
   * that goes over the allowance (and every later one) throws TooManyInvalidTokensError instead of
   * being answered 404, however many arrive at once.
   */
  recordInvalid(who: Requester): Promise<void>;
}

export const NO_INVALID_TOKEN_LIMIT: InvalidTokenGuard = {
  async checkOrThrow() {},
  async recordInvalid() {},
};

export interface InvalidTokenLimitOptions {
  /** Invalid tokens a client may present per window; 0 turns the limit off. */
  limit: number;
  windowSeconds: number;
  /** Refusals remembered in memory (per replica) so a flood costs no queries; oldest dropped first. */
  maxRemembered?: number;
}

/**
 * Limits invalid-token attempts per client (IPv4 address or IPv6 /64) in fixed windows counted in
 * PostgreSQL, so the limit holds across replicas. The count is read before the token lookup (a
 * client over its allowance learns nothing, not even about a valid token) and raised atomically
 * after a miss, which answers 429 rather than 404 once it passes the limit: concurrent guesses get
 * at most `limit` answers of 404 per window. Once a client is refused, this replica refuses it from memory
 * until the window ends. One 'rate_limited' access event per client and window, whichever replica
 * refuses first.
 */
export class InvalidTokenLimiter implements InvalidTokenGuard {
  private readonly refusedUntil = new Map<string, number>();
  private readonly maxRemembered: number;
  private lastPrune = 0;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly log: Logger,
    private readonly options: InvalidTokenLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxRemembered = options.maxRemembered ?? 10_000;
  }

  async checkOrThrow(who: Requester): Promise<void> {
    if (this.options.limit <= 0) return;
    const key = rateLimitKey(who.clientIp);
    const remembered = this.refusedUntil.get(key);
    if (remembered !== undefined) {
      const left = remembered - this.now();
      if (left > 0) throw new TooManyInvalidTokensError(Math.ceil(left / 1000));
      this.refusedUntil.delete(key);
    }
    const count = await findWindowCount(this.db, key, this.options.windowSeconds);
    if (!count || count.attempts < this.options.limit) return;
    await this.refuseOrThrow(key, who, count);
  }

  async recordInvalid(who: Requester): Promise<void> {
    if (this.options.limit <= 0) return;
    const key = rateLimitKey(who.clientIp);
    // One statement counts and answers: of any number of guesses at once, `limit` get their 404.
    const count = await incrementWindowCount(this.db, key, this.options.windowSeconds);
    this.pruneNowAndThen();
    if (count.attempts > this.options.limit) await this.refuseOrThrow(key, who, count);
  }

  /** Remembers the refusal, logs it once per client and window across replicas, and throws the 429. */
  private async refuseOrThrow(key: string, who: Requester, count: WindowCount): Promise<never> {
    this.remember(key, count.retryAfterSeconds);
    if (await claimRefusalLog(this.db, key, this.options.windowSeconds)) {
      this.log.warn(
        { clientKey: key, attempts: count.attempts, retryAfterSeconds: count.retryAfterSeconds },
        'client over the invalid-token limit; refusing it until the window ends',
      );
      await appendAccessEvent(this.db, {
        event: 'rate_limited',
        outcome: 'invalid_token_limit',
        clientIp: who.clientIp,
        userAgent: who.userAgent,
        detail: {
          limit: this.options.limit,
          windowSeconds: this.options.windowSeconds,
          attempts: count.attempts,
        },
      });
    }
    throw new TooManyInvalidTokensError(count.retryAfterSeconds);
  }

  private remember(key: string, retryAfterSeconds: number): void {
    this.refusedUntil.delete(key); // re-inserted last: the Map's order is the eviction order
    this.refusedUntil.set(key, this.now() + retryAfterSeconds * 1000);
    // Forgetting a client early only costs a query: the database still holds its count.
    for (const k of this.refusedUntil.keys()) {
      if (this.refusedUntil.size <= this.maxRemembered) break;
      this.refusedUntil.delete(k);
    }
  }

  /** Past windows are deleted in the background, at most once per window per replica. */
  private pruneNowAndThen(): void {
    const now = this.now();
    if (now - this.lastPrune < this.options.windowSeconds * 1000) return;
    this.lastPrune = now;
    pruneWindows(this.db, this.options.windowSeconds).then(
      (deleted) => {
        if (deleted > 0) this.log.debug({ deleted }, 'pruned past invalid-token windows');
      },
      (err: Error) => this.log.warn({ err: err.message }, 'pruning invalid-token windows failed'),
    );
  }
}

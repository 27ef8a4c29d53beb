import { isLanguage, type Language, translator } from '@studylink/i18n';
import { AppError, type Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import { appendAccessEvent } from '../access-log/access-log.repository.js';
import type { DB, DeliveryRow } from '../db/tables.js';
import { StudyTokenNotFoundError } from '../errors.js';
import { tokenUrl } from '../server-config/server-config.schema.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import { pinAad, type TokenCipher } from '../tokens/token.crypto.js';
import { findActiveTokenForStudy } from '../tokens/token.repository.js';
import type { Actor } from '../tokens/token.service.js';
import { linkEmail, linkSms, type MessageFacts, pinSms } from './delivery.messages.js';
import {
  claimDueDeliveries,
  insertDelivery,
  listDeliveriesForToken,
  settleDelivery,
} from './delivery.repository.js';
import { type MailSender, PermanentDeliveryError } from './mail.sender.js';
import { maskRecipient, redactRecipients } from './recipient.js';
import type { SmsSender } from './sms.sender.js';

export type Channel = 'email' | 'sms';

/** A channel asked for whose variables are not set: 409, naming them. */
export class ChannelNotConfiguredError extends AppError {
  constructor(channel: Channel, missing: readonly string[]) {
    super(
      409,
      'channel_not_configured',
      `${channel === 'email' ? 'e-mail' : 'SMS'} is not configured on this server: set ${missing.join(', ')}`,
      { channel, missing },
    );
  }
}

export class NoRecipientError extends AppError {
  constructor() {
    super(400, 'no_recipient', 'give an email, a phone, or both');
  }
}

/** One delivery as the API and the staff page show it: the address masked. */
export interface DeliveryView {
  id: number;
  channel: Channel;
  /** What it carries: the link, or the link's PIN (the link having gone by e-mail). */
  content: 'link' | 'pin';
  to: string;
  status: 'queued' | 'sent' | 'failed';
  /** When it was sent, when it failed for good, or (queued) when it was asked for. */
  at: string;
  attempts: number;
  /** The last error (addresses masked): a queued one is being tried again. */
  error?: string;
}

/** Where the link's PIN went: by SMS, not sent (only one channel given: staff give it in person), or the link has none. */
export type PinDelivery = 'sms' | 'not_sent' | 'no_pin';

export interface DeliveryRequest {
  email?: string | undefined;
  phone?: string | undefined;
  language?: Language | undefined;
}

export interface DeliveryTiming {
  /** The first retry after this long, doubling each time up to maxBackoffMs. */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** No attempt later than this after the request: then it has failed. */
  giveUpAfterMs: number;
  /** How long one sender holds a claimed delivery (longer than a send may take). */
  leaseMs: number;
  batch: number;
}

export const DEFAULT_TIMING: DeliveryTiming = {
  firstBackoffMs: 30_000,
  maxBackoffMs: 2 * 3_600_000,
  giveUpAfterMs: 24 * 3_600_000,
  leaseMs: 2 * 60_000,
  batch: 10,
};

/** The delivery settings as the setup page shows them, read-only: no password, no auth token. */
export interface DeliverySetup {
  mail: { server: string | null; from: string | null; missing: readonly string[] };
  sms: { apiUrl: string; accountSid: string | null; from: string | null; missing: readonly string[] };
}

export interface DeliveryDeps {
  db: Kysely<DB>;
  cipher: TokenCipher;
  serverConfig: ServerConfigService;
  log: Logger;
  mail: MailSender | null;
  sms: SmsSender | null;
  /** The variables each channel lacks (config.delivery): a channel with any missing is off. */
  missing: { mail: readonly string[]; sms: readonly string[] };
  /** What the setup page shows of the environment's delivery settings (no secrets). */
  shown?: DeliverySetup;
  /** Whom the patient may ask, when the setup names nobody (the mail's sender address). */
  fallbackContact?: string | null;
  now?: () => Date;
  timing?: Partial<DeliveryTiming>;
}

const recipientAad = (tokenId: number) => Buffer.from(`delivery-recipient:${tokenId}`);

/**
 * Sends a study's link to the patient by e-mail and/or SMS, the PIN never in the same message as
 * the link. Requests are queued in PostgreSQL; every replica's sender claims due ones (SKIP
 * LOCKED plus a lease), so each is sent once, retried with back-off for at most a day, and a
 * failure ends as `failed` with an access event. Time comes from `now()`: tests move it.
 */
export class DeliveryService {
  private readonly now: () => Date;
  private readonly timing: DeliveryTiming;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private again = false;

  constructor(private readonly deps: DeliveryDeps) {
    this.now = deps.now ?? (() => new Date());
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
  }

  /** Queues the messages for the study's active link; throws 404/409/400 domain errors. */
  async requestOrThrow(
    uid: string,
    req: DeliveryRequest,
    who: Actor,
  ): Promise<{ deliveries: DeliveryView[]; pin: PinDelivery }> {
    if (!req.email && !req.phone) throw new NoRecipientError();
    if (req.email && this.missingFor('email').length)
      throw new ChannelNotConfiguredError('email', this.missingFor('email'));
    if (req.phone && this.missingFor('sms').length)
      throw new ChannelNotConfiguredError('sms', this.missingFor('sms'));
    const token = await findActiveTokenForStudy(this.deps.db, uid);
    const now = this.now();
    if (!token || (token.expires_at && token.expires_at <= now)) throw new StudyTokenNotFoundError();
    const config = await this.deps.serverConfig.get();
    const language = req.language ?? (isLanguage(config.defaultLanguage) ? config.defaultLanguage : 'en');
    const hasPin = token.verification === 'pin';
    const pin: PinDelivery = !hasPin ? 'no_pin' : req.email && req.phone ? 'sms' : 'not_sent';
    const plan: { channel: Channel; to: string; content: 'link' | 'pin' }[] = [];
    if (req.email) plan.push({ channel: 'email', to: req.email, content: 'link' });
    // Both channels: the link by e-mail, the PIN by SMS. One channel: the link, and no PIN.
    if (req.phone)
      plan.push({ channel: 'sms', to: req.phone, content: req.email && hasPin ? 'pin' : 'link' });
    const rows = await this.deps.db.transaction().execute(async (trx) => {
      const made: DeliveryRow[] = [];
      for (const p of plan) {
        const row = await insertDelivery(trx, {
          token_id: token.id,
          channel: p.channel,
          content: p.content,
          pin_apart: p.content === 'link' && pin === 'sms',
          recipient_ciphertext: this.deps.cipher.encrypt(p.to, recipientAad(token.id)),
          recipient_masked: maskRecipient(p.channel, p.to),
          language,
          created_at: now,
          next_attempt_at: now,
          requested_by: who.actor,
        });
        await appendAccessEvent(trx, {
          event: 'delivery_queued',
          outcome: 'ok',
          tokenId: token.id,
          studyInstanceUid: uid,
          actor: who.actor,
          clientIp: who.clientIp,
          userAgent: who.userAgent,
          detail: {
            deliveryId: row.id,
            channel: p.channel,
            content: p.content,
            to: row.recipient_masked,
            language,
          },
        });
        made.push(row);
      }
      return made;
    });
    this.deps.log.info(
      {
        deliveries: rows.map((r) => ({
          id: r.id,
          channel: r.channel,
          content: r.content,
          to: r.recipient_masked,
        })),
        pin,
      },
      'deliveries queued',
    );
    this.kick();
    return { deliveries: rows.map(toView), pin };
  }

  /** The deliveries of a study's active link, oldest first ([] without one). */
  async listForStudy(uid: string): Promise<DeliveryView[]> {
    const token = await findActiveTokenForStudy(this.deps.db, uid);
    return token ? (await listDeliveriesForToken(this.deps.db, token.id)).map(toView) : [];
  }

  /** The environment's delivery settings for the setup page, null when not given. */
  setup(): DeliverySetup | null {
    return this.deps.shown ?? null;
  }

  /** The channels that can be used, and what the others lack. */
  channels(): Record<Channel, { configured: boolean; missing: readonly string[] }> {
    return {
      email: { configured: this.missingFor('email').length === 0, missing: this.missingFor('email') },
      sms: { configured: this.missingFor('sms').length === 0, missing: this.missingFor('sms') },
    };
  }

  private missingFor(channel: Channel): readonly string[] {
    const missing = channel === 'email' ? this.deps.missing.mail : this.deps.missing.sms;
    const sender = channel === 'email' ? this.deps.mail : this.deps.sms;
    return missing.length === 0 && !sender ? ['(no sender)'] : missing;
  }

  /**
   * Claims and sends the deliveries due now; returns how many were attempted. Safe to run in
   * several replicas at once.
   */
  async runOnce(): Promise<number> {
    let attempted = 0;
    for (;;) {
      const now = this.now();
      const leaseUntil = new Date(now.getTime() + this.timing.leaseMs);
      const claimed = await claimDueDeliveries(this.deps.db, now, leaseUntil, this.timing.batch);
      for (const d of claimed) await this.attempt(d, leaseUntil);
      attempted += claimed.length;
      if (claimed.length < this.timing.batch) return attempted;
    }
  }

  private async attempt(d: DeliveryRow, leaseUntil: Date): Promise<void> {
    const claim = { id: d.id, leaseUntil };
    const token = await this.deps.db
      .selectFrom('tokens')
      .selectAll()
      .where('id', '=', d.token_id)
      .executeTakeFirst();
    const base = {
      tokenId: d.token_id,
      studyInstanceUid: token?.study_instance_uid ?? null,
      actor: d.requested_by,
    };
    const detail = {
      deliveryId: d.id,
      channel: d.channel,
      content: d.content,
      to: d.recipient_masked,
      attempts: d.attempts,
    };
    const fail = async (error: string) => {
      if (!(await settleDelivery(this.deps.db, claim, { status: 'failed', at: this.now(), error }))) return;
      await appendAccessEvent(this.deps.db, {
        event: 'delivery_failed',
        outcome: 'failed',
        ...base,
        detail: { ...detail, error },
      });
      this.deps.log.warn({ delivery: detail, error }, 'delivery failed');
    };
    const now = this.now();
    // A link revoked or expired meanwhile is not sent: the patient would get a dead link.
    if (!token || token.revoked_at || (token.expires_at && token.expires_at <= now))
      return fail('the link was revoked or has expired');
    try {
      const to = this.deps.cipher.decrypt(d.recipient_ciphertext, recipientAad(d.token_id));
      const t = translator(isLanguage(d.language) ? d.language : 'en');
      const config = await this.deps.serverConfig.get();
      const institution = [config.institution, config.department].filter(Boolean).join(' · ');
      if (d.content === 'pin') {
        if (!token.pin_ciphertext) return fail('the link has no PIN');
        const pin = this.deps.cipher.decrypt(token.pin_ciphertext, pinAad(token.token_hash));
        await this.senderOrThrow('sms').sendOrThrow({ to, body: pinSms(t, { institution, pin }) });
      } else {
        const link = this.deps.cipher.decrypt(token.token_ciphertext, token.token_hash);
        const facts: MessageFacts = {
          institution,
          contact: contactOf(config) ?? this.deps.fallbackContact ?? null,
          url: tokenUrl(config, link),
          expiresAt: token.expires_at,
          timeZone: config.timeZone,
          verification: token.verification,
          pinBySms: d.pin_apart,
        };
        if (d.channel === 'email')
          await this.senderOrThrow('email').sendOrThrow({ to, ...linkEmail(t, facts) });
        else await this.senderOrThrow('sms').sendOrThrow({ to, body: linkSms(t, facts) });
      }
    } catch (err) {
      const error = redactRecipients(err instanceof Error ? err.message : String(err)) || 'send failed';
      const retryAt = new Date(this.now().getTime() + this.backoffMs(d.attempts));
      const deadline = d.created_at.getTime() + this.timing.giveUpAfterMs;
      if (err instanceof PermanentDeliveryError || retryAt.getTime() > deadline)
        return fail(
          err instanceof PermanentDeliveryError ? error : `gave up after ${d.attempts} attempts: ${error}`,
        );
      if (await settleDelivery(this.deps.db, claim, { status: 'queued', nextAttemptAt: retryAt, error })) {
        await appendAccessEvent(this.deps.db, {
          event: 'delivery_failed',
          outcome: 'retrying',
          ...base,
          detail: { ...detail, error, nextAttemptAt: retryAt.toISOString() },
        });
        this.deps.log.warn(
          { delivery: detail, error, nextAttemptAt: retryAt.toISOString() },
          'delivery attempt failed; will retry',
        );
      }
      return;
    }
    if (await settleDelivery(this.deps.db, claim, { status: 'sent', at: this.now() })) {
      await appendAccessEvent(this.deps.db, { event: 'delivery_sent', outcome: 'ok', ...base, detail });
      this.deps.log.info({ delivery: detail }, 'delivery sent');
    }
  }

  private senderOrThrow(channel: 'email'): MailSender;
  private senderOrThrow(channel: 'sms'): SmsSender;
  private senderOrThrow(channel: Channel): MailSender | SmsSender {
    const sender = channel === 'email' ? this.deps.mail : this.deps.sms;
    if (!sender) throw new PermanentDeliveryError(`${channel} is no longer configured on this server`);
    return sender;
  }

  /** 30 s, 1 min, 2 min... up to 2 h between attempts. */
  private backoffMs(attempts: number): number {
    return Math.min(this.timing.maxBackoffMs, this.timing.firstBackoffMs * 2 ** Math.max(0, attempts - 1));
  }

  /** Sends what is due every `pollMs`, and at once after a request. */
  start(pollMs: number): void {
    this.stopped = false;
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.runSafely();
        if (!this.stopped) tick();
      }, pollMs);
      this.timer.unref();
    };
    tick();
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runSafely().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async runSafely(): Promise<void> {
    try {
      await this.runOnce();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'delivery run failed; retrying at the next poll');
    }
  }

  /** Stops polling and waits for a run under way; claimed rows come back when their lease ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    this.deps.mail?.close();
  }
}

/** The setup's contact (e-mail or phone), when the setup has one. */
function contactOf(config: object): string | null {
  const c = config as { contactEmail?: unknown; contactPhone?: unknown };
  const parts = [c.contactPhone, c.contactEmail].filter(
    (v): v is string => typeof v === 'string' && v !== '',
  );
  return parts.length ? parts.join(', ') : null;
}

function toView(r: DeliveryRow): DeliveryView {
  const at =
    r.status === 'sent' && r.sent_at
      ? r.sent_at
      : r.status === 'failed' && r.failed_at
        ? r.failed_at
        : r.created_at;
  return {
    id: r.id,
    channel: r.channel,
    content: r.content,
    to: r.recipient_masked,
    status: r.status,
    at: at.toISOString(),
    attempts: r.attempts,
    ...(r.last_error ? { error: r.last_error } : {}),
  };
}

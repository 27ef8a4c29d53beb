import { AppError, ServiceUnavailableError } from '@studylink/service-kit';

/** One link or one client address already holds its share of the export slots: 429 with Retry-After. */
export class TooManyExportsError extends AppError {
  constructor(what: 'link' | 'client') {
    super(
      429,
      'too_many_downloads',
      what === 'link'
        ? 'this link is already being downloaded; wait until that download ends'
        : 'too many downloads from your address at once; wait until one ends',
      undefined,
      { 'retry-after': '15' },
    );
  }
}

export interface ExportShares {
  /** Exports at once for one link (token id). */
  perLink: number;
  /** Exports at once for one client address (IPv6: per /64). */
  perClient: number;
}

/** Who an export slot is for. */
export interface SlotHolder {
  link: number;
  client: string;
}

/**
 * Caps concurrent exports: in all (over the cap, 503 with Retry-After at once), and per link and per
 * client address, each share below the whole, so one link holder can never take every slot.
 */
export class ExportLimiter {
  private active = 0;
  private readonly byLink = new Map<number, number>();
  private readonly byClient = new Map<string, number>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly shares: ExportShares;

  constructor(
    private readonly max: number,
    shares: Partial<ExportShares> = {},
  ) {
    // Below the service's capacity (when it has more than one slot), so others always find one free.
    const below = (n: number) => Math.max(1, Math.min(n, max - 1));
    this.shares = { perLink: below(shares.perLink ?? max), perClient: below(shares.perClient ?? max) };
  }

  /** Resolves once no export holds a slot, or after `timeoutMs`, whichever comes first. */
  drained(timeoutMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  get inFlight(): number {
    return this.active;
  }

  /** The shares in force (after capping them below the whole). */
  get limits(): Readonly<ExportShares> {
    return this.shares;
  }

  /** Takes a slot or throws; the returned function frees it (idempotent). */
  acquireOrThrow(holder?: SlotHolder): () => void {
    if (this.active >= this.max) {
      throw new ServiceUnavailableError(
        'too many downloads are running; try again shortly',
        15,
        'export_capacity',
      );
    }
    if (holder && (this.byLink.get(holder.link) ?? 0) >= this.shares.perLink)
      throw new TooManyExportsError('link');
    if (holder && (this.byClient.get(holder.client) ?? 0) >= this.shares.perClient)
      throw new TooManyExportsError('client');
    this.active += 1;
    if (holder) {
      bump(this.byLink, holder.link, 1);
      bump(this.byClient, holder.client, 1);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      if (holder) {
        bump(this.byLink, holder.link, -1);
        bump(this.byClient, holder.client, -1);
      }
      if (this.active === 0) for (const wake of [...this.idleWaiters]) wake();
    };
  }
}

function bump<K>(m: Map<K, number>, k: K, by: number): void {
  const n = (m.get(k) ?? 0) + by;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}

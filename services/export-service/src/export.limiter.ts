import { ServiceUnavailableError } from '@studylink/service-kit';

/** Caps concurrent exports; over the cap a request gets 503 with Retry-After at once. */
export class ExportLimiter {
  private active = 0;
  private readonly idleWaiters = new Set<() => void>();
  constructor(private readonly max: number) {}

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

  /** Takes a slot or throws; the returned function frees it (idempotent). */
  acquireOrThrow(): () => void {
    if (this.active >= this.max) {
      throw new ServiceUnavailableError(
        'too many downloads are running; try again shortly',
        15,
        'export_capacity',
      );
    }
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      if (this.active === 0) for (const wake of [...this.idleWaiters]) wake();
    };
  }
}

import { ServiceUnavailableError } from '@studylink/service-kit';

/** Caps concurrent exports; over the cap a request gets 503 with Retry-After at once. */
export class ExportLimiter {
  private active = 0;
  constructor(private readonly max: number) {}

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
    };
  }
}

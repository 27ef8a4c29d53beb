import { type GatewayClient, isTransientError, LinkGoneError } from './gateway.client.js';
import { withRetry } from './retry.js';
import { loadOrder, type ViewerSeries } from './study.model.js';

/**
 * Previews fetched at once: the connections a browser opens to one origin over HTTP/1.1 (Chromium
 * and Firefox: 6), which is what nginx offers here (HTTP/2 needs TLS in browsers). More would only
 * queue in the browser behind them, ahead of the requests that come later.
 */
const PARALLEL = 6;
/** A preview (20–60 kB) not here after this long is asked again: the connection it went on is dead. */
const PREVIEW_TIMEOUT_MS = 20_000;

/**
 * The store's rendered JPEG of a frame (`.../frames/N/rendered`, 20–60 kB for a 512² CT slice
 * against 525 kB as stored), fetched through the gateway and kept in memory as a blob URL: what the
 * viewer shows while the frame at full fidelity is not there yet, and all it shows in data-light
 * mode. Kept for the page's life, so scrolling works when the connection is gone.
 */
export class Previews {
  /** Called when a preview arrives (the viewer repaints if it is the image on screen). */
  onArrive: (s: ViewerSeries, index: number) => void = () => {};
  private readonly urls = new Map<string, Array<string | undefined>>();
  private readonly failed = new Map<string, Set<number>>();
  private readonly loading = new Map<string, Promise<void>>();

  constructor(
    private readonly gateway: GatewayClient,
    private readonly studyUid: string,
    private readonly stopped: () => boolean,
  ) {}

  get(s: ViewerSeries, index: number): string | undefined {
    return this.urls.get(s.seriesInstanceUid)?.[index];
  }

  /** How many of the series' previews are here. */
  count(s: ViewerSeries): number {
    return (this.urls.get(s.seriesInstanceUid) ?? []).filter(Boolean).length;
  }

  /** Every preview of the series was tried (arrived or refused). */
  settled(s: ViewerSeries): boolean {
    return this.count(s) + (this.failed.get(s.seriesInstanceUid)?.size ?? 0) >= s.images.length;
  }

  private readonly inFlight = new Map<string, Promise<boolean>>();

  /** Fetches one preview (no-op when it is here or was refused); true when it is here. */
  one(s: ViewerSeries, index: number): Promise<boolean> {
    const key = `${s.seriesInstanceUid}#${index}`;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetchOne(s, index).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetchOne(s: ViewerSeries, index: number): Promise<boolean> {
    const uid = s.seriesInstanceUid;
    if (this.get(s, index)) return true;
    if (this.failed.get(uid)?.has(index)) return false;
    const image = s.images[index];
    if (!image) return false;
    const path = `studies/${this.studyUid}/series/${uid}/instances/${image.instance.sopInstanceUid}/frames/${image.frame}/rendered`;
    try {
      // Lost on the way (a reset, a cut, a proxy's 502): asked again, a few times, when online.
      const blob = await withRetry(
        async () =>
          (await this.gateway.fetch(path, 'image/jpeg', AbortSignal.timeout(PREVIEW_TIMEOUT_MS))).blob(),
        { transient: isTransientError, stopped: this.stopped },
      );
      const list = this.urls.get(uid) ?? new Array<string | undefined>(s.images.length);
      this.urls.set(uid, list);
      if (!list[index]) list[index] = URL.createObjectURL(blob);
      this.onArrive(s, index);
      return true;
    } catch (err) {
      if (err instanceof LinkGoneError) throw err;
      // The store cannot render this one (or it kept failing): the full-fidelity path still may.
      const set = this.failed.get(uid) ?? new Set<number>();
      set.add(index);
      this.failed.set(uid, set);
      return false;
    }
  }

  /** Every preview of a series, from `from` outwards, six at a time; the same promise while it runs. */
  all(s: ViewerSeries, from = 0): Promise<void> {
    const uid = s.seriesInstanceUid;
    const running = this.loading.get(uid);
    if (running) return running;
    const order = loadOrder(Math.min(from, s.images.length - 1), s.images.length);
    const worker = async () => {
      while (order.length > 0 && !this.stopped()) await this.one(s, order.shift() as number);
    };
    const p = Promise.all(Array.from({ length: PARALLEL }, worker)).then(() => {});
    this.loading.set(uid, p);
    return p;
  }
}

import type { Readable } from 'node:stream';
import {
  InvalidDicomError,
  readPart10Meta,
  type ZipLayout,
  ZipSourceChangedError,
} from '@studylink/dicom-media';

/** One instance's bytes, as readZipRange reads a source. */
export type Opened = AsyncIterable<Buffer> & { destroy(): void };

type Parts = AsyncGenerator<{ body: Readable }>;

/**
 * The layout's instances read series by series, each series with ONE series-level WADO-RS response
 * (the store's own order within it), handed out in the layout's order. A store sends a series as
 * fast as it reads its files, where one request per instance costs it a lookup and an answer each
 * (on a stock Orthanc, three to five times the whole read). Each part is told by its SOP Instance
 * UID (its PS3.10 meta header); what it holds is checked against the layout (size, CRC-32) by
 * readZipRange, as for an instance read alone. Series, not the study: a store lists a study's
 * series in its own order (Orthanc: as they arrived), the layout by Series Number.
 *
 * An instance that comes before its turn is held, up to `reorderBytes` in all; one beyond that
 * (a store whose order is far from the layout's) ends that series' read, and the rest of the series
 * is asked for one instance at a time (`fallback`), as without this source. A part the layout does
 * not know, or a series' response ending without one of its instances or with one too many, is a
 * changed study (ZipSourceChangedError: the cut).
 */
export class StudyStreamSource {
  readonly #index = new Map<string, number>();
  readonly #held = new Map<number, Buffer[]>();
  #heldBytes = 0;
  #parts: Parts | null;
  #series: string | null;
  #alone: string | null = null;
  #destroyBody: (() => void) | null = null;
  /** Instances handed out from series responses so far, those read alone, series responses opened. */
  fromStudy = 0;
  alone = 0;
  seriesReads = 1;

  constructor(
    first: { series: string; parts: Parts },
    private readonly layout: ZipLayout,
    private readonly openSeries: (series: string) => Promise<Parts>,
    private readonly fallback: (i: number) => Promise<Opened>,
    private readonly reorderBytes: number,
  ) {
    this.#parts = first.parts;
    this.#series = first.series;
    layout.instances.forEach(([, sop], i) => {
      this.#index.set(sop, i);
    });
  }

  /** Instance `i` (asked for in the layout's order); nothing is read until it is iterated. */
  open(i: number): Promise<Opened> {
    const self = this;
    let inner: Opened | null = null;
    return Promise.resolve({
      async *[Symbol.asyncIterator]() {
        const held = self.#held.get(i);
        if (held) {
          self.#held.delete(i);
          self.#heldBytes -= self.size(i);
          self.fromStudy += 1;
          yield* held;
          return;
        }
        const series = self.seriesOf(i);
        if (self.#alone === series) {
          self.alone += 1;
          inner = await self.fallback(i);
          yield* inner;
          return;
        }
        if (self.#series !== series || !self.#parts) {
          self.close();
          self.#parts = await self.openSeries(series);
          self.#series = series;
          self.seriesReads += 1;
        }
        yield* self.#fromSeries(i, (o) => {
          inner = o;
        });
      },
      destroy() {
        inner?.destroy();
      },
    });
  }

  /** Ends the series response under way (its series is done, the download ended or was cut). */
  close(): void {
    this.#destroyBody?.();
    this.#destroyBody = null;
    const parts = this.#parts;
    this.#parts = null;
    this.#series = null;
    void parts?.return(undefined).catch(() => {});
  }

  private size(i: number): number {
    return (this.layout.instances[i] as ZipLayout['instances'][number])[2];
  }

  private seriesOf(i: number): string {
    return (this.layout.instances[i] as ZipLayout['instances'][number])[0];
  }

  async *#fromSeries(i: number, fellBack: (o: Opened) => void): AsyncGenerator<Buffer> {
    const parts = this.#parts as Parts;
    const series = this.seriesOf(i);
    for (;;) {
      const next = await parts.next();
      if (next.done) {
        this.close();
        throw new ZipSourceChangedError(`instance ${i} is not in the store's series`);
      }
      const body = next.value.body;
      const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      this.#destroyBody = () => body.destroy();
      const head: Buffer[] = [];
      let headBytes = 0;
      let sop: string | null = null;
      // The meta header: the part's first bytes (a few hundred).
      while (sop === null) {
        const r = await it.next();
        if (r.done) throw new ZipSourceChangedError('a part of the series is not a DICOM file');
        head.push(r.value);
        headBytes += r.value.length;
        try {
          sop =
            readPart10Meta(head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head))?.sopInstanceUid ??
            null;
        } catch (err) {
          if (err instanceof InvalidDicomError)
            throw new ZipSourceChangedError('a part of the series is not a DICOM file');
          throw err;
        }
      }
      const j = this.#index.get(sop);
      if (j === undefined || this.seriesOf(j) !== series)
        throw new ZipSourceChangedError('the store holds an instance the layout does not');
      if (j === i) {
        this.fromStudy += 1;
        yield* head;
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          yield r.value;
        }
        this.#destroyBody = null;
        // After the series' last instance its response must end: another part is one added since.
        if (i === this.layout.instances.length - 1 || this.seriesOf(i + 1) !== series) {
          const rest = await parts.next();
          this.close();
          if (!rest.done) throw new ZipSourceChangedError('the store holds more instances than the layout');
        }
        return;
      }
      const size = this.size(j);
      if (j > i && !this.#held.has(j) && this.#heldBytes + size <= this.reorderBytes) {
        // Ahead of its turn: held whole (a part larger than planned is a changed study at once).
        const chunks = head;
        let n = headBytes;
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          n += r.value.length;
          if (n > size) throw new ZipSourceChangedError(`instance ${j} is larger than planned`);
          chunks.push(r.value);
        }
        this.#destroyBody = null;
        this.#held.set(j, chunks);
        this.#heldBytes += size;
        continue;
      }
      if (j < i || this.#held.has(j)) throw new ZipSourceChangedError(`instance ${j} came twice`);
      // Too far from the layout's order: the rest of this series one by one.
      this.close();
      this.#alone = series;
      this.alone += 1;
      const o = await this.fallback(i);
      fellBack(o);
      yield* o;
      return;
    }
  }
}

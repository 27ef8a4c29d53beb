import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { type ZipLayoutBody, zipEtag } from '@studylink/contracts';
import {
  layoutReadme,
  readZipRange,
  type ZipLayout,
  type ZipPlan,
  ZipSourceChangedError,
  zipArchiveId,
  zipLayoutFor,
  zipPlanFor,
} from '@studylink/dicom-media';
import {
  type DicomwebClient,
  DicomwebNotFoundError,
  DicomwebUnavailableError,
  dicomNumber,
  MultipartTruncatedError,
  retry,
} from '@studylink/dicomweb';
import { type Logger, ServiceUnavailableError } from '@studylink/service-kit';
import type { Grant, TokenServiceClient } from '../grant.client.js';
import { type Opened, StudyStreamSource } from './study-stream.source.js';

export { ZipSourceChangedError };

/** A study's zip with its bytes fixed: the plan, its length and its strong ETag. */
export interface FixedZip {
  /** The stored layout's id (what a stale layout is reported by). */
  layoutId: string;
  /**
   * The archive this link gets of it (zipArchiveId: the report held or not, the pushed PDF): the
   * first half of the ETag, and what a completed download is counted as.
   */
  archiveId: string;
  /** The layout this link gets (zipLayoutFor): without the report objects when they are held. */
  layout: ZipLayout;
  /** Instances the store holds of the study (the whole layout's, report objects included). */
  storeInstances: number;
  plan: ZipPlan;
  etag: string;
}

/** The PDF the RIS pushed, as the grant names it, fetched from the token service. */
export type PushedReportSource = (id: string, signal: AbortSignal) => Promise<Buffer | null>;

/** The pushed report's bytes for a grant that puts one in the zip (checked against its SHA-256); else null. */
export async function pushedReportFor(
  grant: Grant,
  fetchPdf: PushedReportSource | undefined,
  signal: AbortSignal,
): Promise<Buffer | null> {
  const pushed = grant.may.report ? grant.pushedReport : null;
  if (!pushed) return null;
  const pdf = fetchPdf ? await fetchPdf(pushed.id, signal) : null;
  if (!pdf || pdf.length !== pushed.bytes || createHash('sha256').update(pdf).digest('hex') !== pushed.sha256)
    throw new ServiceUnavailableError('the report changed while the download started; try again', 5);
  return pdf;
}

/**
 * The zip layouts this process has read, by id (a layout never changes under its id), and their
 * plans per README. Small: a few recent studies; a 4,000-instance layout is about 2 MB.
 */
/** The zip's reader went away (the client left, or shutdown cut it) before the last byte. */
export class OutputClosedError extends Error {
  constructor() {
    super('output closed before the end');
    this.name = 'OutputClosedError';
  }
}

export class ZipLayoutCache {
  readonly #entries = new Map<string, { layout: ZipLayout; plans: Map<string, FixedZip> }>();

  constructor(
    private readonly tokens: TokenServiceClient,
    private readonly max = 16,
  ) {}

  /**
   * The grant's fixed zip for this patient's README, or null when there is no usable layout.
   * `pushedReport`: the PDF the grant puts in the zip as REPORT.PDF (pushedReportFor), or null.
   */
  async fixedZip(
    grant: Grant,
    signal: AbortSignal,
    pushedReport: Buffer | null = null,
  ): Promise<FixedZip | null> {
    const id = grant.zipLayoutId;
    if (!id) return null;
    let entry = this.#entries.get(id);
    if (!entry) {
      const body: ZipLayoutBody | null = await this.tokens.zipLayout(id, signal);
      if (!body || body.studyInstanceUid !== grant.studyInstanceUid) return null;
      entry = { layout: body as ZipLayout, plans: new Map() };
      this.#entries.set(id, entry);
      if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    } else {
      // Most recently used last.
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    // The report rule (the grant's may.report) chooses the archive: without the study's report
    // objects when held, with REPORT.PDF when a pushed report goes in. Its identity names both.
    const report = grant.may.report;
    const layout = zipLayoutFor(entry.layout, { report });
    const pushed = report && grant.pushedReport && pushedReport ? grant.pushedReport.sha256 : null;
    const archiveId = zipArchiveId(id, { report, pushedSha256: pushed });
    const readme = layoutReadme(layout, {
      institution: grant.institution,
      viewerUrl: grant.viewerUrl,
      language: grant.language,
      pushedReport: pushed !== null,
    });
    const digest = createHash('sha256').update(readme).digest('hex');
    const key = `${archiveId}.${digest}`;
    let fixed = entry.plans.get(key);
    if (!fixed) {
      fixed = {
        layoutId: id,
        archiveId,
        layout,
        storeInstances: entry.layout.instances.length,
        plan: zipPlanFor(layout, readme, pushed ? pushedReport : null),
        etag: zipEtag(archiveId, digest),
      };
      entry.plans.set(key, fixed);
    }
    return fixed;
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}

export interface FixedExport {
  /** The bytes start..end of the zip; destroyed with an error if a source fails or changed. */
  output: Readable;
  bytesSent(): number;
  /** Settles when the range has been produced, or with the error that cut it. */
  done: Promise<void>;
}

export interface FixedExportOptions {
  client: DicomwebClient;
  log: Logger;
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number };
  signal: AbortSignal;
  /** Instances up to this size are checked before any of their bytes is sent. */
  holdBackBytes: number;
  prefetch: number;
  /** An instance request without an answer for this long fails (the body has the client's own stall timeout). */
  stallMs: number;
  /** The store's study differs from the layout (told once). */
  onStale(err: ZipSourceChangedError): void;
  /**
   * A range that takes every instance (a whole download) reads each series with one series-level
   * WADO-RS request, holding instances that come before their turn up to this many bytes; 0: one
   * request per instance always.
   */
  reorderBytes: number;
  /** How the instances were read, once the range is produced (for the log). */
  onRead?(read: { fromStudy: number; alone: number; seriesReads: number }): void;
}

/** Instance-level WADO-RS of the layout's instance `i`: one part, checked by readZipRange as it passes. */
async function openInstance(
  client: DicomwebClient,
  layout: ZipLayout,
  i: number,
  signal: AbortSignal,
  stallMs: number,
): Promise<Opened> {
  const [series, sop] = layout.instances[i] as ZipLayout['instances'][number];
  let parts: AsyncGenerator<{ body: Readable }>;
  // Until the store answers: a store that hangs is found within stallMs, as one that hangs mid-body.
  const answered = new AbortController();
  const timer = setTimeout(
    () => answered.abort(new DicomwebUnavailableError('the store did not answer', { retryable: false })),
    stallMs,
  );
  try {
    ({ parts } = await client.retrieveInstance(layout.studyInstanceUid, series, sop, {
      transferSyntax: layout.transferSyntax,
      signal: AbortSignal.any([signal, answered.signal]),
    }));
  } catch (err) {
    if (err instanceof DicomwebNotFoundError) throw new ZipSourceChangedError(`instance ${i} is gone`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const first = await parts.next().catch(async (err) => {
    await parts.return(undefined).catch(() => {});
    throw err;
  });
  if (first.done) throw new ZipSourceChangedError(`instance ${i} came back empty`);
  const body = first.value.body;
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* body as AsyncIterable<Buffer>;
        // The closing delimiter: the connection goes back to the pool.
        const rest = await parts.next();
        if (!rest.done) throw new ZipSourceChangedError(`instance ${i} came back as several`);
      } finally {
        await parts.return(undefined).catch(() => {});
      }
    },
    destroy() {
      body.destroy();
      void parts.return(undefined).catch(() => {});
    },
  };
}

/** Series-level WADO-RS of one of the layout's series: its parts, in the store's order. */
async function openSeries(
  client: DicomwebClient,
  layout: ZipLayout,
  series: string,
  signal: AbortSignal,
  stallMs: number,
): Promise<AsyncGenerator<{ body: Readable }>> {
  const answered = new AbortController();
  const timer = setTimeout(
    () => answered.abort(new DicomwebUnavailableError('the store did not answer', { retryable: false })),
    stallMs,
  );
  try {
    const { parts } = await client.retrieveSeries(layout.studyInstanceUid, series, {
      transferSyntax: layout.transferSyntax,
      signal: AbortSignal.any([signal, answered.signal]),
    });
    return parts as AsyncGenerator<{ body: Readable }>;
  } catch (err) {
    if (err instanceof DicomwebNotFoundError) throw new ZipSourceChangedError('a series is gone');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

const isTransient = (err: unknown) =>
  (err instanceof DicomwebUnavailableError && err.retryable) || err instanceof MultipartTruncatedError;

/**
 * Bytes `start`..`end` of a fixed zip. The first store request the range needs is made before this
 * resolves (with retries): a store that is down or a study that changed still gets a clean answer
 * (503, or ZipSourceChangedError for the caller to stream without the layout). A range that takes
 * every instance reads each series with one series-level WADO-RS (StudyStreamSource); any other
 * fetches each instance it touches alone (instance-level WADO-RS, a few ahead). Every instance is
 * checked against its size and CRC-32; the study's instance count is checked alongside. A
 * difference cuts the stream.
 */
export async function prepareFixedExportOrThrow(
  fixed: FixedZip,
  start: number,
  end: number,
  opts: FixedExportOptions,
): Promise<FixedExport> {
  const { client, signal, layout } = { ...opts, layout: fixed.layout };
  const sources = fixed.plan.segments.filter(
    (s): s is Extract<(typeof fixed.plan.segments)[number], { source: number }> => 'source' in s,
  );
  const firstOf = sources[0];
  const lastOf = sources[sources.length - 1];
  // Every instance is wanted (a whole download): one series-level request per series.
  const wholeStudy =
    opts.reorderBytes > 0 &&
    firstOf !== undefined &&
    lastOf !== undefined &&
    start <= firstOf.start &&
    end >= lastOf.start + lastOf.length - 1;
  const firstSource = fixed.plan.segments.find(
    (s) => 'source' in s && s.start <= end && s.start + s.length > start,
  );
  const beforeFirstByte = <T>(open: () => Promise<T>) =>
    retry(open, {
      ...opts.retry,
      signal,
      isRetryable: isTransient,
      onRetry: (err, attempt) =>
        opts.log.warn({ attempt, err: (err as Error).message }, 'store not ready; retrying'),
    }).catch((err) => {
      if (err instanceof ZipSourceChangedError || signal.aborted) throw err;
      opts.log.warn({ err: (err as Error).message }, 'store unavailable before the first byte');
      throw new ServiceUnavailableError(
        'the image archive is not answering; try again shortly',
        30,
        'store_unavailable',
      );
    });
  let first: Promise<Opened> | null = null;
  let study: StudyStreamSource | null = null;
  if (wholeStudy) {
    const series = (layout.instances[0] as ZipLayout['instances'][number])[0];
    const parts = await beforeFirstByte(() => openSeries(client, layout, series, signal, opts.stallMs));
    study = new StudyStreamSource(
      { series, parts },
      layout,
      (se) => openSeries(client, layout, se, signal, opts.stallMs),
      (i) => openInstance(client, layout, i, signal, opts.stallMs),
      opts.reorderBytes,
    );
  } else if (firstSource && 'source' in firstSource) {
    const opened = await beforeFirstByte(() =>
      openInstance(client, layout, firstSource.source, signal, opts.stallMs),
    );
    first = Promise.resolve(opened);
  }

  let bytes = 0;
  let stale = false;
  let failDone: (err: Error) => void = () => {};
  const cut = (err: Error) => {
    if (err instanceof ZipSourceChangedError && !stale) {
      stale = true;
      opts.onStale(err);
    }
    // `done` fails first, so the caller learns why before it sees the connection close.
    failDone(err);
    setImmediate(() => output.destroy(err));
  };
  const chunks = readZipRange(fixed.plan, start, end, {
    open: (i, s) => {
      if (study) return study.open(i);
      if (first && firstSource && 'source' in firstSource && i === firstSource.source) {
        const p = first;
        first = null;
        return p;
      }
      return openInstance(client, layout, i, s, opts.stallMs);
    },
    signal,
    holdBackBytes: opts.holdBackBytes,
    // The study response is read in order: nothing to open ahead.
    prefetch: study ? 0 : opts.prefetch,
  });
  const source = Readable.from(chunks, { objectMode: false, highWaterMark: 64 * 1024 });
  const output = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  source.on('error', cut);
  source.pipe(output);
  const done = new Promise<void>((resolve, reject) => {
    failDone = reject;
    source.once('end', resolve);
    output.once('close', () => {
      if (!source.readableEnded) {
        source.destroy();
        reject(new OutputClosedError());
      }
    });
  });
  done.catch(() => {});
  if (study) {
    const s = study;
    const end = () => {
      s.close();
      opts.onRead?.({ fromStudy: s.fromStudy, alone: s.alone, seriesReads: s.seriesReads });
    };
    done.then(end, end);
  }

  // Instances added to (or removed from) the study since the layout: the count says so, cheaply.
  client
    .searchStudies(
      { StudyInstanceUID: layout.studyInstanceUid, includefield: ['NumberOfStudyRelatedInstances'] },
      { signal },
    )
    .then((found) => {
      const n = dicomNumber(found[0], '00201208');
      if (n !== undefined && n !== fixed.storeInstances)
        cut(new ZipSourceChangedError(`the store holds ${n} instances, the layout ${fixed.storeInstances}`));
    })
    .catch(() => {});

  return { output, bytesSent: () => bytes, done };
}

import { isReportSopClass, zipLayoutSchema } from '@studylink/contracts';
import {
  buildZipLayout,
  type InstanceFacts,
  layoutReadme,
  readInstanceFacts,
  type ZipLayout,
  ZipLayoutNotPossibleError,
  zipLayoutFor,
  zipLayoutId,
  zipPlanFor,
} from '@studylink/dicom-media';
import { type DicomwebClient, DicomwebResponseError, DicomwebUnavailableError } from '@studylink/dicomweb';
import type { Logger } from '@studylink/service-kit';
import type { Kysely } from 'kysely';
import type { DB, ZipLayoutReadme } from '../db/tables.js';
import type { ServerConfigService } from '../server-config/server-config.service.js';
import {
  deleteZipLayout,
  findZipLayoutBody,
  findZipLayoutSummary,
  saveZipLayout,
} from './zip-layout.repository.js';

export const JPEG_LOSSLESS_SV1 = '1.2.840.10008.1.2.4.70';

/** What making a layout cost: for the log and `make bench`. */
export interface LayoutMade {
  id: string;
  instances: number;
  bytesRead: number;
  ms: number;
}

/**
 * Each study's fixed zip layout: made in the background by reading the study once from the store
 * (one study-level WADO-RS), when a link is issued, when a download finds none, and again when the
 * export service finds it stale. One layout is made at a time (a 2 GB read is enough for one core);
 * a study that failed waits `retryAfterMs` before it is tried again.
 */
export class ZipLayoutService {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #failedAt = new Map<string, number>();
  /** Being read now; and those found stale meanwhile, to be read again once that read ends. */
  readonly #making = new Set<string>();
  readonly #again = new Set<string>();
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Zip lengths already worked out, by layout and README (building the README per page view cost 3%). */
  readonly #lengths = new Map<string, number>();

  constructor(
    private readonly db: Kysely<DB>,
    private readonly store: DicomwebClient,
    private readonly serverConfig: ServerConfigService,
    private readonly log: Logger,
    private readonly opts: { retryAfterMs: number; now: () => number } = {
      retryAfterMs: 5 * 60_000,
      now: Date.now,
    },
  ) {}

  /** Asks for the study's layout to be made (again); returns at once. */
  schedule(uid: string, { force = false } = {}): void {
    if (this.#stopped) return;
    // A read under way may have begun before the study changed: its layout would be the stale one.
    if (force && this.#making.has(uid)) {
      this.#again.add(uid);
      return;
    }
    if (this.#queued.has(uid)) return;
    const failed = this.#failedAt.get(uid);
    if (!force && failed !== undefined && this.opts.now() - failed < this.opts.retryAfterMs) return;
    this.#queued.add(uid);
    this.#queue.push(uid);
    this.#running ??= this.#drain().finally(() => {
      this.#running = null;
    });
  }

  /** Resolves when nothing is queued or being made (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.length = 0;
    return this.idle();
  }

  async #drain(): Promise<void> {
    for (let uid = this.#queue.shift(); uid !== undefined; uid = this.#queue.shift()) {
      this.#making.add(uid);
      try {
        const made = await this.makeOrThrow(uid);
        this.#failedAt.delete(uid);
        // A 64-character id in a log line reads like a token to the leak checks: its first 16 digits do.
        this.log.info({ studyInstanceUid: uid, ...made, id: made.id.slice(0, 16) }, 'zip layout made');
      } catch (err) {
        this.#failedAt.set(uid, this.opts.now());
        this.log.warn({ studyInstanceUid: uid, err: (err as Error).message }, 'zip layout not made');
      } finally {
        this.#queued.delete(uid);
        this.#making.delete(uid);
        if (this.#again.delete(uid) && !this.#stopped) {
          this.#queued.add(uid);
          this.#queue.push(uid);
        }
      }
    }
  }

  /** Reads the study once and keeps its layout for the current zip content. */
  async makeOrThrow(uid: string): Promise<LayoutMade> {
    const started = this.opts.now();
    const config = await this.serverConfig.get();
    const study = await this.db
      .selectFrom('studies')
      .select(['patient_name', 'study_date', 'description'])
      .where('study_instance_uid', '=', uid)
      .executeTakeFirst();
    const wanted = config.zipContent === 'jpeg-lossless' ? JPEG_LOSSLESS_SV1 : '*';
    let read: { facts: InstanceFacts[]; bytes: number };
    let transferSyntax = wanted;
    try {
      read = await this.#readStudy(uid, wanted);
    } catch (err) {
      // As the export does: a store that cannot transcode (406 or a 5xx) gives the study as stored.
      if (wanted === '*' || !cannotTranscode(err)) throw err;
      transferSyntax = '*';
      read = await this.#readStudy(uid, '*');
    }
    const layout = buildZipLayout({
      studyInstanceUid: uid,
      zipContent: config.zipContent,
      transferSyntax,
      instances: read.facts,
      fallback: {
        patientName: study?.patient_name ?? '',
        studyDate: study?.study_date ?? '',
        studyDescription: study?.description ?? '',
      },
      isReport: isReportSopClass,
    });
    const id = await this.save(layout);
    return { id, instances: read.facts.length, bytesRead: read.bytes, ms: this.opts.now() - started };
  }

  async #readStudy(uid: string, transferSyntax: string) {
    const { parts } = await this.store.retrieveStudy(uid, { transferSyntax });
    const facts: InstanceFacts[] = [];
    let bytes = 0;
    for await (const part of parts) {
      const f = await readInstanceFacts(part.body);
      facts.push(f);
      bytes += f.size;
    }
    if (facts.length === 0) throw new ZipLayoutNotPossibleError('the store has no instances of the study');
    return { facts, bytes };
  }

  /** Keeps a layout (made here, or by the export service while it streamed); returns its id. */
  async save(layout: ZipLayout): Promise<string> {
    const id = zipLayoutId(layout);
    const none = Buffer.alloc(0);
    await saveZipLayout(this.db, {
      studyInstanceUid: layout.studyInstanceUid,
      zipContent: layout.zipContent,
      id,
      body: JSON.stringify(layout),
      baseLength: zipPlanFor(layout, none).length,
      readme: {
        ...layout.readme,
        held: layout.held
          ? {
              baseLength: zipPlanFor(zipLayoutFor(layout, { report: false }), none).length,
              readme: layout.held.readme,
            }
          : null,
      },
    });
    return id;
  }

  /** A layout the export service sent: checked against the contract first. */
  async saveReceivedOrThrow(body: unknown): Promise<string> {
    return this.save(zipLayoutSchema.parse(body) as ZipLayout);
  }

  /** The study's layout for this zip content, if made; asks for it to be made if not. */
  async summary(uid: string, zipContent: 'as-stored' | 'jpeg-lossless') {
    const row = await findZipLayoutSummary(this.db, uid, zipContent);
    if (!row) this.schedule(uid);
    return row ?? null;
  }

  /**
   * The exact length of the zip a link gets of this layout: without the study's report objects
   * when its report is held back (`report` false), with REPORT.PDF when a pushed report goes in,
   * and the README written for this patient (language, institution, viewer). A layout never changes
   * under its id: the same choice gives the same length, worked out once.
   */
  async lengthFor(
    row: { id: string; base_length: number; readme: ZipLayoutReadme },
    choice: {
      report: boolean;
      pushed: { sha256: string; bytes: number } | null;
      institution: string;
      viewerUrl: string;
      language: string;
    },
  ): Promise<number | null> {
    const held = !choice.report && row.readme.held;
    const key = JSON.stringify([
      row.id,
      held ? 1 : 0,
      choice.pushed?.sha256 ?? null,
      choice.institution,
      choice.viewerUrl,
      choice.language,
    ]);
    const known = this.#lengths.get(key);
    if (known !== undefined) return known;
    const readme = layoutReadme(held ? { readme: held.readme } : row, {
      institution: choice.institution,
      viewerUrl: choice.viewerUrl,
      language: choice.language,
      pushedReport: choice.pushed !== null,
    });
    const length = await this.lengthWith(row, readme, {
      report: choice.report,
      pushedBytes: choice.pushed?.bytes ?? null,
    });
    if (length !== null) {
      if (this.#lengths.size >= 1_000) this.#lengths.delete(this.#lengths.keys().next().value as string);
      this.#lengths.set(key, length);
    }
    return length;
  }

  /**
   * The exact zip length a link gets with this README: the whole study or the one without its
   * report objects (`report`), and the pushed report's bytes (`pushedBytes`, REPORT.PDF) or none.
   * A study of 4 GiB or more: from its body.
   */
  async lengthWith(
    row: { id: string; base_length: number; readme: ZipLayoutReadme },
    readme: Buffer,
    choice: { report: boolean; pushedBytes: number | null } = { report: true, pushedBytes: null },
  ): Promise<number | null> {
    const base = !choice.report && row.readme.held ? row.readme.held.baseLength : row.base_length;
    // REPORT.PDF: a local header (30 bytes and its 10-byte name), its bytes, a central header (46 + 10).
    const report = choice.pushedBytes === null ? 0 : 30 + 10 + choice.pushedBytes + 46 + 10;
    // Below 4 GiB no offset can pass into ZIP64 because of the README: its bytes simply add.
    if (base + readme.length + report < 0xffff0000) return base + readme.length + report;
    const body = await findZipLayoutBody(this.db, row.id);
    if (!body) return null;
    const layout = zipLayoutFor(JSON.parse(body) as ZipLayout, choice);
    const pushed = choice.pushedBytes === null ? null : Buffer.alloc(choice.pushedBytes);
    return zipPlanFor(layout, readme, pushed).length;
  }

  body(id: string): Promise<string | null> {
    return findZipLayoutBody(this.db, id);
  }

  /** The export service found the store's study differs from this layout: forget it, make it again. */
  async staleFound(id: string): Promise<void> {
    const uid = await deleteZipLayout(this.db, id);
    if (uid) {
      this.log.info(
        { studyInstanceUid: uid, layoutId: id.slice(0, 16) },
        'zip layout stale; making it again',
      );
      this.schedule(uid, { force: true });
    }
  }
}

function cannotTranscode(err: unknown): boolean {
  if (err instanceof DicomwebUnavailableError) return err.status !== undefined;
  return err instanceof DicomwebResponseError && err.status === 406;
}

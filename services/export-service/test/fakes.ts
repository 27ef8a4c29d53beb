import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { newUidOfLength, replaceUids, sampleStudy } from '@studylink/testkit';

/** One instance the fake store holds: real pydicom bytes under fresh UIDs. */
export interface FakeInstance {
  seriesUid: string;
  sopUid: string;
  sopClassUid: string;
  transferSyntax: string;
  seriesNumber: number;
  instanceNumber: number;
  bytes: Buffer;
}

export interface FakeStudy {
  uid: string;
  instances: FakeInstance[];
}

/**
 * A study of `count` copies of pydicom's CT_small.dcm (about 39 KB each), each with its own SOP Instance
 * UID, spread over `seriesCount` series.
 */
export function makeStudy(count: number, seriesCount = 1): FakeStudy {
  const ct = sampleStudy('CT_small.dcm');
  if (!ct) throw new Error('CT_small.dcm is not in the sample catalogue');
  const original = readFileSync(ct.path);
  const uid = newUidOfLength(ct.studyInstanceUid.length);
  const series = Array.from({ length: seriesCount }, () => newUidOfLength(ct.seriesInstanceUid.length));
  const instances: FakeInstance[] = [];
  for (let i = 0; i < count; i++) {
    const sopUid = newUidOfLength(ct.sopInstanceUid.length);
    const s = i % seriesCount;
    instances.push({
      seriesUid: series[s] as string,
      sopUid,
      sopClassUid: ct.sopClassUid,
      transferSyntax: ct.transferSyntaxUid,
      seriesNumber: s + 1,
      instanceNumber: Math.floor(i / seriesCount) + 1,
      bytes: replaceUids(original, {
        [ct.studyInstanceUid]: uid,
        [ct.seriesInstanceUid]: series[s] as string,
        [ct.sopInstanceUid]: sopUid,
      }),
    });
  }
  return { uid, instances };
}

/**
 * How the fake store answers WADO-RS: `complete` (every part and the closing delimiter), `truncated`
 * (every part, then the body ends without `--boundary--`), `endless` (parts for ever, as fast as the
 * reader takes them), `stall` (the first part, then silence with the connection open).
 */
export type RetrieveMode = 'complete' | 'truncated' | 'endless' | 'stall';

const BOUNDARY = 'fake-store-boundary-7d3c';

/** A DICOMweb store on node:http: QIDO-RS from the study's attributes, WADO-RS from the real files. */
export class FakeStore {
  mode: RetrieveMode = 'complete';
  /** This many WADO-RS requests get `failStatus` (default 503) first. */
  failRetrievals = 0;
  failStatus = 503;
  /** When set, a WADO-RS request for a transfer syntax other than `*` gets this status (406, say). */
  transcodeStatus: number | null = null;
  /** The Accept header of every WADO-RS request, in order. */
  readonly retrieveAccepts: string[] = [];
  /** QIDO-RS requests of any level. */
  qidoRequests = 0;
  /** Wait this long before answering a WADO-RS request (a slow store, before the first byte). */
  retrieveDelayMs = 0;
  retrievals = 0;
  /** WADO-RS requests whose connection is still open. */
  openRetrievals = 0;
  /** WADO-RS responses that ended with their connection closed under them (the reader went away). */
  closedRetrievals = 0;
  bytesWritten = 0;
  private readonly studies = new Map<string, FakeStudy>();
  private server: Server | null = null;
  private port = 0;

  add(study: FakeStudy): FakeStudy {
    this.studies.set(study.uid, study);
    return study;
  }

  get dicomwebUrl(): string {
    return `http://127.0.0.1:${this.port}/dicom-web`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://store');
    const path = url.pathname.replace(/^\/dicom-web/, '');
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/dicom+json' });
      res.end(JSON.stringify(body));
    };
    if (!/^\/studies\/[\d.]+$/.test(path)) this.qidoRequests += 1;
    if (path === '/studies') {
      const uid = url.searchParams.get('StudyInstanceUID');
      const study = uid ? this.studies.get(uid) : [...this.studies.values()][0];
      json(study ? [studyJson(study)] : []);
      return;
    }
    const series = /^\/studies\/([\d.]+)\/series$/.exec(path);
    if (series) {
      const study = this.studies.get(series[1] as string);
      json(study ? seriesJson(study) : []);
      return;
    }
    const instances = /^\/studies\/([\d.]+)\/instances$/.exec(path);
    if (instances) {
      const study = this.studies.get(instances[1] as string);
      const sop = url.searchParams.get('SOPInstanceUID');
      json((study?.instances ?? []).filter((i) => !sop || i.sopUid === sop).map(instanceJson));
      return;
    }
    const study = /^\/studies\/([\d.]+)$/.exec(path);
    if (study) {
      await this.retrieve(this.studies.get(study[1] as string), req, res);
      return;
    }
    res.writeHead(404).end();
  }

  private async retrieve(study: FakeStudy | undefined, req: IncomingMessage, res: ServerResponse) {
    this.retrievals += 1;
    const accept = req.headers.accept ?? '';
    this.retrieveAccepts.push(accept);
    this.openRetrievals += 1;
    let finished = false;
    res.once('finish', () => {
      finished = true;
    });
    res.once('close', () => {
      this.openRetrievals -= 1;
      if (!finished) this.closedRetrievals += 1;
    });
    if (this.retrieveDelayMs > 0) await new Promise((r) => setTimeout(r, this.retrieveDelayMs));
    if (res.destroyed) return;
    if (!study) {
      res.writeHead(404).end();
      return;
    }
    if (this.failRetrievals > 0) {
      this.failRetrievals -= 1;
      res.writeHead(this.failStatus, { 'content-type': 'text/plain' }).end('no');
      return;
    }
    if (this.transcodeStatus !== null && !/transfer-syntax=\*/.test(accept)) {
      res.writeHead(this.transcodeStatus, { 'content-type': 'text/plain' }).end('cannot transcode');
      return;
    }
    void req;
    res.writeHead(200, {
      'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
    });
    const part = (i: FakeInstance) =>
      Buffer.concat([
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Type: application/dicom; transfer-syntax=${i.transferSyntax}\r\n\r\n`,
          'latin1',
        ),
        i.bytes,
        Buffer.from('\r\n', 'latin1'),
      ]);
    const write = (chunk: Buffer): boolean => {
      this.bytesWritten += chunk.length;
      return res.write(chunk);
    };
    if (this.mode === 'stall') {
      write(part(study.instances[0] as FakeInstance));
      return; // and nothing more: the connection stays open and silent
    }
    if (this.mode === 'endless') {
      let n = 0;
      const pump = () => {
        while (!res.destroyed) {
          const ok = write(part(study.instances[n % study.instances.length] as FakeInstance));
          n += 1;
          if (!ok) {
            res.once('drain', pump);
            return;
          }
        }
      };
      pump();
      return;
    }
    for (const i of study.instances) {
      if (!write(part(i))) await drainedOrClosed(res);
      if (res.destroyed) return;
    }
    if (this.mode === 'complete') res.end(`--${BOUNDARY}--\r\n`);
    else res.end(); // truncated: a clean end of the HTTP body, but no closing delimiter
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const attr = (vr: string, ...Value: unknown[]) => ({ vr, Value });

function studyJson(study: FakeStudy) {
  return {
    '0020000D': attr('UI', study.uid),
    '00080020': attr('DA', '20040119'),
    '00080030': attr('TM', '072730'),
    '00081030': attr('LO', 'Fake study'),
    '00100010': attr('PN', { Alphabetic: 'Fake^Patient' }),
    '00100020': attr('LO', 'FAKE-1'),
    '00200010': attr('SH', 'S1'),
    '00080050': attr('SH', 'A1'),
  };
}

function seriesJson(study: FakeStudy) {
  const seen = new Map<string, number>();
  for (const i of study.instances) seen.set(i.seriesUid, i.seriesNumber);
  return [...seen].map(([uid, n]) => ({
    '0020000E': attr('UI', uid),
    '00080060': attr('CS', 'CT'),
    '00200011': attr('IS', n),
  }));
}

function instanceJson(i: FakeInstance) {
  return {
    '00080016': attr('UI', i.sopClassUid),
    '00080018': attr('UI', i.sopUid),
    '0020000E': attr('UI', i.seriesUid),
    '00200013': attr('IS', i.instanceNumber),
  };
}

/** What the export service reported to the token service. */
export interface ReportedEvent {
  event: string;
  outcome?: string;
  tokenId?: number | null;
  studyInstanceUid?: string | null;
  bytes?: number | null;
  detail?: Record<string, unknown> | null;
}

/** The token service's internal API as the export service sees it: grants for known tokens, event sink. */
export class FakeTokenService {
  readonly events: ReportedEvent[] = [];
  readonly grants = new Map<string, string>();
  /** Tokens whose grant asks for JPEG lossless (the others: as stored). */
  readonly jpegLossless = new Set<string>();
  /** Tokens the fake refuses as the real one does for link trust: status and error code. */
  readonly refusals = new Map<string, { status: number; code: string }>();
  /**
   * Tokens whose link hands out no original files (view-only, or downloads used up): the grant's
   * `may.viewFiles`/`may.download` are false and `downloadRefusal` names the code.
   */
  readonly noFiles = new Map<string, 'download_not_allowed' | 'download_limit_reached'>();
  /** The body of the last grant request (purpose, verificationCookie). */
  lastGrantRequest: Record<string, unknown> | null = null;
  /** The token id a token's grant carries (default 7). */
  readonly tokenIds = new Map<string, number>();
  grantRequests = 0;
  /** The body of every grant request, in order (the viewer gateway's tests check the client info). */
  readonly grantBodies: Array<{ token: unknown; client?: { ip: string; userAgent: string } }> = [];
  /** The next so many access events are answered with this status instead of 204. */
  failEvents = 0;
  failEventsWith = 503;
  private server: Server | null = null;
  private port = 0;

  constructor(readonly secret: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.headers['x-internal-secret'] !== this.secret) {
        res.writeHead(401).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (req.url === '/internal/v1/grants') {
        this.grantRequests += 1;
        this.lastGrantRequest = body;
        const refusal = typeof body.token === 'string' ? this.refusals.get(body.token) : undefined;
        if (refusal) {
          res
            .writeHead(refusal.status, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: { code: refusal.code, message: 'refused' } }));
          return;
        }
        this.grantBodies.push(body);
        const uid = typeof body.token === 'string' ? this.grants.get(body.token) : undefined;
        if (!uid) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found"}}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            tokenId: this.tokenIds.get(body.token) ?? 7,
            studyInstanceUid: uid,
            zipContent: this.jpegLossless.has(body.token) ? 'jpeg-lossless' : 'as-stored',
            institution: 'Fake Hospital',
            viewerUrl: '',
            may: {
              viewFrames: true,
              viewFiles: !this.noFiles.has(body.token),
              download: !this.noFiles.has(body.token),
              share: true,
            },
            downloadRefusal: this.noFiles.get(body.token) ?? null,
            study: {
              patientName: 'Fake^Patient',
              studyDate: '20040119',
              description: '',
              modalities: ['CT'],
            },
          }),
        );
        return;
      }
      if (req.url === '/internal/v1/access-events') {
        if (this.failEvents > 0) {
          this.failEvents -= 1;
          res.writeHead(this.failEventsWith).end();
          return;
        }
        this.events.push(body);
        res.writeHead(204).end();
        return;
      }
      res.writeHead(404).end();
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The HTTP message ended properly (for chunked: the terminating chunk arrived). */
  complete: boolean;
}

/**
 * GET with node:http. `onBytes` sees the running byte count and may `destroy()` the request (a patient
 * who closes the tab); `pauseAfterHeaders` reads nothing until `resume()` is called.
 */
export function download(
  url: string,
  opts: {
    onBytes?: (received: number, destroy: () => void) => void;
    onHeaders?: (pause: () => void, resume: () => void) => void;
    headers?: Record<string, string>;
  } = {},
): Promise<Received> {
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = request(url, { agent: false, headers: opts.headers ?? {} }, (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      let received = 0;
      opts.onHeaders?.(
        () => res.pause(),
        () => res.resume(),
      );
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        opts.onBytes?.(received, () => req.destroy());
      });
      res.on('error', () => {});
      res.on('close', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
        }),
      );
    });
    // After the response began, errors (a cut connection) show in `complete`, not as a rejection.
    req.on('error', (err) => {
      if (!responded) reject(err);
    });
    req.end();
  });
}

/** A pino destination that keeps the lines, for assertions on what was logged. */
export function logSink(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

/** Polls `check` until it is true or `timeoutMs` passes; then throws with `what`. */
export async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const EOCD = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

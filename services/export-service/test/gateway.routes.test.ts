import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import {
  createLogger,
  createServiceMetrics,
  listen,
  type RunningServer,
  type ServiceMetrics,
} from '@studylink/service-kit';
import {
  type LoadedSample,
  loadSamples,
  type OrthancInstance,
  startOrthanc,
  uploadDirectory,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ExportLimiter } from '../src/export.limiter.js';
import { createGatewayMetrics } from '../src/gateway/gateway.metrics.js';
import { DEFAULT_GATEWAY_OPTIONS } from '../src/gateway/gateway.options.js';
import { gatewayMiddleware } from '../src/gateway/gateway.routes.js';
import { createTokenServiceClient } from '../src/grant.client.js';
import { FakeTokenService, logSink } from './fakes.js';

const SECRET = randomBytes(32).toString('hex');
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const token = () => [...randomBytes(64)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
const GRANT_CACHE_MS = 500;
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/**
 * The viewer's DICOMweb gateway in the export service's real app, against a real Orthanc (with the
 * DICOMweb plugin, as sites run it) and a fake token service whose grants a test can revoke.
 */
describe('viewer DICOMweb gateway against Orthanc', () => {
  let orthanc: OrthancInstance;
  let tokens: FakeTokenService;
  let dicomweb: DicomwebClient;
  let http: RunningServer;
  let base: string;
  let metrics: ServiceMetrics;
  let ct: LoadedSample;
  let mr: LoadedSample;
  const logs = logSink();
  const ctToken = token();
  const limitedToken = token();
  const threeToken = token();
  let metadataReads = 0;
  let three: { studyInstanceUid: string; seriesInstanceUid: string; sopInstanceUids: string[] };

  beforeAll(async () => {
    orthanc = await startOrthanc();
    [ct, mr] = (await loadSamples(orthanc, ['CT_small.dcm', 'MR_small.dcm'])) as [LoadedSample, LoadedSample];
    const dir = await mkdtemp(join(tmpdir(), 'studylink-gateway-three-'));
    const written = await writeSyntheticStudy({
      dir,
      patientName: 'THREE^Instances',
      patientId: 'THREE',
      series: 1,
      instancesPerSeries: 3,
      rows: 16,
      columns: 16,
    });
    await uploadDirectory(orthanc, dir, 2);
    await rm(dir, { recursive: true, force: true });
    const metadata = (await (
      await fetch(`${orthanc.dicomwebUrl}/studies/${written.studyInstanceUid}/metadata`)
    ).json()) as Array<Record<string, { Value?: unknown[] }>>;
    three = {
      studyInstanceUid: written.studyInstanceUid,
      seriesInstanceUid: String(metadata[0]?.['0020000E']?.Value?.[0]),
      sopInstanceUids: metadata.map((d) => String(d['00080018']?.Value?.[0])),
    };
    tokens = new FakeTokenService(SECRET);
    await tokens.start();
    tokens.grants.set(ctToken, ct.studyInstanceUid);
    tokens.grants.set(threeToken, three.studyInstanceUid);
    dicomweb = createDicomwebClient({ baseUrl: orthanc.dicomwebUrl, requestTimeoutMs: 10_000 });
    metrics = createServiceMetrics({ service: 'export-service' });
    const tokenClient = createTokenServiceClient({ baseUrl: tokens.url, secret: SECRET, timeoutMs: 2_000 });
    const app = createApp({
      log: createLogger({ service: 'export-service', level: 'debug', destination: logs.stream }),
      tokens: tokenClient,
      dicomweb,
      limiter: new ExportLimiter(2),
      trustedProxies: new Set(),
      isDraining: () => false,
      retry: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
      checkStore: async () => true,
      gateway: gatewayMiddleware({
        tokens: tokenClient,
        dicomweb: {
          ...dicomweb,
          retrieveMetadata: (...args) => {
            metadataReads += 1;
            return dicomweb.retrieveMetadata(...args);
          },
        },
        trustedProxies: new Set(),
        storeAddresses: [orthanc.dicomwebUrl, new URL(orthanc.dicomwebUrl).host],
        options: { ...DEFAULT_GATEWAY_OPTIONS, grantCacheMs: GRANT_CACHE_MS, maxInstanceResults: 2 },
        count: createGatewayMetrics(metrics.registry),
      }),
    });
    http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${http.port}/token/dicomweb`;
  });

  afterAll(async () => {
    await http?.close(1_000);
    await dicomweb?.close();
    await tokens?.stop();
    await orthanc?.stop();
  });

  const get = (path: string, opts: { token?: string | null; method?: string; accept?: string } = {}) => {
    const headers: Record<string, string> = {};
    const t = opts.token === undefined ? ctToken : opts.token;
    if (t) headers.authorization = `Bearer ${t}`;
    if (opts.accept) headers.accept = opts.accept;
    return fetch(`${base}/${path}`, { method: opts.method ?? 'GET', headers });
  };
  const ctSeries = () => `studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}`;
  const ctInstance = () => `${ctSeries()}/instances/${ct.sopInstanceUid}`;

  it('answers the standard paths of the granted study, no-store, with no store address in DICOM JSON', async () => {
    const series = await get(`studies/${ct.studyInstanceUid}/series`);
    expect(series.status).toBe(200);
    expect(series.headers.get('cache-control')).toBe('no-store');
    expect(series.headers.get('content-type')).toMatch(/^application\/dicom\+json/);
    const seriesText = await series.text();
    expect(JSON.parse(seriesText)).toHaveLength(1);

    for (const path of [`studies/${ct.studyInstanceUid}/metadata`, `${ctSeries()}/metadata`]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      const text = await res.text();
      const [ds] = JSON.parse(text);
      expect(ds['00080018'].Value).toEqual([ct.sopInstanceUid]);
      expect(ds['7FE00010']).toEqual({ vr: 'OW' });
      for (const body of [text, seriesText]) {
        expect(body).not.toContain('BulkDataURI');
        expect(body).not.toContain(new URL(orthanc.dicomwebUrl).host);
        expect(body).not.toMatch(/https?:\/\//);
      }
    }
  });

  it('streams frames, the instance as stored and a rendered image from the store', async () => {
    const frames = await get(`${ctInstance()}/frames/1`, {
      accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    });
    expect(frames.status).toBe(200);
    expect(frames.headers.get('content-type')).toMatch(/^multipart\/related/);
    const frameBytes = Buffer.from(await frames.arrayBuffer());
    // CT_small: 128 x 128 x 16 bits, plus the multipart framing.
    expect(frameBytes.length).toBeGreaterThan(128 * 128 * 2);
    // Orthanc's part headers name its own URL (Content-Location): the gateway re-frames the parts.
    expect(frameBytes.toString('latin1')).not.toContain(new URL(orthanc.dicomwebUrl).host);
    expect(frameBytes.toString('latin1')).not.toMatch(/content-location/i);
    expect(frameBytes.toString('latin1')).toMatch(/^--studylink-[0-9a-f]{24}\r\nContent-Type: /);

    const instance = await get(ctInstance());
    expect(instance.status).toBe(200);
    const instanceBytes = Buffer.from(await instance.arrayBuffer());
    expect(instanceBytes.includes(ct.bytes.subarray(128, 1024))).toBe(true);
    expect(instanceBytes.toString('latin1')).not.toContain(new URL(orthanc.dicomwebUrl).host);

    const rendered = await get(`${ctInstance()}/rendered`, { accept: 'image/png' });
    expect(rendered.status).toBe(200);
    expect(rendered.headers.get('content-type')).toBe('image/png');
    expect(
      Buffer.from(await rendered.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).toBe('PNG');

    const head = await get(`${ctInstance()}/frames/1`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it("a link that may download: the study, a series and an instance as stored (the viewer's whole-file path)", async () => {
    for (const path of [`studies/${ct.studyInstanceUid}`, ctSeries(), ctInstance()]) {
      const res = await get(path, {
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toMatch(/^multipart\/related/);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.includes(ct.bytes.subarray(128, 1024)), path).toBe(true);
    }
  });

  it("view-only and spent links: frames, rendered, thumbnail, metadata and series search, but no original file at any level (403 with the zip's code)", async () => {
    const viewOnly = token();
    const spent = token();
    for (const [t, code] of [
      [viewOnly, 'download_not_allowed'],
      [spent, 'download_limit_reached'],
    ] as const) {
      tokens.grants.set(t, ct.studyInstanceUid);
      tokens.noFiles.set(t, code);
      for (const path of [`studies/${ct.studyInstanceUid}`, ctSeries(), ctInstance()]) {
        for (const accept of [
          'multipart/related; type="application/dicom"; transfer-syntax=*',
          'multipart/related; type="application/dicom"',
          '*/*',
        ]) {
          for (const method of ['GET', 'HEAD']) {
            const res = await get(path, { token: t, accept, method });
            expect(res.status, `${method} ${path} ${accept}`).toBe(403);
            expect(res.headers.get('cache-control')).toBe('no-store');
            if (method === 'GET') expect(await errorCode(res)).toBe(code);
          }
        }
      }
      for (const [path, accept] of [
        [`studies/${ct.studyInstanceUid}/series`, 'application/dicom+json'],
        [`studies/${ct.studyInstanceUid}/metadata`, 'application/dicom+json'],
        [`${ctSeries()}/metadata`, 'application/dicom+json'],
        [`${ctInstance()}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*'],
        [`${ctInstance()}/rendered`, 'image/png'],
        [`${ctInstance()}/frames/1/rendered`, 'image/png'],
      ] as const) {
        const res = await get(path, { token: t, accept });
        expect(res.status, path).toBe(200);
        const body = Buffer.from(await res.arrayBuffer());
        // Frames come as pixel data only: never a Part 10 file (its preamble's DICM marker).
        expect(body.includes(Buffer.from('DICM')), path).toBe(false);
      }
      // This Orthanc has no thumbnails (404 from the store): whatever it says, the gate did not refuse it.
      expect((await get(`${ctInstance()}/thumbnail`, { token: t, accept: 'image/jpeg' })).status).not.toBe(
        403,
      );
      // Frames asked for as application/dicom: not a type frames come in (406, PS3.18), never a file.
      const asDicom = await get(`${ctInstance()}/frames/1`, {
        token: t,
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      });
      expect(asDicom.status).toBe(406);
      expect(await asDicom.text()).not.toContain('DICM');
    }
  });

  it('a frame number the instance does not have is a 404 (frame_not_found), never a 5xx', async () => {
    for (const [path, accept] of [
      [
        `${ctInstance()}/frames/99999`,
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      ],
      [
        `${ctInstance()}/frames/1,2,3`,
        'multipart/related; type="application/octet-stream"; transfer-syntax=*',
      ],
      [`${ctInstance()}/frames/2`, 'multipart/related; type="application/octet-stream"'],
      [`${ctInstance()}/frames/2/rendered`, 'image/png'],
      [`${ctInstance()}/frames/7/thumbnail`, 'image/jpeg'],
    ] as const) {
      const res = await get(path, { accept });
      expect(res.status, path).toBe(404);
      expect(await errorCode(res), path).toBe('frame_not_found');
    }
    // Frame 1 of it is still there.
    expect((await get(`${ctInstance()}/frames/1/rendered`, { accept: 'image/png' })).status).toBe(200);
  });

  it('searches the instances of the whole study (QIDO-RS), at most maxInstanceResults an answer, with the Warning of PS3.18', async () => {
    const byStudy = await get(`studies/${ct.studyInstanceUid}/instances`);
    expect(byStudy.status).toBe(200);
    expect(byStudy.headers.get('cache-control')).toBe('no-store');
    expect(byStudy.headers.get('warning')).toBeNull();
    const text = await byStudy.text();
    expect(text).not.toContain(new URL(orthanc.dicomwebUrl).host);
    const [one, ...rest] = JSON.parse(text);
    expect(rest).toEqual([]);
    expect(one['00080018'].Value).toEqual([ct.sopInstanceUid]);
    expect(one['0020000E'].Value).toEqual([ct.seriesInstanceUid]);

    // Three instances, two an answer: paged with offset, told by Warning that there are more.
    const sops = (path: string) =>
      get(path, { token: threeToken }).then(async (res) => ({
        status: res.status,
        warning: res.headers.get('warning'),
        sops: ((await res.json()) as Array<Record<string, { Value: string[] }>>).map(
          (d) => d['00080018']?.Value[0],
        ),
      }));
    const base = `studies/${three.studyInstanceUid}/instances`;
    const first = await sops(base);
    expect(first.sops).toHaveLength(2);
    expect(first.warning).toMatch(/^299 studylink: "The number of results exceeded/);
    const next = await sops(`${base}?offset=2`);
    expect(next).toMatchObject({ status: 200, warning: null });
    expect(new Set([...first.sops, ...next.sops])).toEqual(new Set(three.sopInstanceUids));
    expect(await sops(`${base}?limit=1&includefield=all`)).toMatchObject({ status: 200, warning: null });
    expect((await sops(`${base}?limit=1`)).sops).toHaveLength(1);
    expect((await get(`${base}?limit=0`, { token: threeToken })).status).toBe(400);
    expect((await get(`${base}?PatientID=x`, { token: threeToken })).status).toBe(400);
  });

  it('reads a series’ metadata from the store once for the viewers that ask at once', async () => {
    const path = `studies/${three.studyInstanceUid}/series/${three.seriesInstanceUid}/metadata`;
    const before = metadataReads;
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(path, { token: threeToken })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0] as string)).toHaveLength(3);
    expect(metadataReads - before).toBeLessThanOrEqual(1);
    // The frames of those instances are checked against it, without another read.
    const frame = await get(
      `studies/${three.studyInstanceUid}/series/${three.seriesInstanceUid}/instances/${three.sopInstanceUids[0]}/frames/9`,
      { token: threeToken },
    );
    expect(frame.status).toBe(404);
    expect(metadataReads - before).toBeLessThanOrEqual(1);
  });

  it("refuses another study's UID, and another study's series or instance under the granted path", async () => {
    const refused = [
      `studies/${mr.studyInstanceUid}/series`,
      `studies/${mr.studyInstanceUid}/metadata`,
      `studies/${mr.studyInstanceUid}/instances`,
      `studies/${mr.studyInstanceUid}/series/${mr.seriesInstanceUid}/metadata`,
      `studies/${ct.studyInstanceUid}/series/${mr.seriesInstanceUid}/metadata`,
      `studies/${ct.studyInstanceUid}/series/${mr.seriesInstanceUid}/instances/${mr.sopInstanceUid}/frames/1`,
      `${ctSeries()}/instances/${mr.sopInstanceUid}`,
      `${ctSeries()}/instances/${mr.sopInstanceUid}/frames/1`,
      `${ctSeries()}/instances/${mr.sopInstanceUid}/rendered`,
    ];
    for (const path of refused) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await errorCode(res)).toBe('not_found');
    }
    // Same answer by HEAD: membership is checked before anything else.
    expect(
      (await get(`${ctSeries()}/instances/${mr.sopInstanceUid}/frames/1`, { method: 'HEAD' })).status,
    ).toBe(404);
  });

  it('names nothing but validated UIDs and the standard words', async () => {
    for (const path of [
      `studies/${ct.studyInstanceUid}/series/`,
      `studies/${ct.studyInstanceUid}/SERIES`,
      `studies/${ct.studyInstanceUid}x/series`,
      `studies/${ct.studyInstanceUid}%2F..%2F/series`,
      `studies/..%2f${ct.studyInstanceUid}/series`,
      `${ctInstance()}/frames/0`,
      `${ctInstance()}/frames/1,,2`,
      `${ctInstance()}/frames/1/bulk`,
      `${ctInstance()}/frames/1,2/rendered`,
      `${ctInstance()}/bulkdata/7FE00010`,
      `studies/${'1.'.repeat(40)}1/series`,
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
    }
  });

  it('takes the token from Authorization: Bearer only; a missing or invalid one is 401, counted by the token service', async () => {
    const path = `studies/${ct.studyInstanceUid}/series`;
    const before = tokens.grantRequests;
    const missing = await get(path, { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(tokens.grantRequests).toBe(before);

    const wrong = token();
    const invalid = await get(path, { token: wrong });
    expect(invalid.status).toBe(401);
    expect(await errorCode(invalid)).toBe('token_not_found');
    const asked = tokens.grantBodies.at(-1);
    expect(asked?.token).toBe(wrong);
    expect(asked?.client?.ip).toBe('127.0.0.1');
    const malformed = await get(path, { token: 'short' });
    expect(malformed.status).toBe(401);
    expect(tokens.grantBodies.at(-1)?.token).toBeNull();
    await new Promise((r) => setTimeout(r, 50));
    expect(tokens.events.filter((e) => e.event === 'invalid_token').map((e) => e.outcome)).toEqual([
      'not_found',
      'malformed',
    ]);

    // Basic auth or a token in a cookie are not bearer tokens.
    const basic = await fetch(`${base}/${path}`, {
      headers: { authorization: `Basic ${Buffer.from(`x:${ctToken}`).toString('base64')}`, cookie: ctToken },
    });
    expect(basic.status).toBe(401);
  });

  it('refuses a token in the query string or the path, even with a valid bearer', async () => {
    for (const path of [
      `studies/${ct.studyInstanceUid}/series?${ctToken}`,
      `studies/${ct.studyInstanceUid}/series?includefield=${ctToken}`,
      `studies/${ct.studyInstanceUid}/metadata?token=${ctToken}`,
      `${ctSeries()}/metadata?access_token=${ctToken}`,
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(await errorCode(res)).toBe('token_in_url');
    }
    expect((await get(`studies/${ct.studyInstanceUid}/metadata?x=1`)).status).toBe(400);
    const ok = await get(`studies/${ct.studyInstanceUid}/series?includefield=00080021&limit=10`);
    expect(ok.status).toBe(200);
  });

  it('a link with a second factor: the confirmation cookie goes to the token service, which decides; unconfirmed is 403', async () => {
    const pinToken = token();
    tokens.grants.set(pinToken, ct.studyInstanceUid);
    // Unconfirmed: the token service refuses (403 verification_required) and so does the gateway.
    tokens.refusals.set(pinToken, { status: 403, code: 'verification_required' });
    const refused = await fetch(`${base}/studies/${ct.studyInstanceUid}/series`, {
      headers: { authorization: `Bearer ${pinToken}` },
    });
    expect(refused.status).toBe(403);
    expect(await errorCode(refused)).toBe('verification_required');
    expect(tokens.lastGrantRequest).toMatchObject({ token: pinToken, purpose: 'view' });
    expect(tokens.lastGrantRequest?.verificationCookie ?? null).toBeNull();
    // With the cookie its right answer earned (Path=/token, so the browser sends it here too).
    tokens.refusals.delete(pinToken);
    const ok = await fetch(`${base}/studies/${ct.studyInstanceUid}/series`, {
      headers: { authorization: `Bearer ${pinToken}`, cookie: 'studylink_verified=earned.cookie.value' },
    });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    expect(tokens.lastGrantRequest).toMatchObject({
      token: pinToken,
      purpose: 'view',
      verificationCookie: 'earned.cookie.value',
    });
    // A grant won with the cookie is not reused for a request without it (the cache is keyed by both).
    tokens.refusals.set(pinToken, { status: 403, code: 'verification_required' });
    const without = await fetch(`${base}/studies/${ct.studyInstanceUid}/series`, {
      headers: { authorization: `Bearer ${pinToken}` },
    });
    expect(without.status).toBe(403);
    await without.arrayBuffer();
  });

  it('is read-only: every method but GET and HEAD is 405', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      for (const path of [`studies/${ct.studyInstanceUid}/series`, `${ctInstance()}/frames/1`]) {
        const res = await get(path, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
    }
  });

  it(`stops answering a revoked token within ${GRANT_CACHE_MS} ms (the grant cache)`, async () => {
    const t = token();
    tokens.grants.set(t, ct.studyInstanceUid);
    expect((await get(`${ctInstance()}/frames/1`, { token: t })).status).toBe(200);
    tokens.grants.delete(t);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 5_000) {
      const res = await get(`${ctInstance()}/frames/1`, { token: t });
      status = res.status;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(GRANT_CACHE_MS + 500);
  });

  /** The same app with other gateway limits, on its own port. */
  async function withLimits(
    limits: Partial<typeof DEFAULT_GATEWAY_OPTIONS>,
    fn: (base: string) => Promise<void>,
  ): Promise<void> {
    const tokenClient = createTokenServiceClient({ baseUrl: tokens.url, secret: SECRET, timeoutMs: 2_000 });
    const app = createApp({
      log: createLogger({ service: 'export-service', level: 'silent' }),
      tokens: tokenClient,
      dicomweb,
      limiter: new ExportLimiter(1),
      trustedProxies: new Set(),
      isDraining: () => false,
      retry: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
      checkStore: async () => true,
      gateway: gatewayMiddleware({
        tokens: tokenClient,
        dicomweb: {
          ...dicomweb,
          retrieveMetadata: (...args) => {
            metadataReads += 1;
            return dicomweb.retrieveMetadata(...args);
          },
        },
        trustedProxies: new Set(),
        storeAddresses: [orthanc.dicomwebUrl],
        options: { ...DEFAULT_GATEWAY_OPTIONS, ...limits },
      }),
    });
    const server = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
    try {
      await fn(`http://127.0.0.1:${server.port}/token/dicomweb/studies/${ct.studyInstanceUid}/series`);
    } finally {
      await server.close(1_000);
    }
  }

  async function statuses(
    url: string,
    bearers: string[],
  ): Promise<{ codes: number[]; retryAfter: string | null }> {
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (const t of bearers) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${t}` } });
      codes.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
      await res.body?.cancel();
    }
    return { codes, retryAfter };
  }

  it('has its own rate limit per token: 429 with Retry-After', async () => {
    tokens.grants.set(limitedToken, ct.studyInstanceUid);
    await withLimits({ perToken: { rate: 1, burst: 5 } }, async (url) => {
      const { codes, retryAfter } = await statuses(url, Array(7).fill(limitedToken));
      expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    });
  });

  it('and per address, across tokens, checked before any grant lookup', async () => {
    const other = token();
    tokens.grants.set(other, ct.studyInstanceUid);
    await withLimits({ perClient: { rate: 1, burst: 3 } }, async (url) => {
      const before = tokens.grantRequests;
      const { codes, retryAfter } = await statuses(url, [ctToken, other, token(), ctToken, other]);
      expect(codes).toEqual([200, 200, 401, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      // The refused ones never reached the token service.
      expect(tokens.grantRequests - before).toBeLessThanOrEqual(3);
    });
  });

  it('counts gateway requests by resource and outcome, and logs no token', async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/studylink_gateway_requests_total\{resource="frames",outcome="ok"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /studylink_gateway_requests_total\{resource="series_metadata",outcome="not_found"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(
      /studylink_gateway_requests_total\{resource="series_search",outcome="token_not_found"[^}]*\} [1-9]/,
    );
    expect(logs.lines.length).toBeGreaterThan(10);
    for (const line of logs.lines) expect(line).not.toMatch(/[A-Za-z0-9]{64}/);
  });
});

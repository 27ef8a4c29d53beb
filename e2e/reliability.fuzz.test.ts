// Property-based fuzzing of everything a client can reach: the patient page, the download, and every
// operation of the REST API as its OpenAPI document describes it. Requests go out as raw bytes (CR, LF,
// NUL and stray UTF-8 included), through nginx from rotating loopback addresses and straight to the
// services. Whatever comes in: a 4xx (2xx for valid input), never a 5xx, no process dies, and every
// log line stays one JSON object. FUZZ_RUNS scales the number of runs; FUZZ_SEED replays a failure.

import { randomInt } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tokenFromQuery } from '@studylink/contracts';
import { loadSamples, samplePdfReport } from '@studylink/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { JSON_LOGS, malformedLogLines, secretLeaksInLogs, tokenLeaks } from './support/log-checks.js';
import {
  anyText,
  type OpenApiDocument,
  type Operation,
  operationsOf,
  urlPart,
  valueFor,
} from './support/openapi-arbitraries.js';
import { type RawHttpResponse, rawRequest } from './support/raw-http.js';

const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = (numRuns: number) => ({
  numRuns: runs(numRuns),
  ...(SEED === undefined ? {} : { seed: SEED }),
});

// Statuses any route may answer bad input with, from the app or from nginx in front of it.
const GENERIC_4XX = [400, 401, 404, 405, 411, 413, 414, 415, 429, 431];
/** A 1 × 1 PNG, for the logo upload. */
const ONE_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

let s: E2EStack;
let ports: { nginx: number; token: number; export: number };
let token: string;
/** A PIN link (issue 12) for the verification-form fuzz, and its PIN. */
let pinLink: { token: string; pin: string };
/** The API fuzz's own study: it may revoke and re-issue its token; the page fuzz's token stays put. */
let apiStudyUid: string;
let adminKey: string;
let operations: Operation[];
/** What each API operation answered during the fuzz ("PUT /api/v1/..." → status → count). */
const seen = new Map<string, Map<number, number>>();
let nextClient = 0;
/** A new loopback client address for each request through nginx, so its per-address limits stay out of the way. */
const clientAddress = () => `127.0.4.${1 + (nextClient++ % 250)}`;
const randomToken = () => Array.from({ length: 64 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

interface Sent {
  via: 'nginx' | 'direct';
  method: string;
  target: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

async function send(req: Sent, directPort: number): Promise<RawHttpResponse> {
  const port = req.via === 'nginx' ? ports.nginx : directPort;
  return rawRequest(port, req.method, req.target, req.headers, req.body, {
    localAddress: req.via === 'nginx' ? clientAddress() : '127.0.0.1',
    timeoutMs: 15_000,
  });
}

/** Fails with the request that caused it, so a shrunk counterexample reads as a reproduction. */
function explain(req: Sent, res: RawHttpResponse): string {
  const body = req.body === undefined ? '' : ` body=${JSON.stringify(String(req.body).slice(0, 200))}`;
  return `${req.via} ${req.method} ${JSON.stringify(req.target.slice(0, 300))} headers=${JSON.stringify(req.headers).slice(0, 300)}${body} → ${res.status} ${res.body.subarray(0, 200).toString('utf8')}`;
}

/** An answer the app itself wrote (it echoes x-request-id) with a JSON error must have the stable shape. */
function expectErrorShape(req: Sent, res: RawHttpResponse) {
  if (res.status < 400 || !res.headers['x-request-id'] || req.method === 'HEAD') return;
  if (!(res.headers['content-type'] ?? '').includes('application/json')) return;
  const body = JSON.parse(res.body.toString('utf8'));
  expect(typeof body?.error?.code, explain(req, res)).toBe('string');
  expect(typeof body?.error?.message, explain(req, res)).toBe('string');
}

// Query strings a patient link might arrive with: the real token, near misses, and garbage.
const tokenQuery = () =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant('VALID') },
    { weight: 3, arbitrary: fc.constant('RANDOM64') },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 60, maxLength: 68 }) },
    { weight: 4, arbitrary: anyText(120).map((t) => urlPart(t, true)) },
    { weight: 2, arbitrary: anyText(120).map((t) => urlPart(t, false)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'VALID%00',
        'VALID%0d%0a',
        'VALID&x=1',
        't=VALID',
        'VALID#frag',
        '%56ALID',
        'VALID ',
        'a'.repeat(9_000),
        'a'.repeat(2_000),
      ),
    },
  );

const resolveQuery = (q: string) => q.replace('VALID', token).replace('RANDOM64', randomToken());
/**
 * The query string the server sees: a raw space ends the request target, and a raw '#' starts a
 * fragment, which it drops.
 */
// What the server sees of a query: up to a space or `#`, and of that the token is the part before
// the first `&` (tracking parameters a mail system appended are allowed).
const effectiveQuery = (query: string) => tokenFromQuery(query.split(/[ #]/)[0] ?? '');

const headerValue = () =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
    { weight: 2, arbitrary: anyText(60) },
    { weight: 1, arbitrary: fc.constant('x'.repeat(10_000)) },
  );

const extraHeaders = () =>
  fc.record(
    {
      'user-agent': headerValue(),
      'x-request-id': headerValue(),
      'x-real-ip': fc.oneof(
        headerValue(),
        fc.constantFrom('10.0.0.1', '::1', '999.1.1.1', '127.0.0.1, 10.0.0.2'),
      ),
      'x-forwarded-for': headerValue(),
      referer: headerValue().map((v) => `http://example.org/x?${v}`),
      cookie: headerValue(),
      accept: headerValue(),
      'accept-language': fc.oneof(
        headerValue(),
        fc.constantFrom('ar', 'fr-CH, fr;q=0.9', 'el;q=0.5, *;q=0.1', 'xx', 'de;q=bogus', ''),
      ),
    },
    { requiredKeys: [] },
  );

beforeAll(async () => {
  s = await startE2EStack('reliability-fuzz', {
    // The guessing limit stays on (its queries run on every request) but never trips during the fuzz.
    // Mail and SMS are configured (nothing listens there: deliveries queue, then retry), so POST
    // .../deliveries can answer 202.
    env: {
      INVALID_TOKEN_LIMIT: '1000000',
      SMTP_URL: 'smtp://127.0.0.1:9',
      MAIL_FROM: 'images@hospital.example',
      SMS_API_URL: 'http://127.0.0.1:9',
      SMS_ACCOUNT_SID: 'AC0000',
      SMS_AUTH_TOKEN: 'fuzz',
      SMS_FROM: '+15550000000',
    },
  });
  ports = {
    nginx: Number(new URL(s.url).port),
    token: s.stack.tokenPort,
    export: s.stack.exportPort,
  };
  adminKey = s.adminKey;
  const [ct, mr, jp] = await loadSamples(s.orthanc, ['CT_small.dcm', 'MR_small.dcm', 'JPEG2000.dcm']);
  const pinIssued = await s.api('PUT', `/api/v1/studies/${jp?.studyInstanceUid}/token`, {
    verification: 'pin',
  });
  pinLink = { token: pinIssued.json.token, pin: pinIssued.json.pin };
  ({ token } = await s.issueToken(ct?.studyInstanceUid as string));
  apiStudyUid = mr?.studyInstanceUid as string;
  await s.issueToken(apiStudyUid);
  const doc = (await (await fetch(`${s.url}/api/v1/openapi.json`)).json()) as OpenApiDocument;
  operations = operationsOf(doc);
});
afterAll(async () => {
  await s?.stop();
});

describe('fuzzing every public route', () => {
  it('the OpenAPI document lists the operations to fuzz', () => {
    const names = operations.map((o) => `${o.method} ${o.path}`);
    expect(names).toContain('PUT /api/v1/studies/{studyInstanceUid}/token');
    expect(names).toContain('GET /api/v1/access-log');
    expect(names.length).toBeGreaterThanOrEqual(7);
    // The generated token bodies carry the link-trust fields (issue 12): verification, limit, view-only.
    const put = operations.find((o) => o.method === 'PUT' && o.path.endsWith('/token'));
    expect(Object.keys(put?.body?.properties ?? {})).toEqual(
      expect.arrayContaining(['verification', 'maxDownloads', 'allowDownload']),
    );
    expect(names).toContain('POST /api/v1/studies/{studyInstanceUid}/token/unlock');
  });

  it('GET/HEAD /token?<anything>: 200 for the issued token only, otherwise a 4xx page', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenQuery(),
        fc.constantFrom('GET', 'HEAD'),
        fc.constantFrom<Sent['via']>('nginx', 'nginx', 'direct'),
        extraHeaders(),
        async (q, method, via, headers) => {
          const query = resolveQuery(q);
          const req: Sent = { via, method, target: `/token?${query}`, headers };
          const res = await send(req, ports.token);
          expect(res.status, explain(req, res)).toBeLessThan(500);
          const valid = effectiveQuery(query) === token;
          if (valid && res.status !== 400 && res.status !== 431) {
            expect(res.status, explain(req, res)).toBe(200);
          } else {
            expect(GENERIC_4XX, explain(req, res)).toContain(res.status);
          }
          if (res.status === 200 && method === 'GET')
            expect(res.body.toString('utf8')).toContain('href="/token/study.zip?');
        },
      ),
      params(2000),
    );
  });

  it('POST /token?<anything> with generated forms: never a 5xx; only the right PIN earns the cookie', async () => {
    const field = fc.oneof(
      fc.tuple(fc.constantFrom('pin', 'birthDate', 'lang', 'x', ''), anyText(40)),
      fc.tuple(fc.constant('pin'), fc.constantFrom('RIGHT', '000000', '12345678901234567890', '')),
      fc.tuple(
        fc.constant('birthDate'),
        fc.constantFrom('1970-01-01', '0000-00-00', '9999-99-99', '19700101'),
      ),
      fc.tuple(fc.constant('lang'), fc.constantFrom('ar', 'en', 'zz', 'fr')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant('PIN') }, { weight: 1, arbitrary: tokenQuery() }),
        fc.array(field, { maxLength: 4 }),
        fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', ''),
        fc.constantFrom('same-origin', 'cross-site', ''),
        fc.constantFrom<Sent['via']>('nginx', 'direct'),
        extraHeaders(),
        async (q, fields, contentType, site, via, headers) => {
          const query = q === 'PIN' ? pinLink.token : resolveQuery(q);
          const body = fields
            .map(([k, v]) => `${urlPart(k, false)}=${urlPart(v === 'RIGHT' ? pinLink.pin : v, false)}`)
            .join('&');
          const h: Record<string, string> = { ...headers };
          if (contentType) h['content-type'] = contentType;
          if (site) h['sec-fetch-site'] = site;
          const req: Sent = { via, method: 'POST', target: `/token?${query}`, headers: h, body };
          const res = await send(req, ports.token);
          expect(res.status, explain(req, res)).toBeLessThan(500);
          expect([200, 303, 403, ...GENERIC_4XX], explain(req, res)).toContain(res.status);
          const cookie = res.headers['set-cookie'] ?? '';
          if (cookie.includes('studylink_verified=')) {
            // Only the PIN link's own PIN, sent same-origin as a form, opens it.
            expect(effectiveQuery(query), explain(req, res)).toBe(pinLink.token);
            expect(body, explain(req, res)).toContain(`pin=${pinLink.pin}`);
          }
        },
      ),
      params(400),
    );
  });

  it('GET/HEAD /token/study.zip?<anything>: a zip for the issued token only, otherwise a 4xx page', async () => {
    await fc.assert(
      fc.asyncProperty(
        tokenQuery(),
        fc.constantFrom('GET', 'HEAD'),
        fc.constantFrom<Sent['via']>('nginx', 'direct'),
        extraHeaders(),
        async (q, method, via, headers) => {
          const query = resolveQuery(q);
          const req: Sent = { via, method, target: `/token/study.zip?${query}`, headers };
          const res = await send(req, ports.export);
          expect(res.status, explain(req, res)).toBeLessThan(500);
          if (res.status === 200) {
            expect(effectiveQuery(query), explain(req, res)).toBe(token);
            expect(res.headers['content-type']).toBe('application/zip');
            if (method === 'GET') expect(res.body.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
          } else {
            expect(GENERIC_4XX, explain(req, res)).toContain(res.status);
          }
        },
      ),
      params(1000),
    );
  });

  it('every API operation, with generated params, queries, bodies and keys: documented 2xx/4xx only', async () => {
    const request = fc.constantFrom(...operations).chain((op) =>
      fc.record({
        op: fc.constant(op),
        method: fc.oneof(
          { weight: 8, arbitrary: fc.constant(op.method) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FOO'),
          },
        ),
        pathValues: fc.tuple(
          ...op.parameters
            .filter((p) => p.in === 'path')
            .map((p) =>
              fc.record({
                name: fc.constant(p.name),
                // A real study now and then, so the valid paths are walked too.
                value: fc.oneof(
                  { weight: 5, arbitrary: valueFor(p.schema).map(String) },
                  { weight: 2, arbitrary: fc.constant(apiStudyUid) },
                ),
                raw: fc.boolean(),
              }),
            ),
        ),
        query: fc.array(
          fc.oneof(
            ...op.parameters
              .filter((p) => p.in === 'query')
              .map((p) => fc.tuple(fc.constant(p.name), valueFor(p.schema).map(String))),
            fc.tuple(anyText(12), anyText(20)),
          ),
          { maxLength: 4 },
        ),
        rawQuery: fc.boolean(),
        body: op.body
          ? fc.oneof(
              { weight: 5, arbitrary: valueFor(op.body).map((v) => JSON.stringify(v)) },
              { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null') },
              { weight: 1, arbitrary: anyText(200) },
              {
                weight: 1,
                arbitrary: fc.constantFrom('{', '{"a":', '[]', '"x"', 'null', '{"__proto__":{"x":1}}'),
              },
              {
                weight: 1,
                arbitrary: fc.constantFrom(
                  `{"institution":"${'x'.repeat(70_000)}"}`,
                  `{"institution":"${'é'.repeat(30_000)}"}`,
                  `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
                ),
              },
              { weight: 1, arbitrary: fc.constant(undefined) },
            )
          : fc.option(anyText(50), { nil: undefined }),
        contentType: fc.constantFrom(
          'application/json',
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          '',
        ),
        auth: fc.oneof(
          { weight: 6, arbitrary: fc.constant('ADMIN') },
          { weight: 1, arbitrary: fc.constant('') },
          { weight: 1, arbitrary: headerValue().map((v) => `Bearer ${v}`) },
          { weight: 1, arbitrary: fc.constant('Basic YWRtaW46YWRtaW4=') },
        ),
        via: fc.constantFrom<Sent['via']>('nginx', 'direct'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        let path = r.op.path;
        for (const { name, value, raw } of r.pathValues)
          path = path.replace(`{${name}}`, urlPart(value, raw));
        const query = r.query
          .map(([k, v]) => `${urlPart(k, r.rawQuery)}=${urlPart(v, r.rawQuery)}`)
          .join('&');
        const headers: Record<string, string> = {};
        if (r.auth) headers.authorization = r.auth === 'ADMIN' ? `Bearer ${adminKey}` : r.auth;
        if (r.body !== undefined && r.contentType) headers['content-type'] = r.contentType;
        const req: Sent = {
          via: r.via,
          method: r.method,
          target: query ? `${path}?${query}` : path,
          headers,
          body: r.body,
        };
        const res = await send(req, ports.token).catch((err: NodeJS.ErrnoException) => {
          // nginx refuses a body over client_max_body_size (64k) before reading it, then resets.
          if (err.code === 'ECONNRESET' && Buffer.byteLength(r.body ?? '') > 64 * 1024) return null;
          throw err;
        });
        if (!res) return;
        expect(res.status, explain(req, res)).toBeLessThan(500);
        // A revoke of the study the fuzz walks is followed by a new link, so the operations that
        // need an active one (deliveries, unlock) keep reaching past their lookup.
        if (r.method === 'DELETE' && res.status === 204 && path.includes(apiStudyUid))
          await s.issueToken(apiStudyUid);
        if (r.method === r.op.method) {
          const key = `${r.op.method} ${r.op.path}`;
          const counts = seen.get(key) ?? new Map<number, number>();
          counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
          seen.set(key, counts);
        }
        // The operation the server should treat this as: the one documented for the method actually
        // sent on this path (HEAD is answered like GET), if any.
        const asMethod = r.method === 'HEAD' ? 'GET' : r.method;
        const answered = operations.find((o) => o.path === r.op.path && o.method === asMethod);
        const documented = answered?.statuses ?? new Set<number>();
        if (res.status < 300 && r.method === 'OPTIONS') {
          expect(res.headers.allow, explain(req, res)).toBeTruthy(); // the router lists the methods
        } else if (res.status < 300) {
          expect(
            [...documented].filter((c) => c < 300),
            explain(req, res),
          ).toContain(res.status);
        } else {
          expect([...documented, ...GENERIC_4XX], explain(req, res)).toContain(res.status);
        }
        expectErrorShape(req, res);
      }),
      params(3000),
    );
    if (process.env.FUZZ_REPORT) {
      const report = Object.fromEntries([...seen].map(([k, v]) => [k, Object.fromEntries(v)]));
      console.log(JSON.stringify(report, null, 1));
    }
    // Two operations take input the generator rarely or never writes whole (a PNG; a deliverable
    // address for a study whose link is active): one known-good request each shows them reachable.
    await s.issueToken(apiStudyUid);
    const known: [string, () => Promise<number>][] = [
      [
        `POST /api/v1/studies/{studyInstanceUid}/token/deliveries`,
        async () =>
          (
            await s.api('POST', `/api/v1/studies/${apiStudyUid}/token/deliveries`, {
              email: 'jane.doe@example.org',
            })
          ).status,
      ],
      [
        'PUT /api/v1/server-config/logo',
        async () =>
          (
            await fetch(`${s.url}/api/v1/server-config/logo`, {
              method: 'PUT',
              headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'image/png' },
              body: Buffer.from(ONE_PIXEL_PNG, 'base64'),
            })
          ).status,
      ],
    ];
    // A report the RIS pushes (a PDF body the generator never writes), read back, then deleted.
    const report = (method: string, body?: Buffer) =>
      fetch(`${s.url}/api/v1/studies/${apiStudyUid}/report`, {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body ? { 'content-type': 'application/pdf' } : {}),
        },
        ...(body ? { body } : {}),
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      });
    known.push(
      ['PUT /api/v1/studies/{studyInstanceUid}/report', () => report('PUT', samplePdfReport())],
      ['GET /api/v1/studies/{studyInstanceUid}/report', () => report('GET')],
      ['DELETE /api/v1/studies/{studyInstanceUid}/report', () => report('DELETE')],
    );
    for (const [key, send] of known) {
      const counts = seen.get(key) ?? new Map<number, number>();
      const status = await send();
      counts.set(status, (counts.get(status) ?? 0) + 1);
      seen.set(key, counts);
    }
    // The fuzz got past authentication and validation: every operation answered 2xx at least once,
    // and the ones that take input refused some of it.
    for (const op of operations) {
      const counts = seen.get(`${op.method} ${op.path}`) ?? new Map<number, number>();
      const statuses = [...counts.keys()];
      expect(
        statuses.some((c) => c < 300),
        `${op.method} ${op.path}: ${statuses}`,
      ).toBe(true);
      if (op.parameters.length > 0 || op.body) expect(statuses, `${op.method} ${op.path}`).toContain(400);
    }
  });

  it('requests with raw CR, LF and NUL in the request line and headers: 4xx, or ignored', async () => {
    const injected = fc.record({
      where: fc.constantFrom('path', 'query', 'user-agent', 'x-request-id', 'authorization'),
      payload: fc.constantFrom(
        '\r\n{"level":"fatal","msg":"injected"}',
        '\n{"time":"x","status":200}',
        '\0',
        '\r',
        'a\u0085b\u2028c',
      ),
      route: fc.constantFrom(
        '/token?',
        '/token/study.zip?',
        '/api/v1/server-config?',
        '/api/v1/access-log?event=',
      ),
      via: fc.constantFrom<Sent['via']>('nginx', 'direct'),
    });
    await fc.assert(
      fc.asyncProperty(injected, async ({ where, payload, route, via }) => {
        const headers: Record<string, string> = { authorization: `Bearer ${adminKey}` };
        let target = `${route}${token}`;
        if (where === 'path') target = `/token/${payload}?${token}`;
        else if (where === 'query') target = `${route}${payload}`;
        else headers[where] = `x${payload}x`;
        const req: Sent = { via, method: 'GET', target, headers };
        const port = route.startsWith('/token/') ? ports.export : ports.token;
        const res = await send(req, port).catch((err: Error) => {
          // An HTTP/0.9-style answer (no status line) to a request line cut short by a raw CR/LF.
          if (/no HTTP answer|not an HTTP status line/.test(err.message)) return null;
          throw err;
        });
        if (res) expect(res.status, explain(req, res)).toBeLessThan(500);
      }),
      params(600),
    );
  });

  it('afterwards: every process is alive and /livez answers 200', async () => {
    for (const [name, proc] of Object.entries(s.stack.processes)) {
      expect(proc.exitCode, name).toBeNull();
      expect(proc.signalCode, name).toBeNull();
    }
    for (const port of [ports.token, ports.export]) {
      expect((await fetch(`http://127.0.0.1:${port}/livez`)).status).toBe(200);
    }
    expect((await fetch(`${s.url}/token?${token}`)).status).toBe(200);
  });

  it('afterwards: every line of every service and nginx log is one JSON object of its own kind', async () => {
    const problems = await malformedLogLines(s.logDir);
    expect(problems).toEqual([]);
    // The fuzz reached every log. About half of the 1,000 download requests go straight to the
    // export service; of those through nginx, some nginx answers itself (a request line it refuses,
    // its rate limit), so a quarter is the floor that still shows the log was written throughout.
    for (const file of Object.keys(JSON_LOGS)) {
      const text = await readFile(join(s.logDir, file), 'utf8');
      expect(text.split('\n').length, file).toBeGreaterThan(runs(1000) / 4);
    }
  });

  it('afterwards: no log holds the token, nor the PIN link, nor its PIN', async () => {
    expect(await tokenLeaks(s.logDir, [token, pinLink.token])).toEqual([]);
    expect(await secretLeaksInLogs(s.logDir, { pins: [pinLink.pin], birthDates: [] })).toEqual([]);
  });
});

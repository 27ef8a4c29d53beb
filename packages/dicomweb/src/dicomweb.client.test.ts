import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createTcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Tag } from './dicom-json.helpers.js';
import { createDicomwebClient, type DicomwebClient, type RetrieveResult } from './dicomweb.client.js';
import {
  DicomwebArgumentError,
  DicomwebNotFoundError,
  DicomwebResponseError,
  DicomwebUnavailableError,
} from './dicomweb.errors.js';
import { MultipartTruncatedError } from './multipart.errors.js';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SERIES = '1.2.826.0.1.3680043.8.498.2';
const BOUNDARY = 'ORTHANC-b0undary';
const MULTIPART_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

interface TestServer {
  url: string;
  requests: Recorded[];
  /** Resolves when the server sees the client's connection of request `index` close. */
  closed(index: number): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const requests: Recorded[] = [];
  const closedSignals: Array<Promise<void>> = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    closedSignals.push(new Promise((resolve) => res.once('close', () => resolve())));
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    closed: (index) => closedSignals[index] ?? Promise.reject(new Error(`no request ${index}`)),
  };
}

/** A raw TCP server, for responses node:http would not produce (close-delimited bodies, like Orthanc's). */
async function startRawServer(respond: (socket: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('data', () => respond(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(
  baseUrl: string,
  options: { requestTimeoutMs?: number; stallTimeoutMs?: number } = {},
): DicomwebClient {
  const c = createDicomwebClient({ baseUrl, requestTimeoutMs: options.requestTimeoutMs ?? 1000, ...options });
  cleanups.push(() => c.close());
  return c;
}

function multipart(instances: Buffer[], close = true): Buffer {
  const pieces: Buffer[] = [];
  for (const instance of instances) {
    pieces.push(
      Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`),
      instance,
      Buffer.from('\r\n'),
    );
  }
  if (close) pieces.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(pieces);
}

/** Digests of the part bodies: cheap to compare, short to print when they differ. */
async function collect(result: RetrieveResult): Promise<string[]> {
  const digests: string[] = [];
  for await (const part of result.parts) digests.push(digest(Buffer.concat(await part.body.toArray())));
  return digests;
}

function digest(data: Buffer): string {
  return `${data.length}:${createHash('sha256').update(data).digest('hex').slice(0, 16)}`;
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/dicom+json' });
  res.end(JSON.stringify(body));
}

const STUDY_JSON = [
  {
    [Tag.StudyInstanceUID]: { vr: 'UI', Value: [STUDY] },
    [Tag.PatientName]: { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE' }] },
  },
];

describe('QIDO-RS', () => {
  it('searches studies with the right headers and query', async () => {
    const server = await startServer((_req, res) => json(res, STUDY_JSON));
    const store = client(`${server.url}/dicom-web/`);
    const studies = await store.searchStudies({
      PatientName: 'DOE^J* X',
      PatientID: 'P 1',
      StudyDate: '20240101-20241231',
      ModalitiesInStudy: 'CT',
      limit: 10,
      offset: 20,
      includefield: ['PatientBirthDate', 'StudyDescription'],
    });
    expect(studies).toEqual(STUDY_JSON);
    const [request] = server.requests;
    expect(request?.method).toBe('GET');
    expect(request?.headers.accept).toBe('application/dicom+json');
    expect(request?.headers['accept-encoding']).toBe('identity');
    const url = new URL(request?.url ?? '', server.url);
    expect(url.pathname).toBe('/dicom-web/studies');
    expect(request?.url).toContain('PatientName=DOE%5EJ*%20X'); // a space as %20, never '+'
    expect(url.searchParams.get('PatientName')).toBe('DOE^J* X');
    expect(url.searchParams.get('PatientID')).toBe('P 1');
    expect(url.searchParams.get('StudyDate')).toBe('20240101-20241231');
    expect(url.searchParams.get('ModalitiesInStudy')).toBe('CT');
    expect(url.searchParams.get('limit')).toBe('10');
    expect(url.searchParams.get('offset')).toBe('20');
    expect(url.searchParams.get('fuzzymatching')).toBe('false');
    expect(url.searchParams.getAll('includefield')).toEqual([
      'StudyDescription',
      'InstitutionName',
      'ModalitiesInStudy',
      'NumberOfStudyRelatedSeries',
      'NumberOfStudyRelatedInstances',
      'PatientBirthDate',
    ]);
  });

  it('builds series and instance search paths', async () => {
    const server = await startServer((_req, res) => json(res, []));
    const store = client(server.url);
    await store.searchSeries(STUDY, { Modality: 'MR' });
    await store.searchInstances(STUDY);
    await store.searchInstances(STUDY, SERIES, { limit: 500 });
    const urls = server.requests.map((r) => new URL(r.url, server.url));
    expect(urls.map((u) => u.pathname)).toEqual([
      `/studies/${STUDY}/series`,
      `/studies/${STUDY}/instances`,
      `/studies/${STUDY}/series/${SERIES}/instances`,
    ]);
    expect(urls[0]?.searchParams.get('Modality')).toBe('MR');
    expect(urls[0]?.searchParams.getAll('includefield')).toContain('NumberOfSeriesRelatedInstances');
    expect(urls[1]?.searchParams.getAll('includefield')).toEqual(
      expect.arrayContaining(['InstanceNumber', 'SOPClassUID', 'SeriesInstanceUID']),
    );
    expect(urls[2]?.searchParams.get('limit')).toBe('500');
  });

  it('returns [] for 204 and for an empty 200 body', async () => {
    let status = 204;
    const server = await startServer((_req, res) => {
      res.writeHead(status, status === 200 ? { 'content-type': 'application/dicom+json' } : {});
      res.end();
    });
    const store = client(server.url);
    expect(await store.searchStudies({ PatientID: 'none' })).toEqual([]);
    status = 200;
    expect(await store.searchStudies({ PatientID: 'none' })).toEqual([]);
  });

  it('validates UIDs and search keys before sending anything', async () => {
    const server = await startServer((_req, res) => json(res, []));
    const store = client(server.url);
    const badUids = ['', '1..2', '1.2.', '../../admin', '1.2.3/../x', '1.2?x=1', '1'.repeat(65), ' 1.2'];
    for (const uid of badUids) {
      await expect(store.searchSeries(uid), uid).rejects.toBeInstanceOf(DicomwebArgumentError);
      await expect(store.retrieveStudy(uid, { transferSyntax: '*' }), uid).rejects.toBeInstanceOf(
        DicomwebArgumentError,
      );
    }
    await expect(store.searchInstances(STUDY, 'x')).rejects.toThrow(/invalid SeriesInstanceUID/);
    await expect(store.retrieveStudy(STUDY, { transferSyntax: 'jpeg' })).rejects.toThrow(/transferSyntax/);
    await expect(store.searchStudies({ StudyDate: '2024-01-01' })).rejects.toThrow(/StudyDate/);
    await expect(store.searchStudies({ limit: -1 })).rejects.toThrow(/limit/);
    await expect(store.searchStudies({ PatientName: 'a\r\nb' })).rejects.toThrow(/PatientName/);
    await expect(store.searchStudies({ includefield: ['a&b=c'] })).rejects.toThrow(/includefield/);
    expect(server.requests).toHaveLength(0);
  });

  it('maps 404, 5xx, 429 and other statuses to the package errors', async () => {
    let status = 404;
    const server = await startServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('no');
    });
    const store = client(server.url);
    await expect(store.searchSeries(STUDY)).rejects.toBeInstanceOf(DicomwebNotFoundError);
    for (const [code, retryable] of [
      [503, true],
      [500, true],
      [429, true],
      [501, false],
    ] as const) {
      status = code;
      const error = await store.searchStudies().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DicomwebUnavailableError);
      expect(error).toMatchObject({ status: code, retryable });
    }
    status = 401;
    await expect(store.searchStudies()).rejects.toMatchObject({ name: 'DicomwebResponseError', status: 401 });
  });

  it('rejects a wrong content type and unparseable or non-array JSON', async () => {
    let reply: [string, string] = ['text/html', '<html></html>'];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': reply[0] });
      res.end(reply[1]);
    });
    const store = client(server.url);
    await expect(store.searchStudies()).rejects.toThrow(/expected application\/dicom\+json/);
    reply = ['application/dicom+json', '[{"0020000D": '];
    await expect(store.searchStudies()).rejects.toBeInstanceOf(DicomwebResponseError);
    reply = ['application/dicom+json; charset=utf-8', '{"not": "an array"}'];
    await expect(store.searchStudies()).rejects.toThrow(/JSON array/);
    reply = ['application/json', '[]'];
    expect(await store.searchStudies()).toEqual([]);
  });

  it('reports a refused connection as retryable DicomwebUnavailableError', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const store = client(`http://127.0.0.1:${port}`);
    const error = await store.searchStudies().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomwebUnavailableError);
    expect(error).toMatchObject({ retryable: true, cause: { code: 'ECONNREFUSED' } });
    const retrieveError = await store.retrieveStudy(STUDY, { transferSyntax: '*' }).catch((e: unknown) => e);
    expect(retrieveError).toMatchObject({ name: 'DicomwebUnavailableError', retryable: true });
  });

  it('limits the whole QIDO exchange, body included, to requestTimeoutMs', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/dicom+json' });
      res.write('['); // ...and never more
    });
    const store = client(server.url, { requestTimeoutMs: 200 });
    const started = Date.now();
    const error = await store.searchStudies().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomwebUnavailableError);
    expect(error).toMatchObject({
      retryable: true,
      message: expect.stringMatching(/timed out after 200 ms/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await server.closed(0); // the request was cancelled, not left hanging
  });

  it('fails when the store sends no headers within requestTimeoutMs', async () => {
    const server = await startServer(() => undefined);
    const store = client(server.url, { requestTimeoutMs: 200 });
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toMatchObject({
      name: 'DicomwebUnavailableError',
      retryable: true,
    });
  });

  it('passes the caller abort reason through and cancels the request', async () => {
    const server = await startServer(() => undefined);
    const store = client(server.url, { requestTimeoutMs: 5000 });
    const controller = new AbortController();
    const pending = store.searchStudies({}, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reason = new Error('client went away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await server.closed(0);
    await expect(store.searchStudies({}, { signal: controller.signal })).rejects.toBe(reason);
    expect(server.requests).toHaveLength(1);
  });

  it('sends credentials of the base URL as Basic auth, never in the request line', async () => {
    const server = await startServer((_req, res) => json(res, []));
    const store = client(server.url.replace('http://', 'http://orthanc:s%40cret@'));
    await store.searchStudies();
    expect(server.requests[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('orthanc:s@cret').toString('base64')}`,
    );
    expect(server.requests[0]?.url).not.toContain('cret');
    expect(() => createDicomwebClient({ baseUrl: `${server.url}?token=x`, requestTimeoutMs: 1000 })).toThrow(
      DicomwebArgumentError,
    );
  });
});

describe('WADO-RS', () => {
  it('retrieves a study with one media range and identity encoding', async () => {
    const instances = [Buffer.from('DICM-one'), Buffer.alloc(300_000, 5), Buffer.from('three\r\n--')];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': MULTIPART_TYPE });
      res.end(multipart(instances));
    });
    const store = client(`${server.url}/dicom-web`);
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*' });
    expect(result.headers['content-type']).toBe(MULTIPART_TYPE);
    expect(await collect(result)).toEqual(instances.map(digest));
    await store.retrieveStudy(STUDY, { transferSyntax: '1.2.840.10008.1.2.4.70' }).then(collect);
    const [study, series] = server.requests;
    expect(study?.url).toBe(`/dicom-web/studies/${STUDY}`);
    expect(study?.headers.accept).toBe('multipart/related; type="application/dicom"; transfer-syntax=*');
    expect(study?.headers['accept-encoding']).toBe('identity');
    expect(series?.url).toBe(`/dicom-web/studies/${STUDY}`);
    expect(series?.headers.accept).toBe(
      'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.70',
    );
  });

  it('streams a close-delimited response (as Orthanc sends it) to the end', async () => {
    const instances = [Buffer.from('first'), Buffer.from('second')];
    const url = await startRawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${MULTIPART_TYPE}\r\nConnection: close\r\n\r\n`);
      socket.end(multipart(instances));
    });
    const store = client(url);
    expect(await collect(await store.retrieveStudy(STUDY, { transferSyntax: '*' }))).toEqual(
      instances.map(digest),
    );
  });

  it('throws MultipartTruncatedError when the connection closes before the closing boundary', async () => {
    const url = await startRawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: ${MULTIPART_TYPE}\r\nConnection: close\r\n\r\n`);
      const body = multipart([Buffer.from('complete instance'), Buffer.from('half of an instance')], false);
      socket.end(body.subarray(0, body.length - 10));
    });
    const store = client(url);
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*' });
    const received: string[] = [];
    const error = await (async () => {
      for await (const part of result.parts)
        received.push(Buffer.concat(await part.body.toArray()).toString());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MultipartTruncatedError);
    expect(received).toEqual(['complete instance']);
  });

  it('fails a body that stalls for stallTimeoutMs', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': MULTIPART_TYPE });
      res.write(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nsome bytes`);
    });
    const store = client(server.url, { requestTimeoutMs: 1000, stallTimeoutMs: 150 });
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*' });
    const started = Date.now();
    const error = await collect(result).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomwebUnavailableError);
    expect(error).toMatchObject({ retryable: true, cause: { code: 'UND_ERR_BODY_TIMEOUT' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('maps 404, 206, a non-multipart and a compressed answer', async () => {
    let reply: [number, string] = [404, 'text/plain'];
    let encoding: Record<string, string> = {};
    const server = await startServer((_req, res) => {
      res.writeHead(reply[0], { 'content-type': reply[1], ...encoding });
      res.end('{}');
    });
    const store = client(server.url);
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toBeInstanceOf(
      DicomwebNotFoundError,
    );
    reply = [206, MULTIPART_TYPE];
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toMatchObject({
      name: 'DicomwebResponseError',
      status: 206,
    });
    reply = [200, 'application/dicom+json'];
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toThrow(/multipart\/related/);
    reply = [200, 'multipart/related; type="application/octet-stream"; boundary=x'];
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toThrow(/application\/dicom/);
    reply = [200, 'multipart/related; type="application/dicom"'];
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toThrow(/boundary/);
    reply = [200, MULTIPART_TYPE];
    encoding = { 'content-encoding': 'gzip' };
    await expect(store.retrieveStudy(STUDY, { transferSyntax: '*' })).rejects.toThrow(
      /Content-Encoding "gzip"/,
    );
  });

  it('aborting mid-stream fails the part with the reason and closes the connection', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': MULTIPART_TYPE });
      res.write(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nfirst bytes`);
    });
    const store = client(server.url, { requestTimeoutMs: 5000 });
    const controller = new AbortController();
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*', signal: controller.signal });
    const first = await result.parts.next();
    if (first.done) throw new Error('expected a part');
    const body = first.value.body;
    const chunk = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    expect(chunk.toString()).toBe('first bytes');
    const reason = new Error('patient closed the tab');
    const bodyError = new Promise((resolve) => body.once('error', resolve));
    controller.abort(reason);
    expect(await bodyError).toBe(reason);
    await expect(result.parts.next()).rejects.toBe(reason);
    await server.closed(0);
  });

  it('abandoning the parts cancels the request', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': MULTIPART_TYPE });
      res.write(multipart([Buffer.from('one')], false));
      res.write(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nmore to come`);
    });
    const store = client(server.url, { requestTimeoutMs: 5000 });
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*' });
    for await (const part of result.parts) {
      expect(Buffer.concat(await part.body.toArray()).toString()).toBe('one');
      break;
    }
    await server.closed(0);
  });

  it('cancels the request when the parts are returned before the first read', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': MULTIPART_TYPE });
      res.write(`--${BOUNDARY}\r\n`);
    });
    const store = client(server.url, { requestTimeoutMs: 5000 });
    const result = await store.retrieveStudy(STUDY, { transferSyntax: '*' });
    await result.parts.return(undefined);
    await server.closed(0);
  });
});

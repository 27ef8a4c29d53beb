import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { Agent, type Dispatcher, request } from 'undici';
import { boundaryFromContentType, parseContentType } from './content-type.parser.js';
import type { DicomJsonObject } from './dicom-json.helpers.js';
import { assertDicomUid, isDicomUid } from './dicom-uid.validation.js';
import {
  DicomwebArgumentError,
  DicomwebError,
  DicomwebNotFoundError,
  DicomwebResponseError,
  DicomwebUnavailableError,
} from './dicomweb.errors.js';
import {
  type InstanceSearchQuery,
  instanceQueryString,
  type SeriesSearchQuery,
  type StudySearchQuery,
  seriesQueryString,
  studyQueryString,
} from './dicomweb.query.js';
import { MultipartFormatError, MultipartTruncatedError } from './multipart.errors.js';
import { type MultipartPart, parseMultipart } from './multipart.parser.js';
import type { StoreAuthorization } from './store-auth.js';

export interface DicomwebClientOptions {
  /** The store's DICOMweb root, e.g. `http://orthanc:8042/dicom-web`; user:password in it become Basic auth. */
  baseUrl: string;
  /** Connect and response-headers timeout of every request, and the whole-request limit of QIDO-RS. */
  requestTimeoutMs: number;
  /** WADO-RS bodies fail after this long without a byte (default: requestTimeoutMs). */
  stallTimeoutMs?: number;
  /** Use this undici dispatcher instead of a private Agent (tests, shared pools); it is not closed by close(). */
  dispatcher?: Dispatcher;
  /** Extra headers for every request, e.g. `{ authorization: 'Bearer ...' }`. */
  headers?: Record<string, string>;
  /** PEM CA certificate(s) trusted for the store's TLS, in addition to Node's built-in ones. */
  ca?: string;
  /**
   * The Authorization of every request from a token source (store-auth.ts: OAuth 2.0 client
   * credentials, a Google service account, or a fixed value); a 401 makes it fetch a new token
   * and the request is sent once more. Not together with user:password or an authorization header.
   */
  auth?: StoreAuthorization | null;
}

export interface CallOptions {
  /** Aborting cancels the request (and a streaming body); the call rejects with `signal.reason`. */
  signal?: AbortSignal;
}

export interface RetrieveOptions extends CallOptions {
  /** `'*'` for the instances as stored, or a transfer syntax UID the store should transcode to. */
  transferSyntax: string;
}

export interface RetrieveResult {
  /** The instances as multipart parts; throws MultipartTruncatedError if the response was cut. */
  parts: AsyncGenerator<MultipartPart, void, undefined>;
  /** Response headers of the store. */
  headers: Record<string, string | string[] | undefined>;
}

export interface RelayOptions extends CallOptions {
  accept: string;
  method?: 'GET' | 'HEAD';
}

export interface RelayResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as the store sends it; destroy it if you do not read it to the end. */
  body: Readable;
}

// What relay() passes upstream: UIDs and the fixed WADO-RS words only, so nothing else can be smuggled in.
const RELAY_PATH =
  /^\/studies\/[0-9.]{1,64}(\/series\/[0-9.]{1,64}(\/instances\/[0-9.]{1,64}(\/frames\/[0-9]{1,6}(,[0-9]{1,6}){0,63})?)?)?(\/rendered|\/thumbnail)?$/;

export interface DicomwebClient {
  searchStudies(query?: StudySearchQuery, options?: CallOptions): Promise<DicomJsonObject[]>;
  searchSeries(studyUid: string, options?: SeriesSearchQuery & CallOptions): Promise<DicomJsonObject[]>;
  searchInstances(
    studyUid: string,
    seriesUid?: string,
    options?: InstanceSearchQuery & CallOptions,
  ): Promise<DicomJsonObject[]>;
  retrieveStudy(studyUid: string, options: RetrieveOptions): Promise<RetrieveResult>;
  /** WADO-RS of one series of a study (its instances in the store's order). */
  retrieveSeries(studyUid: string, seriesUid: string, options: RetrieveOptions): Promise<RetrieveResult>;
  /** WADO-RS of one instance (a multipart body of one part). */
  retrieveInstance(
    studyUid: string,
    seriesUid: string,
    sopInstanceUid: string,
    options: RetrieveOptions,
  ): Promise<RetrieveResult>;
  /** WADO-RS metadata (DICOM JSON) of a study, or of one of its series. */
  retrieveMetadata(studyUid: string, seriesUid?: string, options?: CallOptions): Promise<DicomJsonObject[]>;
  /**
   * A GET (or HEAD) of a WADO-RS resource below `/studies/`, answered as the store answers it: status,
   * headers and the body as a stream, for a gateway that relays it with backpressure. `path` must be made
   * of validated UIDs (it is checked again here); `accept` is sent as the only media range.
   */
  relay(path: string, options: RelayOptions): Promise<RelayResult>;
  /** Closes the private Agent (not a dispatcher passed in). */
  close(): Promise<void>;
}

// QIDO answers are read whole; a cap keeps a broad search from exhausting memory.
const MAX_QIDO_BYTES = 32 * 1024 * 1024;
const ERROR_BODY_DRAIN_BYTES = 64 * 1024;

// Errors that say the store is (perhaps briefly) out of reach: worth another try.
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Creates a QIDO-RS / WADO-RS client for one DICOMweb store.
 * @example const store = createDicomwebClient({ baseUrl: 'http://orthanc:8042/dicom-web', requestTimeoutMs: 10_000 });
 */
export function createDicomwebClient(options: DicomwebClientOptions): DicomwebClient {
  const { base, authorization } = parseBaseUrl(options.baseUrl);
  const requestTimeoutMs = positiveMs(options.requestTimeoutMs, 'requestTimeoutMs');
  const stallTimeoutMs = positiveMs(options.stallTimeoutMs ?? requestTimeoutMs, 'stallTimeoutMs');
  const ownAgent = options.dispatcher
    ? null
    : new Agent({
        connect: {
          timeout: requestTimeoutMs,
          ...(options.ca ? { ca: [...tls.rootCertificates, options.ca] } : {}),
        },
        headersTimeout: requestTimeoutMs,
        bodyTimeout: stallTimeoutMs,
      });
  const dispatcher: Dispatcher = options.dispatcher ?? (ownAgent as Agent);
  const headerAuth = Object.keys(lowerCaseKeys(options.headers ?? {})).includes('authorization');
  if ([Boolean(authorization), headerAuth, Boolean(options.auth)].filter(Boolean).length > 1)
    throw new Error(
      'the store URL carries user:password, an Authorization header or a token source: use one',
    );
  const auth = options.auth ?? null;

  /**
   * Sends a request with the store's authorization; with a token source, a 401 makes it fetch a
   * new token and the request goes once more (the refused answer's body is drained).
   */
  async function send(
    signal: AbortSignal | undefined,
    issue: (headers: Record<string, string>) => Promise<Dispatcher.ResponseData>,
  ): Promise<Dispatcher.ResponseData> {
    if (!auth) return issue(fixedHeaders);
    const first = await auth.header(signal);
    const res = await issue({ ...fixedHeaders, authorization: first });
    if (res.statusCode !== 401) return res;
    await drain(res.body);
    auth.rejected(first);
    return issue({ ...fixedHeaders, authorization: await auth.header(signal) });
  }
  const fixedHeaders: Record<string, string> = {
    ...lowerCaseKeys(options.headers ?? {}),
    ...(authorization ? { authorization } : {}),
    // undici does not decompress, and the parser and the zip need the bytes exactly as stored.
    'accept-encoding': 'identity',
  };

  async function qido(
    path: string,
    query: string,
    signal: AbortSignal | undefined,
  ): Promise<DicomJsonObject[]> {
    signal?.throwIfAborted();
    const what = `GET ${path}`;
    // One deadline for the whole exchange, body included: a store that trickles a search answer
    // must not hold a page render for longer than requestTimeoutMs.
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort(
        new DicomwebUnavailableError(`DICOMweb ${what} timed out after ${requestTimeoutMs} ms`, {
          retryable: true,
        }),
      );
    }, requestTimeoutMs);
    const forwardAbort = () => deadline.abort(signal?.reason);
    signal?.addEventListener('abort', forwardAbort, { once: true });
    try {
      const res = await send(deadline.signal, (headers) =>
        request(query === '' ? `${base}${path}` : `${base}${path}?${query}`, {
          dispatcher,
          method: 'GET',
          headers: { ...headers, accept: 'application/dicom+json' },
          signal: deadline.signal,
          headersTimeout: requestTimeoutMs,
          bodyTimeout: requestTimeoutMs,
        }),
      );
      if (res.statusCode === 204) {
        await drain(res.body);
        return [];
      }
      if (res.statusCode !== 200) {
        await drain(res.body);
        throw statusError(res.statusCode, what);
      }
      const contentType = headerValue(res.headers['content-type']);
      if (contentType !== undefined && !isJsonMediaType(contentType)) {
        await drain(res.body);
        throw new DicomwebResponseError(
          `DICOMweb ${what}: expected application/dicom+json, got "${contentType}"`,
          {
            status: res.statusCode,
          },
        );
      }
      const text = await readText(res.body, what);
      if (text.trim() === '') return [];
      if (contentType === undefined) {
        throw new DicomwebResponseError(`DICOMweb ${what}: response has a body but no Content-Type`);
      }
      return parseDicomJsonArray(text, what);
    } catch (error) {
      throw classify(error, deadline.signal, what);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forwardAbort);
    }
  }

  async function wado(path: string, options: RetrieveOptions): Promise<RetrieveResult> {
    const { transferSyntax, signal } = options;
    if (transferSyntax !== '*' && !isDicomUid(transferSyntax)) {
      throw new DicomwebArgumentError('invalid transferSyntax: expected "*" or a transfer syntax UID');
    }
    signal?.throwIfAborted();
    const what = `GET ${path}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await send(signal, (headers) =>
        request(`${base}${path}`, {
          dispatcher,
          method: 'GET',
          // Exactly one media range: a server must not pick a rendition we did not ask for, and
          // an explicit transfer-syntax stops Orthanc from transcoding to Explicit VR Little Endian.
          headers: {
            ...headers,
            accept: `multipart/related; type="application/dicom"; transfer-syntax=${transferSyntax}`,
          },
          signal,
          headersTimeout: requestTimeoutMs,
          // The body of a large study may legitimately take hours; only silence is an error.
          bodyTimeout: stallTimeoutMs,
        }),
      );
    } catch (error) {
      throw classify(error, signal, what);
    }
    const { body } = res;
    try {
      if (res.statusCode !== 200) {
        // 206 is "some instances missing": for a patient download that is a failure, not a study.
        await drain(body);
        throw statusError(res.statusCode, what);
      }
      const encoding = headerValue(res.headers['content-encoding'])?.trim().toLowerCase();
      if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
        // The parser would find no boundary in compressed bytes; say what actually went wrong.
        throw new DicomwebResponseError(`DICOMweb ${what}: unrequested Content-Encoding "${encoding}"`, {
          status: res.statusCode,
        });
      }
      const boundary = multipartBoundary(headerValue(res.headers['content-type']), what);
      const parts = parseMultipart(
        bodySource(body, (error) => classify(error, signal, what)),
        boundary,
      );
      return { parts, headers: res.headers };
    } catch (error) {
      discard(body);
      throw classify(error, signal, what);
    }
  }

  return {
    searchStudies(query = {}, callOptions = {}) {
      return run(() => qido('/studies', studyQueryString(query), callOptions.signal));
    },
    searchSeries(studyUid, seriesOptions = {}) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        return qido(`/studies/${studyUid}/series`, seriesQueryString(seriesOptions), seriesOptions.signal);
      });
    },
    searchInstances(studyUid, seriesUid, instanceOptions = {}) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        if (seriesUid !== undefined) assertDicomUid(seriesUid, 'SeriesInstanceUID');
        const path =
          seriesUid === undefined
            ? `/studies/${studyUid}/instances`
            : `/studies/${studyUid}/series/${seriesUid}/instances`;
        return qido(path, instanceQueryString(instanceOptions), instanceOptions.signal);
      });
    },
    retrieveStudy(studyUid, retrieveOptions) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        return wado(`/studies/${studyUid}`, retrieveOptions);
      });
    },
    retrieveSeries(studyUid, seriesUid, retrieveOptions) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        assertDicomUid(seriesUid, 'SeriesInstanceUID');
        return wado(`/studies/${studyUid}/series/${seriesUid}`, retrieveOptions);
      });
    },
    retrieveInstance(studyUid, seriesUid, sopInstanceUid, retrieveOptions) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        assertDicomUid(seriesUid, 'SeriesInstanceUID');
        assertDicomUid(sopInstanceUid, 'SOPInstanceUID');
        return wado(`/studies/${studyUid}/series/${seriesUid}/instances/${sopInstanceUid}`, retrieveOptions);
      });
    },
    retrieveMetadata(studyUid, seriesUid, callOptions = {}) {
      return run(() => {
        assertDicomUid(studyUid, 'StudyInstanceUID');
        if (seriesUid !== undefined) assertDicomUid(seriesUid, 'SeriesInstanceUID');
        const path =
          seriesUid === undefined
            ? `/studies/${studyUid}/metadata`
            : `/studies/${studyUid}/series/${seriesUid}/metadata`;
        return qido(path, '', callOptions.signal);
      });
    },
    relay(path, relayOptions) {
      return run(async () => {
        if (!RELAY_PATH.test(path)) throw new DicomwebArgumentError('relay: not a WADO-RS path of UIDs');
        if (!/^[\x20-\x7e]{1,200}$/.test(relayOptions.accept)) {
          throw new DicomwebArgumentError('relay: invalid accept header');
        }
        const { signal } = relayOptions;
        signal?.throwIfAborted();
        const what = `GET ${path}`;
        try {
          const res = await send(signal, (headers) =>
            request(`${base}${path}`, {
              dispatcher,
              method: relayOptions.method ?? 'GET',
              headers: { ...headers, accept: relayOptions.accept },
              signal,
              headersTimeout: requestTimeoutMs,
              bodyTimeout: stallTimeoutMs,
            }),
          );
          res.body.on('error', () => undefined);
          return { status: res.statusCode, headers: res.headers, body: res.body };
        } catch (error) {
          throw classify(error, signal, what);
        }
      });
    },
    async close() {
      await ownAgent?.close();
    },
  };
}

/** Runs `fn` so that a synchronous validation error becomes a rejection, like every other failure. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  return fn();
}

function parseBaseUrl(raw: string): { base: string; authorization: string | undefined } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DicomwebArgumentError('invalid DICOMweb baseUrl: not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DicomwebArgumentError('invalid DICOMweb baseUrl: expected http: or https:');
  }
  // Only UIDs and search keys go into request URLs; a query or fragment here would ride along.
  if (url.search !== '' || url.hash !== '') {
    throw new DicomwebArgumentError('invalid DICOMweb baseUrl: it must not have a query or fragment');
  }
  let authorization: string | undefined;
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, authorization };
}

function positiveMs(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new DicomwebArgumentError(`invalid ${name}: expected a positive integer of milliseconds`);
  }
  return value;
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isJsonMediaType(contentType: string): boolean {
  const { mediaType } = parseContentType(contentType);
  return mediaType === 'application/dicom+json' || mediaType === 'application/json';
}

function multipartBoundary(contentType: string | undefined, what: string): string {
  try {
    const { mediaType, params } = parseContentType(contentType ?? '');
    if (mediaType !== 'multipart/related') {
      throw new MultipartFormatError(`expected multipart/related, got "${mediaType || 'nothing'}"`);
    }
    if (params.type !== undefined && params.type.toLowerCase() !== 'application/dicom') {
      throw new MultipartFormatError(`expected parts of type application/dicom, got "${params.type}"`);
    }
    return boundaryFromContentType(contentType);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new DicomwebResponseError(`DICOMweb ${what}: ${reason}`, { status: 200, cause: error });
  }
}

function statusError(status: number, what: string): DicomwebError {
  if (status === 404) return new DicomwebNotFoundError(`DICOMweb ${what}: not found in the store`);
  if (status >= 500 || status === 429) {
    // 501 and 505 describe the server, not its current state: trying again cannot help.
    const retryable = status !== 501 && status !== 505;
    return new DicomwebUnavailableError(`DICOMweb ${what}: store answered ${status}`, { retryable, status });
  }
  return new DicomwebResponseError(`DICOMweb ${what}: unexpected status ${status}`, { status });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects fail with an AggregateError of one error per address.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  return undefined;
}

/** Maps what undici or the parser threw to this package's errors; a caller's abort passes unchanged. */
function classify(error: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (
    error instanceof DicomwebError ||
    error instanceof MultipartTruncatedError ||
    error instanceof MultipartFormatError ||
    error instanceof DicomwebArgumentError
  ) {
    return error;
  }
  if (signal?.aborted) return signal.reason;
  const code = errorCode(error);
  if (code === undefined || code === 'UND_ERR_INVALID_ARG') return error; // a bug here, not the store
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new DicomwebUnavailableError(`DICOMweb ${what}: the store stopped sending data`, {
      retryable: true,
      cause: error,
    });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new DicomwebUnavailableError(`DICOMweb ${what}: the store did not answer in time (${code})`, {
      retryable: true,
      cause: error,
    });
  }
  return new DicomwebUnavailableError(`DICOMweb ${what}: store unreachable (${code})`, {
    retryable: TRANSIENT_CODES.has(code),
    cause: error,
  });
}

/** Destroys a response body we are done with; undici reports that as an error nobody needs. */
function discard(body: Readable): void {
  body.on('error', () => undefined).destroy();
}

async function drain(body: Dispatcher.ResponseData['body']): Promise<void> {
  // Reading a little of an error body lets the connection be reused; past the limit undici closes it.
  await body.dump({ limit: ERROR_BODY_DRAIN_BYTES }).catch(() => undefined);
}

async function readText(body: Readable, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_QIDO_BYTES) {
      throw new DicomwebResponseError(`DICOMweb ${what}: response larger than ${MAX_QIDO_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseDicomJsonArray(text: string, what: string): DicomJsonObject[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DicomwebResponseError(`DICOMweb ${what}: response is not valid JSON`, {
      status: 200,
      cause: error,
    });
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))
  ) {
    throw new DicomwebResponseError(`DICOMweb ${what}: expected a JSON array of DICOM objects`, {
      status: 200,
    });
  }
  return parsed as DicomJsonObject[];
}

/**
 * The response body as the parser's source: errors mapped to this package's errors, and closing
 * the iterator destroys the body, which cancels the HTTP request even while a read is pending.
 */
function bodySource(body: Readable, mapError: (error: unknown) => unknown): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      return {
        async next() {
          try {
            return await iterator.next();
          } catch (error) {
            throw mapError(error);
          }
        },
        async return() {
          discard(body);
          void iterator.return?.()?.catch(() => undefined);
          return { done: true, value: undefined };
        },
      };
    },
  };
}

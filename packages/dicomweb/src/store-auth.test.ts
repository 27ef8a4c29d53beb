import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { freePort, type OrthancInstance, startOrthanc, writeSyntheticStudy } from '@studylink/testkit';
import Provider from 'oidc-provider';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tag } from './dicom-json.helpers.js';
import { createDicomwebClient } from './dicomweb.client.js';
import { DicomwebUnavailableError } from './dicomweb.errors.js';
import { createStoreAuthorization, parseServiceAccountKey, type StoreAuthSpec } from './store-auth.js';

// Stores that need OAuth, for real: oidc-provider (a certified OAuth 2.0 / OpenID Connect server)
// issues client-credentials tokens, and Orthanc sits behind a small proxy that lets a request
// through only when the token endpoint's introspection says its bearer token is active.
const CLIENT_ID = 'studylink-store-client';
const CLIENT_SECRET = randomBytes(24).toString('base64url');
const PROXY_SECRET = randomBytes(24).toString('base64url');

let orthanc: OrthancInstance;
let provider: Provider;
let issuerServer: Server;
let issuer: string;
let proxy: Server;
let proxyUrl: string;
let studyUid: string;
/** Token requests the token endpoint answered, by grant type. */
const grants: string[] = [];
/** Each request the store proxy saw: the bearer it carried and what it answered. */
const storeSeen: { bearer: string; status: number }[] = [];
/** JWT bearer tokens issued by the Google-style endpoint below, valid while in this set. */
const googleTokens = new Set<string>();

const readBody = async (req: IncomingMessage) => {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
};

async function listenOn(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Asks the token endpoint's introspection whether `token` is active (RFC 7662), as a store does. */
async function active(token: string): Promise<boolean> {
  if (googleTokens.has(token)) return true;
  const res = await fetch(`${issuer}/token/introspection`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`store-proxy:${PROXY_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return res.ok && ((await res.json()) as { active?: boolean }).active === true;
}

beforeAll(async () => {
  orthanc = await startOrthanc();
  const dir = `${orthanc.dir}/oauth-study`;
  const study = await writeSyntheticStudy({
    dir,
    patientName: 'OAUTH^Store',
    patientId: 'OAUTH1',
    series: 1,
    instancesPerSeries: 2,
  });
  for (const file of study.files) await orthanc.upload(file);
  studyUid = study.studyInstanceUid;

  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'dicomweb',
      },
      {
        client_id: 'store-proxy',
        client_secret: PROXY_SECRET,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
      },
    ],
    scopes: ['dicomweb'],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      devInteractions: { enabled: false },
    },
    ttl: { ClientCredentials: 300 },
  });
  provider.on('grant.success', (ctx) => grants.push(String(ctx.oidc.params?.grant_type)));
  const providerCallback = provider.callback();
  issuerServer = createServer(async (req, res) => {
    // The Google-style token endpoint (RFC 7523 JWT bearer), verified with the account's public key.
    if (req.url === '/google/token') return googleTokenEndpoint(req, res);
    providerCallback(req, res);
  });
  await new Promise<void>((r) => issuerServer.listen(port, '127.0.0.1', r));

  proxy = createServer(async (req, res) => {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!bearer || !(await active(bearer))) {
      storeSeen.push({ bearer, status: 401 });
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
      return;
    }
    // Streamed through, as a gateway would (Orthanc ends a study's answer by closing).
    const upstream = httpRequest(`${orthanc.dicomwebUrl}${req.url?.replace(/^\/dicom-web/, '')}`, {
      headers: { accept: req.headers.accept ?? '*/*', connection: 'close' },
    });
    upstream.on('response', (answer) => {
      storeSeen.push({ bearer, status: answer.statusCode ?? 0 });
      res.writeHead(answer.statusCode ?? 502, {
        'content-type': answer.headers['content-type'] ?? 'application/octet-stream',
      });
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    upstream.end();
  });
  proxyUrl = `http://127.0.0.1:${await listenOn(proxy)}/dicom-web`;
}, 120_000);

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  await new Promise((r) => issuerServer?.close(r));
  await orthanc?.stop();
});

// ------------------------------------------------------------------ Google's JWT bearer flow

/** The Google endpoint's clock: the test's, as a real server's agrees with the client's. */
let endpointNow = () => Date.now();
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const SERVICE_ACCOUNT = 'studylink@hospital-project.iam.gserviceaccount.com';

async function googleTokenEndpoint(req: IncomingMessage, res: ServerResponse) {
  const form = new URLSearchParams(await readBody(req));
  const refuse = (why: string) =>
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: 'invalid_grant', why }));
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('grant_type');
  const [h, c, s] = (form.get('assertion') ?? '').split('.');
  if (!h || !c || !s) return refuse('not a JWT');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
  const signed = verify('RSA-SHA256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url'));
  const nowS = Math.floor(endpointNow() / 1000);
  if (header.alg !== 'RS256' || !signed) return refuse('signature');
  if (claims.iss !== SERVICE_ACCOUNT || claims.aud !== `${issuer}/google/token`) return refuse('iss/aud');
  if (claims.scope !== 'https://www.googleapis.com/auth/cloud-healthcare') return refuse('scope');
  if (Math.abs(claims.iat - nowS) > 300 || claims.exp - claims.iat > 3600) return refuse('times');
  grants.push('jwt-bearer');
  const token = randomBytes(24).toString('base64url');
  googleTokens.add(token);
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
}

// ------------------------------------------------------------------ the tests

/** A clock the test moves. */
function clock(start = Date.now()) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const clientCredentials: StoreAuthSpec = {
  kind: 'client-credentials',
  tokenUrl: '',
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  scope: 'dicomweb',
};

describe('OAuth 2.0 client credentials against oidc-provider, a store that checks the bearer', () => {
  it('fetches a token for the first request, keeps it, and fetches another once it is about to expire', async () => {
    const time = clock();
    const auth = createStoreAuthorization(
      { ...clientCredentials, tokenUrl: `${issuer}/token` },
      { now: time.now },
    );
    const store = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth });
    const before = grants.length;
    const found = await store.searchStudies({ StudyInstanceUID: studyUid });
    expect(found.map((s) => s[Tag.StudyInstanceUID]?.Value?.[0])).toEqual([studyUid]);
    expect(grants.slice(before)).toEqual(['client_credentials']);
    const firstBearer = storeSeen.at(-1)?.bearer;

    time.advance(200_000); // 300 s tokens: still well before the refresh point
    await store.searchSeries(studyUid);
    expect(grants.length - before).toBe(1);
    expect(storeSeen.at(-1)).toEqual({ bearer: firstBearer, status: 200 });

    time.advance(80_000); // within a minute of expiry: refreshed before use
    const metadata = await store.retrieveMetadata(studyUid);
    expect(metadata).toHaveLength(2);
    expect(grants.slice(before)).toEqual(['client_credentials', 'client_credentials']);
    expect(storeSeen.at(-1)?.bearer).not.toBe(firstBearer);
    await store.close();
  });

  it('a 401 makes it fetch a new token once and send the request once more', async () => {
    const auth = createStoreAuthorization({ ...clientCredentials, tokenUrl: `${issuer}/token` });
    const store = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth });
    await store.searchStudies({ StudyInstanceUID: studyUid });
    const revoked = storeSeen.at(-1)?.bearer as string;
    // The token dies at the authorization server before its time (revoked), as a store would see.
    const revoke = await fetch(`${issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token: revoked }).toString(),
    });
    expect(revoke.status).toBe(200);
    const before = { grants: grants.length, seen: storeSeen.length };
    expect(await store.retrieveMetadata(studyUid)).toHaveLength(2);
    expect(grants.length - before.grants).toBe(1);
    expect(storeSeen.slice(before.seen).map((s) => [s.bearer === revoked, s.status])).toEqual([
      [true, 401],
      [false, 200],
    ]);
    await store.close();
  });

  it('a store that keeps refusing gets one retry, not a loop; a refused client secret is a clear error without it', async () => {
    const auth = createStoreAuthorization({ ...clientCredentials, tokenUrl: `${issuer}/token` });
    // Orthanc itself, which refuses any Authorization it was not configured with? It has none: use
    // a store URL whose proxy never accepts, to count the attempts.
    const never = createServer((_req, res) => res.writeHead(401).end());
    const url = `http://127.0.0.1:${await listenOn(never)}/dicom-web`;
    const store = createDicomwebClient({ baseUrl: url, requestTimeoutMs: 10_000, auth });
    const before = grants.length;
    await expect(store.searchStudies()).rejects.toThrow(/401/);
    expect(grants.length - before).toBe(2);
    await store.close();
    await new Promise((r) => never.close(r));

    const wrong = createStoreAuthorization({
      ...clientCredentials,
      tokenUrl: `${issuer}/token`,
      clientSecret: 'not-the-secret-9b3f0c',
    });
    const refused = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth: wrong });
    const error = await refused.searchStudies().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomwebUnavailableError);
    expect((error as Error).message).toMatch(/token endpoint .* answered HTTP 401 \(invalid_client\)/);
    expect((error as Error).message).not.toContain('not-the-secret');
    await refused.close();
  });
});

describe("Google's JWT bearer flow (a service-account key file)", () => {
  it('signs an RS256 assertion the token endpoint verifies with the public key, and uses the token', async () => {
    const keyFile = JSON.stringify({
      type: 'service_account',
      client_email: SERVICE_ACCOUNT,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      private_key_id: 'k1',
      token_uri: `${issuer}/google/token`,
    });
    const key = parseServiceAccountKey(keyFile);
    const time = clock();
    endpointNow = time.now;
    const auth = createStoreAuthorization({ kind: 'google-service-account', key }, { now: time.now });
    const store = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth });
    const before = grants.length;
    expect(await store.searchStudies({ StudyInstanceUID: studyUid })).toHaveLength(1);
    await store.searchSeries(studyUid);
    expect(grants.slice(before)).toEqual(['jwt-bearer']);
    time.advance(3_600_000);
    await store.searchSeries(studyUid);
    expect(grants.slice(before)).toEqual(['jwt-bearer', 'jwt-bearer']);
    await store.close();
  });

  it('refuses a key file that is not one, without quoting it', () => {
    expect(() => parseServiceAccountKey('{"client_email":"a@b","token_uri":"https://x/t"}')).toThrow(
      /no private_key/,
    );
    expect(() =>
      parseServiceAccountKey(
        '{"client_email":"a@b","token_uri":"https://x/t","private_key":"secret-ish-text"}',
      ),
    ).toThrow(/not a PEM private key/);
    const message = (() => {
      try {
        parseServiceAccountKey(
          '{"client_email":"a@b","token_uri":"https://x/t","private_key":"secret-ish-text"}',
        );
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).not.toContain('secret-ish-text');
  });
});

describe('no log line holds a token or a secret', () => {
  it('logs the errors a service would log (pino, err serialiser) without token or secret', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const tokens: string[] = [];
    const auth = createStoreAuthorization({ ...clientCredentials, tokenUrl: `${issuer}/token` });
    const store = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth });
    await store.searchStudies({ StudyInstanceUID: studyUid });
    tokens.push(storeSeen.at(-1)?.bearer as string);
    // What the services log on a store failure: the error, with its cause chain.
    const down = createStoreAuthorization({
      ...clientCredentials,
      tokenUrl: `http://127.0.0.1:${await freePort()}/token`,
    });
    const unreachable = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 2_000, auth: down });
    const err = await unreachable.searchStudies().catch((e: unknown) => e);
    log.error({ err }, 'store search failed');
    const wrongSecret = `wrong-${CLIENT_SECRET}`;
    const wrong = createStoreAuthorization({
      ...clientCredentials,
      tokenUrl: `${issuer}/token`,
      clientSecret: wrongSecret,
    });
    const refused = createDicomwebClient({ baseUrl: proxyUrl, requestTimeoutMs: 10_000, auth: wrong });
    log.error({ err: await refused.searchStudies().catch((e: unknown) => e) }, 'store search failed');
    log.info({ auth, store }, 'objects a careless line might log');
    expect(lines.length).toBe(3);
    const text = lines.join('\n');
    for (const secret of [
      CLIENT_SECRET,
      wrongSecret,
      ...tokens,
      Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64'),
    ])
      expect(text).not.toContain(secret);
    await Promise.all([store.close(), unreachable.close(), refused.close()]);
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebClient } from './dicomweb.client.js';

// A store behind TLS signed by a hospital's own CA, that wants a bearer token: DICOMWEB_CA_FILE and
// DICOMWEB_AUTHORIZATION, as both services pass them to the client.
const run = promisify(execFile);
let dir: string;
let ca: string;
let server: Server;
let base: string;
const seen: Array<string | undefined> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'studylink-store-tls-'));
  const o = (f: string) => join(dir, f);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Hospital Test CA',
    '-keyout',
    o('ca.key'),
    '-out',
    o('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    o('store.key'),
    '-out',
    o('store.csr'),
  ]);
  await writeFile(o('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    o('store.csr'),
    '-CA',
    o('ca.pem'),
    '-CAkey',
    o('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    o('ext.cnf'),
    '-out',
    o('store.pem'),
  ]);
  ca = await readFile(o('ca.pem'), 'utf8');
  server = createServer(
    { key: await readFile(o('store.key')), cert: await readFile(o('store.pem')) },
    (req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer s3cret-store-token') {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('store access with a custom CA and an Authorization header', () => {
  it('reaches the store with both, and sends the header on every request', async () => {
    const client = createDicomwebClient({
      baseUrl: base,
      requestTimeoutMs: 5000,
      ca,
      headers: { authorization: 'Bearer s3cret-store-token' },
    });
    try {
      expect(await client.searchStudies({})).toEqual([]);
      expect(seen.at(-1)).toBe('Bearer s3cret-store-token');
    } finally {
      await client.close();
    }
  });

  it('refuses the store without the CA (an unknown issuer), and is refused without the header', async () => {
    const noCa = createDicomwebClient({
      baseUrl: base,
      requestTimeoutMs: 5000,
      headers: { authorization: 'Bearer s3cret-store-token' },
    });
    await expect(noCa.searchStudies({})).rejects.toThrow();
    await noCa.close();
    const noHeader = createDicomwebClient({ baseUrl: base, requestTimeoutMs: 5000, ca });
    await expect(noHeader.searchStudies({})).rejects.toThrow(/401/);
    await noHeader.close();
  });

  it('will not take Basic auth in the URL and an Authorization header at once', () => {
    expect(() =>
      createDicomwebClient({
        baseUrl: base.replace('https://', 'https://u:p@'),
        requestTimeoutMs: 5000,
        headers: { Authorization: 'Bearer x' },
      }),
    ).toThrow(/use one/);
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INTERNAL_SECRET_HEADER, INTERNAL_SENDER_PATH } from '@studylink/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSenderSource } from '../src/grant.client.js';

// A stand-in token service internal listener on loopback: counts reads, answers what `answer` says.
let server: Server;
let baseUrl: string;
let reads = 0;
let answer: { status: number; body: unknown } = { status: 200, body: null };
const SENDER = {
  institution: 'Klinikum Süd',
  department: 'Radiologie',
  logoUrl: null,
  phone: '+49 89 1234',
  email: 'radiologie@example.org',
};

beforeAll(async () => {
  server = createServer((req, res) => {
    reads += 1;
    if (req.url !== INTERNAL_SENDER_PATH || req.headers[INTERNAL_SECRET_HEADER] !== 's3cret') {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('createSenderSource', () => {
  it('reads the sender once per ttl, shared by concurrent callers, and again after it', async () => {
    let now = 1_000;
    const sender = createSenderSource({
      baseUrl,
      secret: 's3cret',
      timeoutMs: 2_000,
      ttlMs: 30_000,
      now: () => now,
    });
    answer = { status: 200, body: SENDER };
    reads = 0;
    const [a, b] = await Promise.all([sender(), sender()]);
    expect(a).toEqual(SENDER);
    expect(b).toEqual(SENDER);
    now += 29_999;
    await sender();
    expect(reads).toBe(1);
    answer = { status: 200, body: { ...SENDER, phone: '+49 89 9999' } };
    now += 1;
    expect((await sender())?.phone).toBe('+49 89 9999');
    expect(reads).toBe(2);
  });

  it('an unreadable sender (refused, malformed, wrong secret) is null, never an error', async () => {
    let now = 0;
    const sender = createSenderSource({
      baseUrl,
      secret: 's3cret',
      timeoutMs: 2_000,
      ttlMs: 10,
      now: () => now,
    });
    answer = { status: 503, body: { error: { code: 'database_unavailable' } } };
    expect(await sender()).toBeNull();
    now += 10;
    answer = { status: 200, body: { institution: 42 } };
    expect(await sender()).toBeNull();
    const wrong = createSenderSource({ baseUrl, secret: 'other', timeoutMs: 2_000, ttlMs: 10 });
    expect(await wrong()).toBeNull();
    const down = createSenderSource({
      baseUrl: 'http://127.0.0.1:1',
      secret: 's3cret',
      timeoutMs: 500,
      ttlMs: 10,
    });
    expect(await down()).toBeNull();
  });
});

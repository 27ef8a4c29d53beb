import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

// Issue 17, probe item 3: a client that announces a body, sends two bytes of it and goes away is a
// client abort, logged at info level; never "the database is not answering".
let h: Harness;
let token: string;
const UID = '1.2.826.0.1.3680043.8.498.17.3';

beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: UID });
  h = await startHarness(source);
  token = (await readJson(await h.api('PUT', `/api/v1/studies/${UID}/token`, { verification: 'pin' }))).token;
});
afterAll(async () => {
  await h.close();
});

/** Waits (bounded) until `check` holds, polling the harness's own records. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setImmediate(r));
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

const lines = () =>
  h.logs.map((l) => JSON.parse(l) as { level: string; msg: string; path?: string; method?: string });

describe.each([
  ['the second-factor form', 'POST', () => `/token?${token}`, 'application/x-www-form-urlencoded', 'pi'],
] as const)('%s, 2 of 100 bytes, then the client leaves', (_label, method, path, type, sent) => {
  it('is logged at info level as a client abort, not as a database outage', async () => {
    const before = h.logs.length;
    const url = new URL(h.url);
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    socket.write(
      `${method} ${path()} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${h.adminKey}\r\n` +
        `Sec-Fetch-Site: same-origin\r\nContent-Type: ${type}\r\nContent-Length: 100\r\n\r\n${sent}`,
    );
    // The service has started on the request (it looked the link or the key up) before the client leaves.
    const queriesBefore = h.queries.length;
    await until(() => h.queries.length > queriesBefore, 'the request to reach the service');
    socket.destroy();
    const mine = () => lines().slice(before);
    await until(
      () => mine().some((l) => l.msg === 'request completed' && l.method === method),
      'the request line',
    );
    const logged = mine();
    expect(logged.some((l) => l.level === 'info' && /client went away/.test(l.msg))).toBe(true);
    expect(logged.filter((l) => l.level !== 'info' && l.level !== 'debug')).toEqual([]);
    expect(JSON.stringify(logged)).not.toMatch(/database|DatabaseUnavailable|unhandled/i);
    const done = logged.find((l) => l.msg === 'request completed' && l.method === method) as unknown as {
      status: number;
    };
    expect(done.status).toBe(400);
  });
});

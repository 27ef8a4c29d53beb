import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttp } from './net.helpers.js';
import { collectProcessOutput } from './process.helpers.js';
import { newUid, newUidOfLength } from './uid.js';

describe('freePort', () => {
  it('returns a port that can be bound on 127.0.0.1', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(1024);
    const server = createServer();
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(port, '127.0.0.1', resolve),
    );
    await new Promise((resolve) => server.close(resolve));
  });

  it("under vitest: the worker's own block below the ephemeral range, never the same port twice", async () => {
    const pool = Number(process.env.VITEST_POOL_ID);
    expect(Number.isInteger(pool) && pool > 0).toBe(true);
    const base = 20_000 + ((pool - 1) % 12) * 1_000;
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    for (const p of ports) expect(p >= base && p < base + 1_000, String(p)).toBe(true);
    expect(new Set(ports).size).toBe(50);
    // Handed out one after another (no stack had bound them yet): all different.
    const serial: number[] = [];
    for (let i = 0; i < 50; i++) serial.push(await freePort());
    expect(new Set(serial).size).toBe(50);
  });
});

describe('waitForHttp', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  it('waits until a server starts answering', async () => {
    const port = await freePort();
    setTimeout(() => {
      server = createServer((_req, res) => res.end('ok')).listen(port, '127.0.0.1');
    }, 300);
    const res = await waitForHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 5_000, intervalMs: 50 });
    expect(res.status).toBe(200);
  });

  it('keeps waiting through 5xx answers and gives up with the last one', async () => {
    const port = await freePort();
    server = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    }).listen(port, '127.0.0.1');
    await expect(waitForHttp(`http://127.0.0.1:${port}/`, 400)).rejects.toThrow(
      /within 400 ms \(last: HTTP 503\)/,
    );
  });
});

describe('collectProcessOutput', () => {
  it('captures both streams and waits for a line', async () => {
    const child = spawn(process.execPath, [
      '-e',
      "console.error('warming up'); setTimeout(() => console.log('listening on 1234'), 100)",
    ]);
    const out = collectProcessOutput(child);
    expect(await out.waitFor(/listening on \d+/)).toBe('listening on 1234');
    expect(out.text()).toContain('warming up');
  });

  it('rejects when the process exits without printing the line', async () => {
    const child = spawn(process.execPath, ['-e', "console.log('bye'); process.exit(3)"]);
    const out = collectProcessOutput(child);
    await expect(out.waitFor(/never/)).rejects.toThrow(/exited \(code 3\)[\s\S]*bye/);
  });
});

describe('UIDs', () => {
  it('newUid makes distinct 2.25 UIDs from 128-bit values', () => {
    const uids = new Set(Array.from({ length: 1000 }, newUid));
    expect(uids.size).toBe(1000);
    for (const uid of uids) {
      expect(uid).toMatch(/^2\.25\.[1-9]\d*$/);
      expect(uid.length).toBeLessThanOrEqual(64);
      expect(BigInt(uid.slice(5)) < 2n ** 128n).toBe(true);
    }
  });

  it('newUidOfLength hits every length from 6 to 64 with valid components', () => {
    for (let length = 6; length <= 64; length += 1) {
      const uid = newUidOfLength(length);
      expect(uid).toHaveLength(length);
      expect(uid).toMatch(/^2\.25\.[1-9]\d*(\.[1-9]\d*)?$/);
      expect(BigInt(uid.split('.')[2] ?? '') < 2n ** 128n).toBe(true);
    }
    expect(() => newUidOfLength(65)).toThrow();
  });
});

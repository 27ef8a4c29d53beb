import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config.parser.js';
import { metricsTokenOf } from './env.fields.js';
import { listen, type RunningServer } from './http.server.js';
import { createInternalApp } from './internal.app.js';
import { createServiceMetrics } from './metrics.js';

const INTERNAL_SECRET = 'i'.repeat(40);
const METRICS_TOKEN = 'm'.repeat(40);

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(100)));
});

async function start(metricsToken: string | null) {
  const app = createInternalApp({
    log: pino({ level: 'silent' }),
    secrets: [INTERNAL_SECRET],
    metrics: createServiceMetrics({ service: 'internal-app-test' }),
    metricsToken,
  });
  const server = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
  servers.push(server);
  return (authorization?: string) =>
    fetch(`http://127.0.0.1:${server.port}/metrics`, authorization ? { headers: { authorization } } : {});
}

describe('/metrics on the internal listener', () => {
  it('answers a scrape with METRICS_TOKEN and refuses the internal secret, a wrong token and none', async () => {
    const scrape = await start(METRICS_TOKEN);
    const ok = await scrape(`Bearer ${METRICS_TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('studylink_http_requests_total');
    for (const auth of [`Bearer ${INTERNAL_SECRET}`, `Bearer ${METRICS_TOKEN.slice(1)}`, undefined]) {
      const res = await scrape(auth);
      expect(res.status, auth ?? 'none').toBe(401);
      expect(await res.text()).not.toContain('studylink_');
    }
  });

  it('refuses every scrape while METRICS_TOKEN is unset, the internal secret included', async () => {
    const scrape = await start(null);
    for (const auth of [`Bearer ${INTERNAL_SECRET}`, undefined])
      expect((await scrape(auth)).status).toBe(401);
  });
});

describe('metricsTokenOf', () => {
  it('takes METRICS_TOKEN, and refuses one equal to an internal secret', () => {
    expect(metricsTokenOf({ INTERNAL_SECRET })).toBeNull();
    expect(metricsTokenOf({ INTERNAL_SECRET, METRICS_TOKEN })).toBe(METRICS_TOKEN);
    expect(() => metricsTokenOf({ INTERNAL_SECRET, METRICS_TOKEN: INTERNAL_SECRET })).toThrow(ConfigError);
    expect(() =>
      metricsTokenOf({ INTERNAL_SECRET, INTERNAL_SECRET_PREVIOUS: METRICS_TOKEN, METRICS_TOKEN }),
    ).toThrow(/must differ from INTERNAL_SECRET/);
  });
});

// The patient's viewer in a real browser (Debian's Chromium, headless, software GL) at a phone's
// viewport, against the real stack: nginx, both services, PostgreSQL, Orthanc with pydicom's samples.
import { type LoadedSample, loadSamples } from '@studylink/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordPageProblems, recordRequests, screenshot } from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

const PHONE = { width: 390, height: 844 };
// The e2e project is compiled without DOM types; functions run in the page reach it through this.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Dom = any;

let s: E2EStack;
let browser: Browser;
let phone: BrowserContext;
const tokensSeen: string[] = [];

beforeAll(async () => {
  [s, browser] = await Promise.all([
    startE2EStack('viewer-browser'),
    launchChromium(['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader']),
  ]);
  phone = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  phone.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  if (s) {
    const logs = await s.allLogs();
    for (const t of tokensSeen) expect(logs).not.toContain(t);
    await s.stop();
  }
});

async function issue(sample: LoadedSample): Promise<string> {
  const { token } = await s.issueToken(sample.studyInstanceUid);
  tokensSeen.push(token);
  return token;
}

/** Statistics of the viewport's canvas as the patient sees it: distinct grey levels and a checksum. */
async function canvasStats(page: Page): Promise<{ distinct: number; sum: number; width: number }> {
  return page.evaluate(() => {
    const doc = (globalThis as Dom).document;
    const c = doc.querySelector('#viewport canvas');
    if (!c) return { distinct: 0, sum: 0, width: 0 };
    const probe = doc.createElement('canvas');
    probe.width = c.width;
    probe.height = c.height;
    const g = probe.getContext('2d');
    g.drawImage(c, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, gr, b] = [d[i] as number, d[i + 1] as number, d[i + 2] as number];
      seen.add(r * 65536 + gr * 256 + b);
      sum = (sum * 31 + r + gr + b) % 1000000007;
    }
    return { distinct: seen.size, sum, width: c.width };
  });
}

describe('viewer on a phone', () => {
  it('renders a CT image in the canvas', async () => {
    const [ct] = (await loadSamples(s.orthanc, ['CT_small.dcm'])) as [LoadedSample];
    const token = await issue(ct);
    const page = await phone.newPage();
    const problems = recordPageProblems(page);
    const requests = recordRequests(page);
    page.on('console', (m) => console.log('console:', m.type(), m.text()));
    await page.goto(`${s.url}/token/viewer?${token}`);
    await page.waitForFunction(() => {
      const state = (globalThis as Dom).document.body.dataset.state;
      return state === 'ready' || state === 'error';
    });
    await page.waitForTimeout(1500);
    await screenshot(page, 'viewer-phone-ct');
    const stats = await canvasStats(page);
    console.log(
      stats,
      problems,
      requests.map((r) => r.url),
    );
    expect(stats.distinct).toBeGreaterThan(20);
  });
});

// The viewer on phones, in Debian's Chromium against the real stack: it fits every phone width in
// both orientations (a CT, the multi-syntax study, a study with a 200-character description,
// a very long name and many series, some without images); the first series' previews are labelled,
// replaced by full quality, and still step through every image once the connection is cut (a TCP
// proxy between the browser and nginx goes silent), also after a flaky link lost some of them (asked
// again); presets follow a manual window; data-light.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../scripts/stack.mjs';
import { launchChromium, recordPageProblems, screenshot } from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { type FaultProxy, startFaultProxy } from './support/fault-proxy.js';
import { startFlakyHttpProxy } from './support/flaky-http-proxy.js';
import { uploadCtStack, uploadMultiSyntaxStudy, uploadNonImageSeries } from './support/viewer-samples.js';

// biome-ignore lint/suspicious/noExplicitAny: the e2e project is compiled without DOM types
type Dom = any;

const SLICES = 60;
const SIZES = [320, 360, 390, 412].flatMap((w) => {
  const h = { 320: 568, 360: 740, 390: 844, 412: 915 }[w] as number;
  return [
    { width: w, height: h },
    { width: h, height: w },
  ];
});
const LONG_NAME = 'Wolfeschlegelsteinhausenbergerdorff-Montgomery^Maximiliana Theodora Alexandrina^von';
const LONG_DESCRIPTION =
  'CT THORAX ABDOMEN PELVIS WITH INTRAVENOUS CONTRAST, ARTERIAL AND PORTAL VENOUS PHASES, '
    .repeat(3)
    .slice(0, 200);

let s: E2EStack;
let browser: Browser;
let proxy: FaultProxy;
const tokens: Record<'ct' | 'multi' | 'long', string> = { ct: '', multi: '', long: '' };
let ct: { studyInstanceUid: string; seriesInstanceUids: string[] };

beforeAll(async () => {
  [s, browser] = await Promise.all([
    startE2EStack('viewer-phone'),
    launchChromium(['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader']),
  ]);
  proxy = await startFaultProxy(Number(new URL(s.url).port));
  ct = await uploadCtStack(s.orthanc, SLICES, 2);
  const multi = await uploadMultiSyntaxStudy(s.orthanc);
  const dir = await mkdtemp(join(tmpdir(), 'studylink-long-'));
  const long = await writeSyntheticStudy({
    dir,
    patientName: LONG_NAME,
    patientId: 'LONG-0001',
    studyDescription: LONG_DESCRIPTION,
    series: 6,
    instancesPerSeries: 6,
    rows: 256,
    columns: 256,
  });
  await uploadDirectory(s.orthanc, dir, 4);
  await rm(dir, { recursive: true, force: true });
  await uploadNonImageSeries(s.orthanc, {
    studyInstanceUid: long.studyInstanceUid,
    patientName: LONG_NAME,
    patientId: 'LONG-0001',
    firstSeriesNumber: 7,
  });
  tokens.ct = (await s.issueToken(ct.studyInstanceUid)).token;
  tokens.multi = (await s.issueToken(multi)).token;
  tokens.long = (await s.issueToken(long.studyInstanceUid)).token;
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  if (s) {
    const logs = await s.allLogs();
    for (const t of Object.values(tokens)) if (t) expect(logs).not.toContain(t);
    await s.stop();
  }
});

const data = (page: Page, key: string) =>
  page.evaluate((k) => (globalThis as Dom).document.getElementById('app').dataset[k] as string, key);

async function open(context: BrowserContext, token: string, base = s.url): Promise<Page> {
  const page = await context.newPage();
  if (process.env.VIEWER_DEBUG) page.on('console', (m) => console.log(`[${m.type()}] ${m.text()}`));
  await page.goto(`${base}/token/viewer?${token}`);
  await page.waitForFunction(() =>
    ['ready', 'error', 'gone'].includes((globalThis as Dom).document.body.dataset.state),
  );
  return page;
}

describe('fits every phone', () => {
  it.each(['ct', 'multi', 'long'] as const)(
    '%s study: no horizontal scroll at 320, 360, 390, 412 px, portrait and landscape; every control on screen',
    async (study) => {
      for (const size of SIZES) {
        const context = await browser.newContext({ viewport: size, isMobile: true, hasTouch: true });
        context.setDefaultTimeout(20_000);
        const page = await open(context, tokens[study]);
        const problems = recordPageProblems(page);
        expect(await page.evaluate(() => (globalThis as Dom).document.body.dataset.state)).toBe('ready');
        // Every series in the strip (the long study's non-image ones too) before measuring.
        await page.waitForFunction(() => (globalThis as Dom).document.getElementById('app').dataset.ready);
        const m = await page.evaluate(() => {
          const d = (globalThis as Dom).document;
          const w = (globalThis as Dom).innerWidth;
          const h = (globalThis as Dom).innerHeight;
          const controls = [...d.querySelectorAll('#tools button, #tools select, .bar a')].map((el: Dom) => {
            const r = el.getBoundingClientRect();
            return { id: el.id || el.className, left: r.left, right: r.right, bottom: r.bottom };
          });
          return { scrollWidth: d.documentElement.scrollWidth, w, h, controls };
        });
        const at = `${study} at ${size.width}×${size.height}`;
        expect(m.w, at).toBe(size.width);
        expect(m.scrollWidth, at).toBeLessThanOrEqual(m.w);
        for (const c of m.controls) {
          expect(c.left, `${at}: ${c.id}`).toBeGreaterThanOrEqual(0);
          expect(c.right, `${at}: ${c.id}`).toBeLessThanOrEqual(m.w + 0.5);
          expect(c.bottom, `${at}: ${c.id}`).toBeLessThanOrEqual(m.h + 0.5);
        }
        if (study === 'long' && size.width === 390) await screenshot(page, 'viewer-phone-long');
        if (study === 'long' && size.height === 390) await screenshot(page, 'viewer-phone-long-landscape');
        // The fallbacks the multi-syntax study starts from: Orthanc cannot cut out big endian
        // frames (502, the viewer then reads the file) nor render JPEG 2000 (406: no preview).
        const fallback = /^(502 .*\/frames\/1|406 .*\/frames\/1\/rendered|XMLHttpRequest)$/;
        expect(
          problems.filter((p) => !(study === 'multi' && fallback.test(p))),
          at,
        ).toEqual([]);
        await context.close();
      }
    },
  );

  it('lists the series without images with what they are, and says when every series is ready', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await open(context, tokens.long);
    await page.waitForFunction(() => (globalThis as Dom).document.getElementById('app').dataset.ready);
    // The reports (the link shows them: the setup's default) are read beside the images (issue 20).
    await page.waitForFunction(() => (globalThis as Dom).document.getElementById('app').dataset.report);
    const others = await page
      .locator('#series .thumb.other')
      .evaluateAll((els: Dom[]) =>
        els.map((e) => [
          e.dataset.kind,
          e.querySelector('span').textContent,
          e.querySelector('small').textContent,
        ]),
      );
    expect(others).toEqual([
      ['SEG', 'Segmentation · Liver segmentation', 'not an image: in the zip file'],
      // The study's report and its PDF are named as reports, and open (issue 20).
      ['SR', 'Report · Radiology report', 'Show the report'],
      ['DOC', 'Report (PDF) · Referral letter', 'Open the report (PDF)'],
      ['KO', 'Key images · Key images', 'not an image: in the zip file'],
    ]);
    expect(await page.locator('#series button:not(.report)').count()).toBe(6);
    await expect
      .poll(() => page.textContent('#series-progress'), { timeout: 30_000 })
      .toBe('6 of 6 series ready');
    expect(await page.textContent('#patient')).toContain('Wolfeschlegelsteinhausenbergerdorff');
    await context.close();
  });
});

describe('previews', () => {
  it('labels a preview as such, replaces it with the full image, and windowing works on that', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    // The frames at full fidelity are held back until the preview has been seen.
    const held: Route[] = [];
    let hold = true;
    await page.route(/\/token\/dicomweb\/.*\/frames\/[0-9,]+$/, (route) => {
      if (hold) held.push(route);
      else void route.continue();
    });
    await page.goto(`${s.url}/token/viewer?${tokens.ct}`);
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.quality === 'preview',
    );
    expect(await page.textContent('#quality')).toBe('Preview (reduced quality, not for diagnosis)');
    expect(await page.isVisible('#preview')).toBe(true);
    expect(
      await page.evaluate(() => (globalThis as Dom).document.getElementById('preview').naturalWidth),
    ).toBe(128);
    expect(await page.textContent('#counter')).toBe(`image 1 / ${SLICES}`);
    hold = false;
    for (const r of held.splice(0)) await r.continue();
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.quality === 'full',
    );
    expect(await page.textContent('#quality')).toBe('Full quality');
    expect(await page.isVisible('#preview')).toBe(false);

    // A preset, then a drag of the window by hand: the menu no longer names the preset.
    await page.selectOption('#preset', 'lung');
    await page.click('#tool-wl');
    const box = (await page.locator('#viewport').boundingBox()) as {
      x: number;
      y: number;
      width: number;
      height: number;
    };
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 40, { steps: 6 });
    await page.mouse.up();
    await expect.poll(() => page.inputValue('#preset')).toBe('custom');
    expect(await page.textContent('#preset option:checked')).toBe('Custom');
    await page.selectOption('#preset', 'bone');
    expect(await page.locator('#preset option[value="custom"]').count()).toBe(0);
    await context.close();
  });

  it('data-light: previews only (the browser says it saves data) until the patient asks for full quality', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    context.setDefaultTimeout(20_000);
    await context.addInitScript(() => {
      Object.defineProperty((globalThis as Dom).navigator, 'connection', {
        value: { saveData: true, effectiveType: '4g' },
      });
    });
    const page = await context.newPage();
    const frames: string[] = [];
    if (process.env.VIEWER_DEBUG) page.on('console', (m) => console.log(`[${m.type()}] ${m.text()}`));
    page.on('request', (r) => {
      if (/\/frames\/[0-9,]+$/.test(r.url())) frames.push(r.url());
    });
    await page.goto(`${s.url}/token/viewer?${tokens.ct}`);
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.previews,
      null,
      {
        timeout: 60_000,
      },
    );
    expect(await page.getAttribute('#data-light', 'aria-pressed')).toBe('true');
    expect(await data(page, 'quality')).toBe('preview');
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.core === 'ready',
    );
    await page.waitForTimeout(500);
    expect(frames).toEqual([]);
    await page.click('#load-full');
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.quality === 'full',
    );
    expect(frames).toHaveLength(1);
    await page.focus('#viewport');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => data(page, 'quality')).toBe('preview');
    // Switched off: everything at full fidelity, the image on screen first.
    await page.click('#data-light');
    await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.quality === 'full',
    );
    await page.waitForFunction(
      (n) => (globalThis as Dom).document.getElementById('app').dataset.loaded === `${n}/${n}`,
      SLICES,
      { timeout: 60_000 },
    );
    await context.close();
  });

  it('once the first series’ previews are in, steps through every image with the connection cut', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    context.setDefaultTimeout(20_000);
    const page = await open(context, tokens.ct, proxy.url());
    const first = await page.waitForFunction(
      () => (globalThis as Dom).document.getElementById('app').dataset.previews,
    );
    expect(ct.seriesInstanceUids).toContain(await first.jsonValue());
    // The link goes silent (a tunnel): nothing reaches the browser any more, new connections neither.
    proxy.stall();
    await page.focus('#viewport');
    const seen = new Set<string>();
    let previewsShown = 0;
    for (let i = 1; i <= SLICES; i++) {
      if (i > 1) await page.keyboard.press('ArrowDown');
      await expect.poll(() => page.textContent('#counter')).toBe(`image ${i} / ${SLICES}`);
      const shown = await page.evaluate(() => {
        const d = (globalThis as Dom).document;
        return { quality: d.getElementById('app').dataset.quality, src: d.getElementById('preview').src };
      });
      expect(['preview', 'full'], `image ${i}`).toContain(shown.quality);
      if (shown.quality === 'preview') {
        expect(shown.src).toMatch(/^blob:/);
        seen.add(shown.src);
        previewsShown += 1;
      }
    }
    // Each image its own preview, not one image again and again.
    expect(seen.size).toBe(previewsShown);
    proxy.resume();
    await context.close();
  });

  it('asks again for the previews a flaky link lost; then steps through every image with the connection cut', async () => {
    // Browser → a TCP proxy that can go silent → an HTTP proxy that spoils the first request for one
    // preview in three (a proxy's 502, or the answer cut off halfway) → nginx.
    // Frames at full fidelity too: the first one cut off (nothing answered: the same path again, not
    // the next one), then one in four spoiled either way.
    let previewRequests = 0;
    let frameRequests = 0;
    const flaky = await startFlakyHttpProxy(Number(new URL(s.url).port), (path) => {
      if (/\/frames\/[0-9]+$/.test(path)) {
        frameRequests += 1;
        if (frameRequests === 1) return 'cut_mid_body';
        if (frameRequests % 4 !== 2) return null;
        return frameRequests % 8 === 2 ? 'bad_gateway' : 'cut_mid_body';
      }
      if (!path.endsWith('/rendered')) return null;
      previewRequests += 1;
      if (previewRequests % 3 !== 1) return null;
      return previewRequests % 2 === 1 ? 'bad_gateway' : 'cut_mid_body';
    });
    const link = await startFaultProxy(flaky.port);
    try {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
      context.setDefaultTimeout(30_000);
      const page = await open(context, tokens.ct, link.url());
      const first = String(
        await (
          await page.waitForFunction(
            () => (globalThis as Dom).document.getElementById('app').dataset.previews,
          )
        ).jsonValue(),
      );
      expect(ct.seriesInstanceUids).toContain(first);
      const ofFirst = () =>
        [...flaky.spoiled()].filter(
          ([path]) => path.includes(`/series/${first}/`) && path.endsWith('/rendered'),
        );
      // Both ways of failing met the first series' previews, and each lost preview was asked again
      // and arrived (without that, the image had only its frame at full fidelity, if that came).
      await expect
        .poll(() => new Set(ofFirst().map(([, v]) => v.spoil)))
        .toEqual(new Set(['bad_gateway', 'cut_mid_body']));
      await expect
        .poll(
          () =>
            ofFirst()
              .filter(([, v]) => !v.later.includes(200))
              .map(([p]) => p),
          { timeout: 20_000 },
        )
        .toEqual([]);
      expect(ofFirst().length).toBeGreaterThanOrEqual(10);
      // The first series at full fidelity, along the frames as stored, every lost frame asked again.
      await page.waitForFunction(
        (n) => (globalThis as Dom).document.getElementById('app').dataset.loaded === `${n}/${n}`,
        SLICES,
        { timeout: 60_000 },
      );
      const frames = [...flaky.spoiled()].filter(
        ([path]) => path.includes(`/series/${first}/`) && /\/frames\/[0-9]+$/.test(path),
      );
      expect(new Set(frames.map(([, v]) => v.spoil))).toEqual(new Set(['bad_gateway', 'cut_mid_body']));
      expect(frames.filter(([, v]) => !v.later.includes(200)).map(([p]) => p)).toEqual([]);
      expect(await data(page, 'decodePath')).toBe('wadors');
      link.stall();
      await page.focus('#viewport');
      const seen = new Set<string>();
      for (let i = 1; i <= SLICES; i++) {
        if (i > 1) await page.keyboard.press('ArrowDown');
        await expect.poll(() => page.textContent('#counter')).toBe(`image ${i} / ${SLICES}`);
        const shown = await page.evaluate(() => {
          const d = (globalThis as Dom).document;
          return { quality: d.getElementById('app').dataset.quality, src: d.getElementById('preview').src };
        });
        expect(['preview', 'full'], `image ${i}`).toContain(shown.quality);
        if (shown.quality === 'preview') {
          expect(shown.src).toMatch(/^blob:/);
          expect(seen.has(shown.src), `image ${i} is its own preview`).toBe(false);
          seen.add(shown.src);
        }
      }
      link.resume();
      await context.close();
    } finally {
      await link.close();
      await flaky.close();
    }
  });
});

describe('screenshots', () => {
  it('copies the long study on a phone into docs/', async () => {
    await mkdir(join(ROOT, 'docs'), { recursive: true });
    for (const [from, to] of [
      ['viewer-phone-long', 'viewer-phone'],
      ['viewer-phone-long-landscape', 'viewer-phone-landscape'],
    ] as const)
      await copyFile(join(ROOT, 'e2e/artifacts/screenshots', `${from}.png`), join(ROOT, 'docs', `${to}.png`));
  });
});

// The patient page on phones (issue 20), in Debian's Chromium against the real stack: at 320, 360, 390
// and 412 px "View images" comes first, the width of the screen and on the first screenful; the zip
// comes second with its exact size (in the page's language) and a line saying what it is for; nothing
// scrolls sideways, with a very long name and a 200-character description too. A desktop keeps
// buttons of their own width, in the same order.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogue, translator } from '@studylink/i18n';
import { uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../services/token-service/src/patient/format.js';
import { launchChromium, recordPageProblems, SCREENSHOTS, seriousAxeViolations } from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { httpRequest } from './support/patient-http.js';

const PHONES = [
  { width: 320, height: 568 },
  { width: 360, height: 740 },
  { width: 390, height: 844 },
  { width: 412, height: 915 },
];
const LONG_NAME = 'Wolfeschlegelsteinhausenbergerdorff-Montgomery^Maximiliana Theodora Alexandrina^von';
const LONG_DESCRIPTION =
  'CT THORAX ABDOMEN PELVIS WITH INTRAVENOUS CONTRAST, ARTERIAL AND PORTAL VENOUS PHASES, '
    .repeat(3)
    .slice(0, 200);

let s: E2EStack;
let browser: Browser;
const studies: Record<'plain' | 'long', { token: string; zipBytes: number }> = {
  plain: { token: '', zipBytes: 0 },
  long: { token: '', zipBytes: 0 },
};

async function addStudy(patientName: string, studyDescription: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-phone-'));
  const study = await writeSyntheticStudy({
    dir,
    patientName,
    patientId: 'PHONE-0001',
    studyDescription,
    series: 2,
    instancesPerSeries: 3,
    rows: 128,
    columns: 128,
  });
  await uploadDirectory(s.orthanc, dir);
  await rm(dir, { recursive: true, force: true });
  return study.studyInstanceUid;
}

beforeAll(async () => {
  [s, browser] = await Promise.all([startE2EStack('patient-phone'), launchChromium()]);
  const plain = await addStudy('DOE^JANE', 'CT HEAD');
  const long = await addStudy(LONG_NAME, LONG_DESCRIPTION);
  for (const [key, uid] of [
    ['plain', plain],
    ['long', long],
  ] as const) {
    const token = (await s.issueToken(uid)).token;
    // The zip as the patient would get it: its length is the size the page must show.
    const zip = await httpRequest(`${s.url}/token/study.zip?${token}`);
    expect(zip.status).toBe(200);
    studies[key] = { token, zipBytes: zip.body.length };
  }
});

afterAll(async () => {
  await browser?.close();
  if (s) {
    const logs = await s.allLogs();
    for (const { token } of Object.values(studies)) if (token) expect(logs).not.toContain(token);
    await s.stop();
  }
});

interface Layout {
  innerWidth: number;
  innerHeight: number;
  scrollWidth: number;
  card: Box;
  view: Box;
  zip: Box;
  note: Box & { text: string };
  size: string;
  name: string;
  description: string;
}
interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
  width: number;
}

async function layoutOf(page: Page): Promise<Layout> {
  // A string, not a function: the e2e project is compiled without DOM types.
  return (await page.evaluate(`(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width };
    };
    const q = (sel) => document.querySelector(sel);
    const card = q('main.card');
    const style = getComputedStyle(card);
    const content = box(card);
    content.left += parseFloat(style.paddingLeft);
    content.right -= parseFloat(style.paddingRight);
    content.width = content.right - content.left;
    const dds = [...document.querySelectorAll('.details dd')];
    return {
      innerWidth: window.innerWidth,
      innerHeight: window.innerHeight,
      scrollWidth: document.documentElement.scrollWidth,
      card: content,
      view: box(q('.actions .view a')),
      zip: box(q('.actions .download a[download]')),
      note: { ...box(q('.actions .zip-note')), text: q('.actions .zip-note').textContent },
      size: q('.actions .download a[download] .size')?.textContent ?? '',
      name: dds[0]?.textContent ?? '',
      description: dds[1]?.textContent ?? '',
    };
  })()`)) as Layout;
}

describe('the patient page on a phone', () => {
  it.each(['plain', 'long'] as const)(
    '%s study at 320, 360, 390, 412 px: no sideways scroll; View images first, full width, on the first screen; the zip second with its size and what it is for',
    async (study) => {
      const { token, zipBytes } = studies[study];
      const en = translator('en');
      for (const size of PHONES) {
        const context = await browser.newContext({
          viewport: size,
          isMobile: true,
          hasTouch: true,
          deviceScaleFactor: 2,
          locale: 'en-GB',
          bypassCSP: true,
        });
        const page = await context.newPage();
        const problems = recordPageProblems(page);
        await page.goto(`${s.url}/token?${token}`);
        const m = await layoutOf(page);
        const at = `${study} ${size.width}px`;
        expect(m.scrollWidth, at).toBeLessThanOrEqual(m.innerWidth);
        // "View images" leads: above the zip, as wide as the card's content, wholly on the first screen.
        expect(m.view.bottom, at).toBeLessThan(m.zip.top);
        expect(m.view.left, at).toBeCloseTo(m.card.left, 0);
        expect(m.view.width, at).toBeGreaterThanOrEqual(m.card.width - 1);
        expect(m.view.bottom, at).toBeLessThanOrEqual(m.innerHeight);
        expect(m.view.bottom - m.view.top, at).toBeGreaterThanOrEqual(48);
        // The zip: second, with its exact size in the page's number format and the line below it.
        expect(m.zip.width, at).toBeGreaterThanOrEqual(m.card.width - 1);
        expect(m.size, at).toBe(formatBytes(zipBytes, en));
        expect(m.note.text, at).toBe(catalogue('en')['page.zipNote']);
        expect(m.note.top, at).toBeGreaterThanOrEqual(m.zip.bottom);
        expect(m.note.right, at).toBeLessThanOrEqual(m.innerWidth);
        if (study === 'long') {
          expect(m.name, at).toBe(
            'Wolfeschlegelsteinhausenbergerdorff-Montgomery, Maximiliana Theodora Alexandrina von',
          );
          expect(m.description, at).toBe(LONG_DESCRIPTION);
        }
        if (size.width === 320) expect(await seriousAxeViolations(page), at).toEqual([]);
        if (study === 'plain' && size.width === 390) {
          // docs/patient-page-phone.png is this screenshot: the first screenful.
          await mkdir(SCREENSHOTS, { recursive: true });
          await page.screenshot({ path: join(SCREENSHOTS, 'patient-page-phone.png') });
        }
        expect(problems, at).toEqual([]);
        await context.close();
      }
    },
  );

  it('the size follows the page language (French at 360 px)', async () => {
    const { token } = studies.plain;
    // The zip in French (its README.txt is in the patient's language, so its length differs).
    const zip = await httpRequest(`${s.url}/token/study.zip?${token}`, {
      headers: { 'accept-language': 'fr-FR' },
    });
    expect(zip.status).toBe(200);
    const zipBytes = zip.body.length;
    const context = await browser.newContext({
      viewport: { width: 360, height: 740 },
      isMobile: true,
      hasTouch: true,
      locale: 'fr-FR',
    });
    const page = await context.newPage();
    await page.goto(`${s.url}/token?${token}`);
    expect(await page.getAttribute('html', 'lang')).toBe('fr');
    const m = await layoutOf(page);
    expect(m.size).toBe(formatBytes(zipBytes, translator('fr')));
    expect(m.note.text).toBe(catalogue('fr')['page.zipNote']);
    expect(m.view.bottom).toBeLessThan(m.zip.top);
    expect(m.scrollWidth).toBeLessThanOrEqual(m.innerWidth);
    await context.close();
  });
});

describe('the patient page on a desktop', () => {
  it('the same order, buttons of their own width, nothing sideways', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
    const page = await context.newPage();
    await page.goto(`${s.url}/token?${studies.plain.token}`);
    const m = await layoutOf(page);
    expect(m.scrollWidth).toBeLessThanOrEqual(m.innerWidth);
    expect(m.view.bottom).toBeLessThan(m.zip.top);
    expect(m.view.width).toBeLessThan(m.card.width / 2);
    expect(m.zip.width).toBeLessThan(m.card.width);
    expect(m.size).toBe(formatBytes(studies.plain.zipBytes, translator('en')));
    // docs/patient-page-desktop.png is this screenshot: the first screenful.
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'patient-page-desktop.png') });
    await context.close();
  });
});

// Issue 20, languages: every patient language (LANGUAGES, whatever it holds) in Chromium against the
// real stack (nginx, both services, PostgreSQL, Orthanc): the study page, the PIN form, the token
// service's and the export service's error pages, the viewer and the handout each in the language,
// with `lang` and `dir` set (Arabic and Hebrew right to left, mirrored), and axe clean; the birth-date
// form in Japanese, Chinese and Hebrew in the language's order, taking 1800-01-01.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogue, LANGUAGES, type Language, RTL_LANGUAGES, translator } from '@studylink/i18n';
import { uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordPageProblems, screenshot, seriousAxeViolations } from './support/browser.js';
import { type E2EStack, type Json, startE2EStack } from './support/e2e-stack.js';
import { localLink } from './support/patient-http.js';
import { tokenLeaksInLogs } from './support/token-leaks.js';
import { uploadCtStack } from './support/viewer-samples.js';

// The e2e project is compiled without DOM types; functions run in the page reach it through this.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Dom = any;

const PHONE = { width: 390, height: 844 };
const STAFF_USER = 'langadmin';
const STAFF_PASSWORD = 'e2e languages admin password';

let s: E2EStack;
let browser: Browser;
let staff: BrowserContext;
const tokens: string[] = [];
const pins: string[] = [];
const links = { page: '', pin: '', viewOnly: '' };
let viewerToken = '';
let pageStudy = '';
let oldStudy = '';

async function addStudy(patientName: string, birthDate: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-languages-'));
  const study = await writeSyntheticStudy({
    dir,
    patientName,
    patientId: patientName.slice(0, 8),
    series: 1,
    instancesPerSeries: 1,
    rows: 32,
    columns: 32,
    studyDescription: 'CT LANGUAGES',
    patientBirthDate: birthDate,
  });
  await uploadDirectory(s.orthanc, dir);
  return study.studyInstanceUid;
}

async function issue(uid: string, body: Json): Promise<Json> {
  const r = await s.api('PUT', `/api/v1/studies/${uid}/token`, body);
  if (r.status !== 201) throw new Error(`issue failed: ${r.status} ${JSON.stringify(r.json)}`);
  tokens.push(r.json.token);
  if (r.json.pin) pins.push(r.json.pin);
  return { ...r.json, link: localLink(r.json.url, s.url) };
}

/** A phone whose switcher cookie holds `lang` (the browser itself asks for German). */
async function phoneIn(lang: Language): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: PHONE,
    isMobile: true,
    hasTouch: true,
    locale: 'de-DE',
    // axe-core is injected as a script the page's CSP would refuse.
    bypassCSP: true,
  });
  context.setDefaultTimeout(20_000);
  await context.addCookies([
    { name: 'studylink_lang', value: lang, domain: new URL(s.url).hostname, path: '/token' },
  ]);
  return context;
}

/**
 * The fonts a page in `lang` asks for: Chinese a Simplified face before any Japanese one, Japanese
 * its own first and strict line breaking, Hebrew a Hebrew face. (The machine may have none of them:
 * what is checked is what the page asks of the browser.)
 */
async function expectScriptFonts(page: Page, lang: Language, what: string): Promise<void> {
  const style = (await page.evaluate(`(() => {
    const s = getComputedStyle(document.body);
    return { font: s.fontFamily, lineBreak: s.lineBreak };
  })()`)) as { font: string; lineBreak: string };
  const at = (face: string) => style.font.indexOf(face);
  if (lang === 'zh-Hans') {
    expect(at('"Noto Sans CJK SC"'), `${what} ${style.font}`).toBeGreaterThan(-1);
    expect(at('JP'), `${what} ${style.font}`).toBe(-1);
  } else if (lang === 'ja') {
    expect(at('"Noto Sans CJK JP"'), `${what} ${style.font}`).toBeGreaterThan(-1);
    expect(at(' SC'), `${what} ${style.font}`).toBe(-1);
    expect(style.lineBreak, what).toBe('strict');
  } else if (lang === 'he') {
    expect(at('"Noto Sans Hebrew"'), `${what} ${style.font}`).toBeGreaterThan(-1);
  }
}

/** `lang` and `dir` of the page, axe clean, and for right-to-left the h1 against the right edge. */
async function expectPageIn(page: Page, lang: Language, what: string): Promise<void> {
  const dir = RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr';
  expect(await page.getAttribute('html', 'lang'), `${lang} ${what}`).toBe(lang);
  expect(await page.getAttribute('html', 'dir'), `${lang} ${what}`).toBe(dir);
  expect(await seriousAxeViolations(page), `${lang} ${what}`).toEqual([]);
  await expectScriptFonts(page, lang, `${lang} ${what}`);
  // Where the heading's text sits in the card (the h1 box itself spans the card's width).
  const gaps = (await page.evaluate(`(() => {
    const h1 = document.querySelector('h1');
    const main = document.querySelector('main');
    if (!h1 || !main) return null;
    const range = document.createRange();
    range.selectNodeContents(h1);
    const text = range.getBoundingClientRect();
    const card = main.getBoundingClientRect();
    return { left: text.left - card.left, right: card.right - text.right };
  })()`)) as { left: number; right: number } | null;
  expect(gaps, `${lang} ${what}: a heading in a card`).not.toBeNull();
  // Nothing runs out of the card on a phone, however long the language's words.
  expect(
    Math.min(gaps?.left ?? -1, gaps?.right ?? -1),
    `${lang} ${what}: heading within the card`,
  ).toBeGreaterThanOrEqual(0);
  // The heading starts at the card's inline start: its right in rtl, its left in ltr (a heading that
  // wraps fills the line: both gaps are then the card's padding).
  if (dir === 'rtl') expect(gaps?.right, `${lang} ${what}`).toBeLessThanOrEqual(gaps?.left ?? 0);
  else expect(gaps?.left, `${lang} ${what}`).toBeLessThanOrEqual(gaps?.right ?? 0);
}

beforeAll(async () => {
  [s, browser] = await Promise.all([
    startE2EStack('patient-languages', {
      env: {
        INSTITUTION: 'St. Example Hospital',
        STAFF_ADMIN_USERNAME: STAFF_USER,
        STAFF_ADMIN_PASSWORD: STAFF_PASSWORD,
      },
    }),
    launchChromium(['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader']),
  ]);
  const [ct, pinStudy, viewOnlyStudy, old] = await Promise.all([
    uploadCtStack(s.orthanc, 3),
    addStudy('SPRACHE^PIA', '19700101'),
    addStudy('NURSEHEN^NINA', '19700102'),
    addStudy('ANCIENT^ADA', '18000101'),
  ]);
  pageStudy = ct.studyInstanceUid;
  oldStudy = old;
  const page = await issue(pageStudy, {});
  links.page = page.link;
  viewerToken = page.token;
  links.pin = (await issue(pinStudy, { verification: 'pin' })).link;
  links.viewOnly = (await issue(viewOnlyStudy, { allowDownload: false })).link;

  staff = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-GB',
    bypassCSP: true,
  });
  staff.setDefaultTimeout(20_000);
  const signIn = await staff.newPage();
  await signIn.goto(`${s.url}/staff/studies/${pageStudy}`);
  await signIn.getByLabel('User name').fill(STAFF_USER);
  await signIn.getByLabel('Password').fill(STAFF_PASSWORD);
  await signIn.getByRole('button', { name: 'Sign in' }).click();
  await signIn.locator('h1').waitFor();
  await signIn.close();
});

afterAll(async () => {
  await staff?.close();
  await browser?.close();
  if (s) {
    expect(await tokenLeaksInLogs(s.logDir, tokens, { pins, birthDates: ['1800-01-01'] })).toEqual([]);
    await s.stop();
  }
});

describe('the patient side in every patient language, in Chromium', () => {
  for (const lang of LANGUAGES) {
    it(`${lang}: page, PIN form, both error pages, viewer and handout in ${lang}, lang/dir set, axe clean`, async () => {
      const m = catalogue(lang);
      const context = await phoneIn(lang);
      const page = await context.newPage();
      const problems = recordPageProblems(page);

      await page.goto(links.page);
      await page.getByRole('heading', { level: 1, name: m['page.title'] }).waitFor();
      await expectPageIn(page, lang, 'page');
      // The switcher names this language in itself, selected.
      expect(await page.locator('#lang option:checked').getAttribute('value')).toBe(lang);
      if (lang !== 'en') expect(await page.locator('body').textContent()).not.toContain('View images');

      await page.goto(links.pin);
      await page.getByRole('heading', { level: 1, name: m['verify.title'] }).waitFor();
      await expectPageIn(page, lang, 'PIN form');
      expect(await page.getByLabel(m['verify.pin'] as string).count()).toBe(1);
      if (RTL_LANGUAGES.has(lang) || lang === 'ja' || lang === 'zh-Hans')
        await screenshot(page, `languages-pin-form-${lang}`);

      // The token service's page for a link that is not there.
      await page.goto(`${s.url}/token?${'Q'.repeat(64)}`);
      await page.getByRole('heading', { level: 1, name: m['error.notFound.title'] }).waitFor();
      await expectPageIn(page, lang, 'token-service error page');

      // The export service's refusal of a view-only link's zip.
      const refused = await page.goto(`${links.viewOnly.replace('/token?', '/token/study.zip?')}`);
      expect(refused?.status()).toBe(410);
      await page.getByRole('heading', { level: 1, name: m['error.downloadRefused.title'] }).waitFor();
      await expectPageIn(page, lang, 'export-service error page');
      expect(problems.filter((p) => !p.startsWith('404 ') && !p.startsWith('410 '))).toEqual([]);
      await page.close();

      // The viewer: its chrome in the language; in right-to-left the left arrow goes forward.
      const viewer = await context.newPage();
      const viewerProblems = recordPageProblems(viewer);
      await viewer.goto(`${s.url}/token/viewer?${viewerToken}`);
      await viewer.waitForFunction(() => (globalThis as Dom).document.body.dataset.state === 'ready');
      expect(await viewer.getAttribute('html', 'lang')).toBe(lang);
      expect(await viewer.getAttribute('html', 'dir')).toBe(RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr');
      const counter = (index: number) => translator(lang).t('viewer.counter', { index, total: 3 });
      await expect.poll(() => viewer.textContent('#counter')).toBe(counter(1));
      await viewer.focus('#viewport');
      await viewer.keyboard.press(RTL_LANGUAGES.has(lang) ? 'ArrowLeft' : 'ArrowRight');
      await expect.poll(() => viewer.textContent('#counter')).toBe(counter(2));
      expect(await viewer.locator('#tool-pan').textContent()).toBe(m['viewer.move']);
      expect(await seriousAxeViolations(viewer), `${lang} viewer`).toEqual([]);
      await expectScriptFonts(viewer, lang, `${lang} viewer`);
      if (RTL_LANGUAGES.has(lang) || lang === 'ja' || lang === 'zh-Hans')
        await screenshot(viewer, `languages-viewer-${lang}`);
      expect(viewerProblems).toEqual([]);
      await context.close();

      // The handout staff print for the patient: the sheet in the language, right to left where it is.
      const sheet = await staff.newPage();
      await sheet.goto(`${s.url}/staff/studies/${pageStudy}/handout?lang=${encodeURIComponent(lang)}`);
      await sheet.getByRole('heading', { level: 1, name: m['handout.title'] }).waitFor();
      const article = sheet.locator('article.handout');
      expect(await article.getAttribute('lang')).toBe(lang);
      expect(await article.getAttribute('dir')).toBe(RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr');
      expect(await article.textContent()).toContain(m['handout.keepPrivate']);
      expect(await seriousAxeViolations(sheet), `${lang} handout`).toEqual([]);
      if (RTL_LANGUAGES.has(lang)) await screenshot(sheet, `languages-handout-${lang}`);
      await sheet.close();
    });
  }
});

describe('the birth-date form in Japanese, Chinese and Hebrew (issue 20)', () => {
  for (const [locale, lang, order] of [
    ['ja-JP', 'ja', ['birth-year', 'birth-month', 'birth-day']],
    ['zh-CN', 'zh-Hans', ['birth-year', 'birth-month', 'birth-day']],
    ['he-IL', 'he', ['birth-day', 'birth-month', 'birth-year']],
  ] as const) {
    it(`${locale}: the fields in the language's order take 1800-01-01 and open the page (axe clean)`, async () => {
      const m = catalogue(lang);
      await s.api('DELETE', `/api/v1/studies/${oldStudy}/token`);
      const link = await issue(oldStudy, { verification: 'birth-date' });
      // The language from the browser's own Accept-Language this time.
      const context = await browser.newContext({ viewport: PHONE, isMobile: true, locale, bypassCSP: true });
      context.setDefaultTimeout(20_000);
      const page = await context.newPage();
      await page.goto(link.link);
      await page.getByRole('heading', { level: 1, name: m['verify.title'] }).waitFor();
      await expectPageIn(page, lang, 'birth-date form');
      const ids = await page.locator('.date-fields input').evaluateAll((els) => els.map((e) => e.id));
      expect(ids).toEqual(order);
      // Each field labelled in the language, grouped under the legend.
      expect(await page.getByRole('group', { name: m['verify.birthDate'] }).count()).toBe(1);
      for (const key of ['verify.day', 'verify.month', 'verify.year'] as const)
        expect(await page.getByLabel(m[key] as string, { exact: true }).count(), key).toBe(1);
      if (lang === 'he') {
        // Right to left, the day (first in reading order) sits at the right.
        const day = await page.locator('#birth-day').boundingBox();
        const year = await page.locator('#birth-year').boundingBox();
        expect((day?.x ?? 0) > (year?.x ?? 0)).toBe(true);
      }
      await screenshot(page, `languages-birth-date-form-${lang}`);
      await page.locator('#birth-year').fill('1800');
      await page.locator('#birth-month').fill('1');
      await page.locator('#birth-day').fill('1');
      await page.locator('form.verify button[type="submit"]').click();
      await page.getByRole('heading', { level: 1, name: m['page.title'] }).waitFor();
      expect(await page.locator('body').textContent()).toContain('ANCIENT');
      await context.close();
    });
  }
});

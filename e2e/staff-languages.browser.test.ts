// The staff pages in every staff language, in a real browser (Debian's Chromium through
// playwright-core) against the token service's real app: the browser's language picks the
// catalogue, the page says its language and direction (Arabic right to left), the navigation is in
// that language (Arabic and Hebrew right to left), nothing overflows at 1366 px, and axe finds no serious or critical violation.
import { RTL_LANGUAGES, STAFF_LANGUAGES, type StaffLanguage, staffCatalogue } from '@studylink/i18n';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD,
  type StaffHarness,
  startStaffHarness,
} from '../services/token-service/test/staff.harness.js';
import { launchChromium, recordPageProblems, seriousAxeViolations } from './support/browser.js';

const UID = '1.2.826.0.1.3680043.8.498.4242.1';
let h: StaffHarness;
let browser: Browser;

beforeAll(async () => {
  [h, browser] = await Promise.all([startStaffHarness(), launchChromium()]);
  await h.signedInPair();
  h.source.add({ studyInstanceUid: UID, patientName: 'Doe^Jane', patientId: 'P-1' });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const PAGES = ['/staff/studies', `/staff/studies/${UID}`, '/staff/access-log'];

describe('the staff pages in each staff language', () => {
  it.each(STAFF_LANGUAGES.filter((l) => l !== 'en'))('%s', async (lang: StaffLanguage) => {
    const messages = staffCatalogue(lang);
    const context = await browser.newContext({
      viewport: { width: 1366, height: 900 },
      locale: lang,
      extraHTTPHeaders: { 'accept-language': lang },
      bypassCSP: true,
    });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = recordPageProblems(page);
    try {
      await page.goto(`${h.url}/staff/sign-in`);
      expect(await page.getAttribute('html', 'lang')).toBe(lang);
      await page.getByLabel(messages['signIn.username'] as string, { exact: true }).fill('bob');
      await page.getByLabel(messages['signIn.password'] as string, { exact: true }).fill(DEFAULT_PASSWORD);
      await page
        .locator('form button[type="submit"]', { hasText: messages['signIn.submit'] as string })
        .click();
      await page.waitForURL('**/staff/studies');
      for (const path of PAGES) {
        await page.goto(`${h.url}${path}`);
        expect(await page.getAttribute('html', 'lang'), path).toBe(lang);
        expect(await page.getAttribute('html', 'dir'), path).toBe(RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr');
        const nav = await page.locator('nav').first().innerText();
        expect(nav, path).toContain(messages['layout.nav.studies'] as string);
        expect(nav, path).not.toContain('Access log');
        const width = (await page.evaluate(
          '[document.documentElement.scrollWidth, window.innerWidth]',
        )) as number[];
        expect(width[0], `${path} scroll width`).toBeLessThanOrEqual(width[1] as number);
        expect(await seriousAxeViolations(page), path).toEqual([]);
      }
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

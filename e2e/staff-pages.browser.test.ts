// The staff pages in a real browser (Debian's Chromium through playwright-core) against the token
// service's real app on a private PostgreSQL database: the access log fits a 1366 px screen.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD,
  type StaffClient,
  type StaffHarness,
  startStaffHarness,
} from '../services/token-service/test/staff.harness.js';
import { launchChromium, recordPageProblems, seriousAxeViolations } from './support/browser.js';

const LONG_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91 SomeCorporateAgent/12.4.1 (build 2024-11-30; +https://intranet.example/agent)';

let h: StaffHarness;
let browser: Browser;
let staff: StaffClient;

beforeAll(async () => {
  [h, browser] = await Promise.all([startStaffHarness(), launchChromium()]);
  ({ staff } = await h.signedInPair());
  // A log as the issue found it: long user agents, long names and IDs, links shown over and over.
  for (let i = 0; i < 3; i++) {
    const uid = `1.2.826.0.1.3680043.8.498.${900 + i}.1234567890.1234567890.123456789`;
    h.source.add({
      studyInstanceUid: uid,
      patientName: `Παπαδοπούλου-Αναστασιάδου^Αικατερίνη-Μαργαρίτα ${i}`,
      patientId: `HOSPITAL-PATIENT-IDENTIFIER-${i}-0000000000`,
    });
    staff.userAgent = LONG_UA;
    await staff.get(`/staff/studies/${uid}`);
    await staff.post(`/staff/studies/${uid}/token`, { never: '1' });
    for (let k = 0; k < 3; k++) await staff.get(`/staff/studies/${uid}`);
  }
  for (let i = 0; i < 5; i++)
    await fetch(`${h.url}/token?${'q'.repeat(64)}`, { headers: { 'user-agent': `${LONG_UA} ${i}` } });
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

async function signedInPage(width: number): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, bypassCSP: true });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  await page.goto(`${h.url}/staff/sign-in`);
  await page.getByLabel('User name').fill('bob');
  await page.getByLabel('Password').fill(DEFAULT_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/staff/studies');
  return { context, page };
}

describe('the access log in Chromium', () => {
  it('has no horizontal overflow at 1366 px, the whole user agent on demand, and no serious axe violation', async () => {
    const { context, page } = await signedInPage(1366);
    const problems = recordPageProblems(page);
    try {
      await page.goto(`${h.url}/staff/access-log`);
      await page.locator('table').waitFor();
      const sizes = (await page.evaluate(`(() => {
        const region = document.querySelector('.table-scroll');
        return {
          page: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          region: region.scrollWidth,
          regionBox: region.clientWidth,
        };
      })()`)) as { page: number; viewport: number; region: number; regionBox: number };
      expect(sizes.page).toBeLessThanOrEqual(sizes.viewport);
      expect(sizes.region).toBeLessThanOrEqual(sizes.regionBox);
      // The short form in the row; the whole string one click away.
      const details = page.locator('td.ua details', { hasText: 'SomeCorporateAgent' }).first();
      const summary = details.locator('summary');
      expect(await summary.textContent()).toMatch(/^(Microsoft )?Edge 120 · Windows 10$/);
      const full = details.locator('.ua-full');
      expect(await full.isVisible()).toBe(false);
      await summary.click();
      expect(await full.isVisible()).toBe(true);
      expect(await full.textContent()).toContain('SomeCorporateAgent/12.4.1');
      // Three staff views and the display after making the link: one entry per study.
      const runs = await page.locator('td span.sub', { hasText: /views since/ }).allTextContents();
      expect(runs, runs.join(' | ')).toHaveLength(3);
      expect(await seriousAxeViolations(page)).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

// The staff interface and the patient page in a real browser (Debian's Chromium through
// playwright-core) against the real stack: nginx, both services, PostgreSQL, Orthanc.
import { type LoadedSample, loadSamples } from '@studylink/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchChromium,
  recordPageProblems,
  recordRequests,
  screenshot,
  seriousAxeViolations,
} from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

const ADMIN = 'admin';
const ADMIN_PASSWORD = 'e2e admin password 1';
const LAN_HOST = 'staff-lan.test';
const LINK = /^http:\/\/127\.0\.0\.1:\d+\/token\?[A-Za-z0-9]{64}$/;

let s: E2EStack;
let browser: Browser;
let ct: LoadedSample;
/** The staff context with the clipboard allowed, signed in as the admin. */
let staff: BrowserContext;
const tokensSeen: string[] = [];

beforeAll(async () => {
  [s, browser] = await Promise.all([
    startE2EStack('staff-browser', {
      env: {
        STAFF_ADMIN_USERNAME: ADMIN,
        STAFF_ADMIN_PASSWORD: ADMIN_PASSWORD,
        INSTITUTION: 'St. Example Hospital',
        DEPARTMENT: 'Radiology',
      },
    }),
    // staff-lan.test stands for the server's LAN address: plain http on a name that is not
    // loopback, so not a secure context, where browsers offer no clipboard API.
    launchChromium([`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`]),
  ]);
  const loaded = await loadSamples(s.orthanc, ['CT_small.dcm', 'MR_small.dcm']);
  ct = loaded[0] as LoadedSample;
  staff = await browser.newContext({
    permissions: ['clipboard-read', 'clipboard-write'],
    viewport: { width: 1280, height: 900 },
  });
  staff.setDefaultTimeout(15_000);
});

afterAll(async () => {
  await browser?.close();
  if (s) {
    const logs = await s.allLogs();
    for (const t of tokensSeen) expect(logs).not.toContain(t);
    expect(logs).not.toContain(ADMIN_PASSWORD);
    await s.stop();
  }
});

function remember(link: string): string {
  tokensSeen.push(link.split('?')[1] as string);
  return link;
}

async function signIn(page: Page, path = '/staff/studies') {
  await page.goto(`${s.url}${path}`);
  await expect.poll(() => page.url()).toContain('/staff/sign-in');
  await page.getByLabel('User name').fill(ADMIN);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`**${path}`);
}

async function openStudy(page: Page) {
  await page.goto(`${s.url}/staff/studies`);
  await page.getByLabel('Patient name').fill('compressedsamples^ct');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: /Open the study of CompressedSamples, CT1/ }).click();
  await page.getByRole('heading', { level: 1, name: 'CompressedSamples, CT1' }).waitFor();
}

/** On the study page: makes a link if there is none, then copies it with the button. */
async function copyLink(page: Page): Promise<string> {
  const create = page.getByRole('button', { name: 'Create link' });
  if (await create.isVisible()) await create.click();
  await page.getByRole('button', { name: 'Copy link' }).click();
  await expect.poll(() => page.locator('#copy-status').textContent()).toBe('Link copied to the clipboard.');
  const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
  expect(copied).toBe(await page.locator('#study-link').inputValue());
  return remember(copied);
}

describe('staff in the browser', () => {
  let link: string;
  let staffPage: Page;
  let problems: string[];

  it('signs in, finds the study from the store, and copies its link to the clipboard', async () => {
    staffPage = await staff.newPage();
    problems = recordPageProblems(staffPage);
    await signIn(staffPage);
    await staffPage.getByLabel('Patient name').fill('compressedsamples^ct');
    await staffPage.getByRole('button', { name: 'Search' }).click();
    const row = staffPage.getByRole('row', { name: /CompressedSamples, CT1/ });
    await expect.poll(() => row.textContent()).toContain('No link');
    await expect.poll(() => staffPage.getByRole('row').count()).toBe(2); // header + the CT study only
    await screenshot(staffPage, 'staff-studies');
    await staffPage.getByRole('link', { name: /Open the study of CompressedSamples, CT1/ }).click();
    link = await copyLink(staffPage);
    expect(link).toMatch(LINK);
    expect(link.startsWith(`${s.url}/token?`)).toBe(true);
    await screenshot(staffPage, 'staff-study');
    // The API agrees on the study's link.
    const api = await s.api('GET', `/api/v1/studies/${ct.studyInstanceUid}/token`);
    expect(api.json.url).toBe(link);
  });

  async function expectSelectedForManualCopy(page: Page) {
    await page.getByRole('button', { name: 'Copy link' }).click();
    await expect.poll(() => page.locator('#copy-status').textContent()).toContain('the link is selected');
    // What has focus and what of it is selected (a string: the e2e project has no DOM types).
    const selection = await page.evaluate(`(() => {
      const el = document.activeElement;
      return {
        id: el.id,
        value: el.value,
        selected: el.value.slice(el.selectionStart ?? 0, el.selectionEnd ?? 0),
        readOnly: el.readOnly,
      };
    })()`);
    expect(selection).toEqual({ id: 'study-link', value: link, selected: link, readOnly: true });
  }

  it('where the browser has no clipboard API (plain http on a LAN address), the link is left selected', async () => {
    const lan = await browser.newContext();
    lan.setDefaultTimeout(15_000);
    try {
      const page = await lan.newPage();
      const lanUrl = s.url.replace('127.0.0.1', LAN_HOST);
      await page.goto(`${lanUrl}/staff/sign-in`);
      await page.getByLabel('User name').fill(ADMIN);
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/staff/studies');
      expect(await page.evaluate('window.isSecureContext')).toBe(false);
      await page.goto(staffPage.url().replace('127.0.0.1', LAN_HOST));
      await expectSelectedForManualCopy(page);
    } finally {
      await lan.close();
    }
  });

  it('where the browser refuses the clipboard write, the link is left selected', async () => {
    const denied = await browser.newContext({ storageState: await staff.storageState() });
    denied.setDefaultTimeout(15_000);
    // Chromium lets a click on a loopback page write without asking; refuse as a browser
    // configured to deny would (or Safari without a fresh gesture does).
    await denied.addInitScript(`navigator.clipboard.writeText = () =>
      Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));`);
    try {
      const page = await denied.newPage();
      await page.goto(staffPage.url());
      await expectSelectedForManualCopy(page);
    } finally {
      await denied.close();
    }
  });

  it('a patient opens the link: the study page, nothing leaves the origin, no Referer carries the token', async () => {
    const token = link.split('?')[1] as string;
    for (const [name, viewport] of [
      ['patient-phone', { width: 390, height: 844 }],
      ['patient-desktop', { width: 1280, height: 900 }],
    ] as const) {
      const patient = await browser.newContext({
        viewport,
        ...(name === 'patient-phone' ? { isMobile: true, hasTouch: true } : {}),
      });
      try {
        const page = await patient.newPage();
        const requests = recordRequests(page);
        const pageProblems = recordPageProblems(page);
        const res = await page.goto(link);
        expect(res?.status()).toBe(200);
        await page.getByRole('heading', { name: 'Your imaging study' }).waitFor();
        expect(await page.textContent('main')).toContain('CompressedSamples, CT1');
        await expect.poll(() => page.getByRole('link', { name: 'Zip file of the study' }).count()).toBe(1);
        await page.waitForLoadState('networkidle');
        await screenshot(page, name);
        const origin = new URL(s.url).origin;
        expect(requests.length).toBeGreaterThanOrEqual(2); // the page and its stylesheet
        for (const r of requests) {
          expect(new URL(r.url).origin, r.url).toBe(origin);
          expect(r.referer ?? '', r.url).not.toContain(token);
        }
        // The patient page names no icon, so Chromium may ask nginx for /favicon.ico (404): noise, not
        // a problem of the page.
        expect(pageProblems.filter((p) => p !== '404 /favicon.ico')).toEqual([]);
      } finally {
        await patient.close();
      }
    }
  });

  it('revoking (after confirming) makes the link show the not-found page', async () => {
    await staffPage.getByRole('link', { name: 'Revoke link…' }).click();
    await staffPage.getByRole('heading', { name: 'Revoke the link?' }).waitFor();
    await staffPage.getByRole('button', { name: 'Revoke link' }).click();
    await staffPage.getByText('The link was revoked: it no longer works.').waitFor();
    const patient = await browser.newContext();
    try {
      const page = await patient.newPage();
      const res = await page.goto(link);
      expect(res?.status()).toBe(404);
      expect(await page.textContent('body')).toContain('not found or is no longer available');
      expect(await page.textContent('body')).not.toContain('CompressedSamples');
    } finally {
      await patient.close();
    }
  });

  it('a new server name and SSL in the setup change the next copied link', async () => {
    await staffPage.goto(`${s.url}/staff/setup`);
    await staffPage.getByLabel('Web server name').fill('pacs.example.org');
    // The stack sets PUBLIC_PORT in the environment: the port is read-only and says so.
    const port = new URL(s.url).port;
    expect(await staffPage.getByLabel('Web port').getAttribute('readonly')).not.toBeNull();
    expect(await staffPage.getByText('Set by the environment (PUBLIC_PORT)').count()).toBe(1);
    await staffPage.getByLabel(/Use SSL \(https\) in links/).check();
    // The preview follows as the fields change, before saving.
    await expect
      .poll(() => staffPage.locator('#link-preview').textContent())
      .toBe(`https://pacs.example.org:${port}/token?…`);
    await expect.poll(() => staffPage.locator('#link-reason').textContent()).toContain('web server name');
    await screenshot(staffPage, 'staff-setup');
    await staffPage.getByRole('button', { name: 'Save setup' }).click();
    await staffPage.getByText('The server setup was saved.').waitFor();
    await openStudy(staffPage);
    const next = await copyLink(staffPage);
    expect(next).toMatch(new RegExp(`^https://pacs\\.example\\.org:${port}/token\\?[A-Za-z0-9]{64}$`));
    expect(next.split('?')[1]).not.toBe(link.split('?')[1]);
    expect(problems).toEqual([]);
  });
});

describe('accessibility (axe-core)', () => {
  it('finds no serious or critical violations on the patient page and the staff pages', async () => {
    // axe is injected as a script, which the pages' CSP would refuse: this context bypasses it.
    const ctx = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } });
    try {
      const page = await ctx.newPage();
      const report: Record<string, unknown> = {};
      const check = async (name: string, shot?: string) => {
        const v = await seriousAxeViolations(page);
        if (v.length) report[name] = v;
        if (shot) await screenshot(page, shot);
      };
      await page.goto(`${s.url}/staff/sign-in`);
      await check('sign-in', 'staff-sign-in');
      await signIn(page);
      await page.getByLabel('Patient name').fill('compressedsamples*');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByRole('row', { name: /CompressedSamples, CT1/ }).waitFor();
      await check('studies');
      await openStudy(page);
      const create = page.getByRole('button', { name: 'Create link' });
      if (await create.isVisible()) await create.click();
      await check('study');
      const link = remember(await page.locator('#study-link').inputValue());
      const uid = ct.studyInstanceUid;
      for (const [path, shot] of [
        [`/staff/studies/${uid}/handout`, 'staff-handout'],
        [`/staff/studies/${uid}/revoke`, 'staff-revoke'],
        ['/staff/setup', undefined],
        ['/staff/users', 'staff-users'],
        ['/staff/api-keys', 'staff-api-keys'],
        ['/staff/access-log', 'staff-access-log'],
        ['/staff/studies?from=2024-05-01&to=2024-01-01', 'staff-studies-error'],
      ] as const) {
        await page.goto(`${s.url}${path}`);
        await check(path, shot);
      }
      // A tablet in portrait.
      await page.setViewportSize({ width: 820, height: 1180 });
      await page.goto(`${s.url}/staff/studies?patientName=compressedsamples`);
      await check('studies on a tablet', 'staff-studies-tablet');
      await page.goto(`${s.url}/staff/studies/${uid}`);
      await check('study on a tablet', 'staff-study-tablet');
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(link.replace(/^https:\/\/pacs\.example\.org(:\d+)?/, s.url));
      await page.getByRole('heading', { name: 'Your imaging study' }).waitFor();
      await check('patient page');
      await page.goto(`${s.url}/token?${'x'.repeat(64)}`);
      await check('patient not-found page');
      expect(report).toEqual({});
    } finally {
      await ctx.close();
    }
  });
});

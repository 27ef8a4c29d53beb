// Issue 12 against the real stack (nginx, both services, PostgreSQL, Orthanc) and a real phone-sized
// browser: a link with a second factor, the lockout counted per link across addresses, a download
// limit, view-only links, and the patient's language.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LANGUAGES, RTL_LANGUAGES } from '@studylink/i18n';
import { uploadDirectory, writeSyntheticStudy } from '@studylink/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, recordPageProblems, screenshot, seriousAxeViolations } from './support/browser.js';
import { type E2EStack, type Json, runCommand, startE2EStack } from './support/e2e-stack.js';
import { header, httpRequest, localLink } from './support/patient-http.js';
import { tokenLeaksInLogs } from './support/token-leaks.js';
import { curlDownload } from './support/zip-inspect.js';

let s: E2EStack;
let browser: Browser;
const tokens: string[] = [];
const pins: string[] = [];
const BIRTH_DATES = ['1975-06-30', '1961-11-02'];
const STAFF_USER = 'trustadmin';
const STAFF_PASSWORD = 'e2e trust admin password';
const studies: Record<
  'alice' | 'bruno' | 'limited' | 'viewOnly' | 'locked' | 'languages' | 'switch' | 'staff' | 'old',
  string
> = {
  staff: '',
  alice: '',
  bruno: '',
  limited: '',
  viewOnly: '',
  locked: '',
  languages: '',
  switch: '',
  old: '',
};

async function addStudy(patientName: string, birthDate: string, instances = 2, rows = 64): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'studylink-trust-'));
  const study = await writeSyntheticStudy({
    dir,
    patientName,
    patientId: patientName.slice(0, 8),
    series: 1,
    instancesPerSeries: instances,
    rows,
    columns: rows,
    studyDescription: 'CT TRUST TEST',
    patientBirthDate: birthDate.replaceAll('-', ''),
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

async function phone(locale = 'en-GB'): Promise<BrowserContext> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
    locale,
    acceptDownloads: true,
    // axe-core is injected as a script the page's CSP would refuse.
    bypassCSP: true,
  });
  context.setDefaultTimeout(15_000);
  return context;
}

/** Types a birth date (YYYY-MM-DD) into the form's day, month and year fields, in the page's language. */
async function fillBirthDate(page: Page, isoDate: string): Promise<void> {
  const [year = '', month = '', day = ''] = isoDate.split('-');
  await page.locator('#birth-day').fill(String(Number(day)));
  await page.locator('#birth-month').fill(String(Number(month)));
  await page.locator('#birth-year').fill(year);
}

async function events(event: string, uid: string): Promise<Json[]> {
  return (await s.api('GET', `/api/v1/access-log?event=${event}&study=${uid}`)).json.items;
}

async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  [s, browser] = await Promise.all([
    startE2EStack('link-trust', {
      env: {
        INSTITUTION: 'St. Example Hospital',
        DEPARTMENT: 'Radiology',
        STAFF_ADMIN_USERNAME: STAFF_USER,
        STAFF_ADMIN_PASSWORD: STAFF_PASSWORD,
      },
    }),
    launchChromium(),
  ]);
  studies.alice = await addStudy('TRUSTED^ALICE', BIRTH_DATES[0] as string);
  studies.bruno = await addStudy('OTHER^BRUNO', BIRTH_DATES[1] as string);
  // About 60 MB: more than the loopback socket buffers hold, so a download can stop half way.
  studies.limited = await addStudy('LIMITED^LENA', '1980-01-01', 120, 512);
  studies.viewOnly = await addStudy('VIEWONLY^VERA', '1980-01-02');
  studies.locked = await addStudy('LOCKED^LEO', '1980-01-03');
  studies.languages = await addStudy('MÜLLER^ANNA', '1980-01-04');
  studies.switch = await addStudy('SWITCH^SAM', '1990-09-09');
  studies.staff = await addStudy('STAFFMADE^STEFAN', '1966-06-06');
  studies.old = await addStudy('ANCIENT^ADA', '1800-01-01');
});

afterAll(async () => {
  await browser?.close();
  if (s) {
    expect(await tokenLeaksInLogs(s.logDir, tokens, { pins, birthDates: BIRTH_DATES })).toEqual([]);
    expect(await s.allLogs()).not.toContain(STAFF_PASSWORD);
    await s.stop();
  }
});

describe('a birth-date link in a phone browser', () => {
  it('shows a form and no study data; a wrong date is refused, the right one opens page and zip', async () => {
    const link = await issue(studies.alice, { verification: 'birth-date' });
    const context = await phone();
    const page = await context.newPage();
    const problems = recordPageProblems(page);
    await page.goto(link.link);
    await page.getByRole('heading', { level: 1, name: 'Confirm it is you' }).waitFor();
    const formText = (await page.locator('body').textContent()) ?? '';
    for (const leak of ['TRUSTED', 'ALICE', 'CT TRUST TEST', 'Zip file', 'series'])
      expect(formText).not.toContain(leak);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'trust-birth-date-form-phone');

    await fillBirthDate(page, '1975-06-29');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('That did not match');
    expect(await page.locator('body').textContent()).not.toContain('TRUSTED');

    await fillBirthDate(page, BIRTH_DATES[0] as string);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your imaging study' }).waitFor();
    expect(page.url()).toBe(link.link);
    const shown = (await page.locator('body').textContent()) ?? '';
    expect(shown).toContain('TRUSTED, ALICE');
    expect(shown).toContain('Uses of this link');
    expect(shown).toContain('Wrong birth date or PIN entered');
    await screenshot(page, 'trust-birth-date-page-phone');

    const cookies = await context.cookies();
    const verified = cookies.find((c) => c.name === 'studylink_verified');
    expect(verified).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/token' });

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Zip file of the study' }).click(),
    ]);
    const file = join(await mkdtemp(join(tmpdir(), 'studylink-trust-dl-')), 'study.zip');
    await download.saveAs(file);
    const test = await runCommand('unzip', ['-tq', file]);
    expect(test.code, test.stdout + test.stderr).toBe(0);
    expect(problems).toEqual([]);

    // The same cookie does not open another study's link.
    const other = await issue(studies.bruno, { verification: 'birth-date' });
    await page.goto(other.link);
    await page.getByRole('heading', { level: 1, name: 'Confirm it is you' }).waitFor();
    expect(await page.locator('body').textContent()).not.toContain('BRUNO');
    // Nor its zip: the download goes back to the form.
    const zip = await httpRequest(`${s.url}/token/study.zip?${other.token}`, {
      headers: { cookie: `studylink_verified=${verified?.value}` },
    });
    expect(zip.status).toBe(303);
    expect(header(zip, 'location')).toBe(`/token?${other.token}`);
    await context.close();
  });
});

describe('lockout per link, through nginx', () => {
  it('5 wrong PINs from 5 addresses lock the link for the right PIN too; staff unlock restores it', async () => {
    const link = await issue(studies.locked, { verification: 'pin' });
    const post = (pin: string, from: string) =>
      httpRequest(link.link, {
        method: 'POST',
        localAddress: from,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
          'content-length': String(`pin=${pin}`.length),
        },
        body: `pin=${pin}`,
      });
    const wrong = link.pin === '000000' ? '999999' : '000000';
    const statuses: number[] = [];
    for (let i = 2; i <= 6; i++) statuses.push((await post(wrong, `127.0.0.${i}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    const right = await post(link.pin, '127.0.0.7');
    expect(right.status).toBe(429);
    expect(Number(header(right, 'retry-after'))).toBeGreaterThan(60);
    expect(right.body.toString('utf8')).toContain('locked');
    // Every address the wrong answers came from is in the log, each attempt once.
    const attempts = await events('verification', studies.locked);
    expect(new Set(attempts.filter((e) => e.outcome === 'wrong').map((e) => e.clientIp))).toEqual(
      new Set(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']),
    );
    expect(attempts.some((e) => e.outcome === 'locked')).toBe(true);

    expect((await s.api('POST', `/api/v1/studies/${studies.locked}/token/unlock`)).status).toBe(204);
    const after = await post(link.pin, '127.0.0.7');
    expect(after.status).toBe(303);
    expect(header(after, 'set-cookie')).toContain('studylink_verified=');
  });
});

describe('download limit and view-only links', () => {
  it('maxDownloads 1: a stopped download leaves the allowance, the completed one uses it, the next is refused', async () => {
    const link = await issue(studies.limited, { maxDownloads: 1 });
    const zipUrl = `${s.url}/token/study.zip?${link.token}`;
    // A patient who gives up after a moment on a slow line.
    // A limited link's zip is spent only by a browser's request (a click on the page sends this).
    const clicked = { 'sec-fetch-site': 'same-origin' };
    const stopped = await curlDownload(zipUrl, {
      limitRate: '200K',
      maxTimeS: 3,
      from: '127.0.0.20',
      headers: clicked,
    });
    expect(stopped.exitCode).not.toBe(0);
    await eventually(async () =>
      (await events('download_aborted', studies.limited)).length > 0 ? true : undefined,
    );
    expect((await s.api('GET', `/api/v1/studies/${studies.limited}/token`)).json.downloadsUsed).toBe(0);

    const full = await curlDownload(zipUrl, { from: '127.0.0.21', headers: clicked });
    expect(full.status).toBe(200);
    expect((await runCommand('unzip', ['-tq', full.file])).code).toBe(0);
    await eventually(async () =>
      (await s.api('GET', `/api/v1/studies/${studies.limited}/token`)).json.downloadsUsed === 1
        ? true
        : undefined,
    );

    const refused = await httpRequest(zipUrl, { localAddress: '127.0.0.22' });
    expect(refused.status).toBe(410);
    expect(header(refused, 'content-type')).toContain('text/html');
    expect(refused.body.toString('utf8')).toContain('already been used for all the downloads it allows');
    const page = await httpRequest(link.link, { localAddress: '127.0.0.22' });
    expect(page.body.toString('utf8')).toContain('contact the department');
    expect(page.body.toString('utf8')).not.toContain('study.zip');
    expect((await events('download_refused', studies.limited))[0]?.outcome).toBe('limit_reached');
  });

  it('a view-only link: page without the zip button, the zip refused with a 410 page', async () => {
    const link = await issue(studies.viewOnly, { allowDownload: false });
    const page = (await httpRequest(link.link)).body.toString('utf8');
    expect(page).toContain('VIEWONLY, VERA');
    expect(page).toContain('for viewing only');
    const zip = await httpRequest(`${s.url}/token/study.zip?${link.token}`);
    expect(zip.status).toBe(410);
    expect(zip.body.toString('utf8')).toContain('for viewing only');
  });
});

describe('the page in the patient language', () => {
  // Every language's pages axe-checked and mirrored in e2e/patient-languages.browser.test.ts.
  it('every language: page fully in it, <html lang> set, Arabic and Hebrew right to left; axe passes in ar, he and en', async () => {
    const link = await issue(studies.languages, {});
    for (const lang of LANGUAGES) {
      const context = await phone(lang === 'en' ? 'en-GB' : lang);
      const page = await context.newPage();
      await page.goto(link.link);
      expect(await page.getAttribute('html', 'lang')).toBe(lang);
      expect(await page.getAttribute('html', 'dir')).toBe(RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr');
      if (RTL_LANGUAGES.has(lang) || lang === 'en') {
        expect(await seriousAxeViolations(page), lang).toEqual([]);
        await screenshot(page, `trust-page-${lang}-phone`);
      }
      if (RTL_LANGUAGES.has(lang)) {
        // Mirrored: the heading starts at the right edge of the card.
        const box = await page.locator('h1').boundingBox();
        const card = await page.locator('main').boundingBox();
        expect((box?.x ?? 0) + (box?.width ?? 0)).toBeGreaterThan((card?.x ?? 0) + (card?.width ?? 0) - 40);
      }
      await context.close();
    }
  });

  it("the zip's README.txt is written in the patient's language", async () => {
    const link = await issue(await addStudy('README^RITA', '1985-05-05'), {});
    const zip = await httpRequest(`${s.url}/token/study.zip?${link.token}`, {
      headers: { 'accept-language': 'el-GR,el;q=0.9' },
    });
    expect(zip.status).toBe(200);
    const file = join(await mkdtemp(join(tmpdir(), 'studylink-trust-readme-')), 'study.zip');
    await writeFile(file, zip.body);
    const readme = await runCommand('unzip', ['-p', file, 'README.txt']);
    expect(readme.stdout).toContain('Η απεικονιστική σας εξέταση');
    expect(readme.stdout).toContain('ΠΩΣ ΝΑ ΤΟ ΑΝΟΙΞΕΤΕ');
    expect(readme.stdout).not.toContain('HOW TO OPEN IT');
  });

  it("Russian and Ukrainian (issue 20): the page's plurals in a phone browser and the zip's README.txt", async () => {
    const uid = await addStudy('ШЕВЧЕНКО^ОЛЕНА', '1985-05-06');
    const link = await issue(uid, {});
    for (const [locale, lang, counts, title] of [
      ['ru-RU', 'ru', '1 серия, 2 изображения', 'Ваше медицинское исследование'],
      ['uk-UA', 'uk', '1 серія, 2 зображення', 'Ваше медичне дослідження'],
    ] as const) {
      const context = await phone(locale);
      const page = await context.newPage();
      await page.goto(link.link);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      expect(await page.getAttribute('html', 'lang')).toBe(lang);
      const text = (await page.locator('body').textContent()) ?? '';
      expect(text).toContain(counts);
      expect(text).toContain('ШЕВЧЕНКО');
      expect(await seriousAxeViolations(page), lang).toEqual([]);
      await screenshot(page, `trust-page-${lang}-phone`);
      await context.close();
    }
    const readme = async (acceptLanguage: string) => {
      const zip = await httpRequest(`${s.url}/token/study.zip?${link.token}`, {
        headers: { 'accept-language': acceptLanguage },
      });
      expect(zip.status).toBe(200);
      const file = join(await mkdtemp(join(tmpdir(), 'studylink-trust-readme-')), 'study.zip');
      await writeFile(file, zip.body);
      return (await runCommand('unzip', ['-p', file, 'README.txt'])).stdout;
    };
    const ru = await readme('ru-RU,ru;q=0.9');
    expect(ru).toContain('Ваше медицинское исследование');
    expect(ru).toContain('1 серия, 2 файла');
    expect(ru).toContain('КАК ОТКРЫТЬ');
    expect(ru).toContain('ШЕВЧЕНКО');
    expect(ru).not.toContain('HOW TO OPEN IT');
    const uk = await readme('uk-UA,uk;q=0.9,ru;q=0.8');
    expect(uk).toContain('Ваше медичне дослідження');
    expect(uk).toContain('1 серія, 2 файли');
    expect(uk).toContain('ЯК ВІДКРИТИ');
    expect(uk).not.toContain('HOW TO OPEN IT');
  });

  it('the switcher changes the language without a new URL, and the form and error pages follow it', async () => {
    const link = await issue(studies.switch, { verification: 'pin' });
    const context = await phone('en-GB');
    const page = await context.newPage();
    await page.goto(link.link);
    await page.getByLabel('Language').selectOption('ar');
    await page.getByRole('button', { name: 'Change' }).click();
    await page.waitForFunction('document.documentElement.lang === "ar"');
    expect(page.url()).toBe(link.link);
    expect(await page.getAttribute('html', 'dir')).toBe('rtl');
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'trust-pin-form-ar-phone');
    await page.goto(`${s.url}/token?${'Z'.repeat(64)}`);
    expect(await page.getAttribute('html', 'lang')).toBe('ar');
    await context.close();
  });
});

describe('the staff side in a browser', () => {
  it('makes a PIN link with a download limit, shows the PIN again, unlocks a locked link, prints the handout', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = recordPageProblems(page);
    await page.goto(`${s.url}/staff/studies/${studies.staff}`);
    await page.getByLabel('User name').fill(STAFF_USER);
    await page.getByLabel('Password').fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'STAFFMADE, STEFAN' }).waitFor();

    await page.getByLabel(/A PIN \(6 digits\)/).check();
    await page.getByLabel('Download limit').fill('1');
    await page.getByRole('button', { name: 'Create link' }).click();
    await page.getByText('A link was made.').waitFor();
    const link = localLink(await page.locator('#study-link').inputValue(), s.url);
    tokens.push(link.split('?')[1] as string);
    expect(await page.locator('body').textContent()).toContain('0 of 1');
    await page.getByRole('link', { name: 'Show PIN' }).click();
    const pin = ((await page.locator('.pin').textContent()) ?? '').trim();
    expect(pin).toMatch(/^\d{6}$/);
    pins.push(pin);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await screenshot(page, 'trust-staff-study-pin');

    // Five wrong PINs from five addresses lock it; staff see it and unlock it.
    const post = (value: string, from: string) =>
      httpRequest(link, {
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
        body: `pin=${value}`,
      });
    const wrong = pin === '111111' ? '222222' : '111111';
    for (let i = 0; i < 5; i++) await post(wrong, `127.0.0.${40 + i}`);
    expect((await post(pin, '127.0.0.50')).status).toBe(429);
    await page.goto(`${s.url}/staff/studies/${studies.staff}`);
    expect(await page.locator('body').textContent()).toContain('Locked until');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText('The link was unlocked').waitFor();
    expect((await post(pin, '127.0.0.50')).status).toBe(303);

    // The handout in German, with the PIN printed on it.
    await page.getByLabel('Language of the handout').selectOption('de');
    await page.getByLabel(/Print the PIN on it/).check();
    await page.getByRole('button', { name: 'Printable handout' }).click();
    await page.getByRole('heading', { level: 1, name: 'Ihre Bildgebungsuntersuchung online' }).waitFor();
    expect(await page.locator('article.handout').getAttribute('lang')).toBe('de');
    expect(await page.locator('article.handout').textContent()).toContain(`Ihre PIN: ${pin}`);
    await screenshot(page, 'trust-staff-handout-de');
    expect(problems).toEqual([]);
    const shown = await events('pin_displayed', studies.staff);
    expect(shown.length).toBeGreaterThanOrEqual(2);
    expect(shown.every((e) => e.actor === `staff:${STAFF_USER}`)).toBe(true);
    await context.close();
  });
});

describe('the birth-date form in French and Arabic (issue 20)', () => {
  for (const [locale, title, pageTitle, dir] of [
    ['fr-FR', 'Confirmez votre identité', "Votre examen d'imagerie", 'ltr'],
    ['ar', 'أكّد هويتك', 'فحص التصوير الخاص بك', 'rtl'],
  ] as const) {
    it(`${locale}: day, month and year fields take 1800-01-01 and open the page (axe clean)`, async () => {
      // One link per language: the last one is revoked first.
      await s.api('DELETE', `/api/v1/studies/${studies.old}/token`);
      const link = await issue(studies.old, { verification: 'birth-date' });
      const context = await phone(locale);
      const page = await context.newPage();
      await page.goto(link.link);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      expect(await page.locator('html').getAttribute('dir')).toBe(dir);
      // Labelled fields, in the language's reading order, grouped under the form's legend.
      const order = await page.locator('.date-fields input').evaluateAll((els) => els.map((e) => e.id));
      expect(order).toEqual(['birth-day', 'birth-month', 'birth-year']);
      expect(await page.getByRole('group').count()).toBeGreaterThan(0);
      expect(await seriousAxeViolations(page)).toEqual([]);
      await screenshot(page, `trust-birth-date-form-${locale}`);
      await fillBirthDate(page, '1800-01-01');
      await page.locator('form.verify button[type="submit"]').click();
      await page.getByRole('heading', { level: 1, name: pageTitle }).waitFor();
      expect(await page.locator('body').textContent()).toContain('ANCIENT');
      await context.close();
    });
  }
});

import { catalogue, LANGUAGES } from '@studylink/i18n';
import { escapeHtml } from '@studylink/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

const PLAIN = '1.2.826.0.1.3680043.8.498.13.1';
const PIN = '1.2.826.0.1.3680043.8.498.13.2';

let h: Harness;
let plain: string;
let pin: string;

beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: PLAIN, patientName: 'MÜLLER^ANNA' });
  source.add({ studyInstanceUid: PIN });
  h = await startHarness(source);
  plain = (await readJson(await h.api('PUT', `/api/v1/studies/${PLAIN}/token`))).token;
  pin = (await readJson(await h.api('PUT', `/api/v1/studies/${PIN}/token`, { verification: 'pin' }))).token;
});

afterAll(async () => {
  await h.close();
});

/**
 * The English sentences a page must not show in another language: the literal runs of every
 * English message (placeholders cut out), long enough not to be a name or a shared word.
 */
const ENGLISH_RUNS = Object.values(catalogue('en'))
  .flatMap((m) => m.split(/[{}#]/))
  .map((s) => s.trim())
  .filter((s) => s.length >= 12 && !/^[a-z]+ [a-z]+$/.test(s));

function visibleText(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&[a-z#0-9]+;/g, ' ')
    .replace(/\s+/g, ' ');
}

function get(token: string, headers: Record<string, string>) {
  return fetch(`${h.url}/token?${token}`, { headers });
}

describe('every patient-facing page in every language', () => {
  for (const lang of LANGUAGES) {
    it(`${lang}: study page, verification form and error page fully translated, lang and dir set`, async () => {
      const headers = { 'accept-language': `${lang};q=0.9, en;q=0.1` };
      const pages = {
        page: await (await get(plain, headers)).text(),
        form: await (await get(pin, headers)).text(),
        error: await (await get('A'.repeat(64), headers)).text(),
      };
      const dir = lang === 'ar' ? 'rtl' : 'ltr';
      for (const [what, html] of Object.entries(pages)) {
        expect(html, `${lang} ${what}`).toContain(`<html lang="${lang}" dir="${dir}">`);
        if (lang === 'en') continue;
        // The language switcher names every language in itself; that is not untranslated text.
        const text = visibleText(html.replace(/<select[\s\S]*?<\/select>/, ''));
        const leftovers = ENGLISH_RUNS.filter((run) => text.includes(run));
        expect(leftovers, `${lang} ${what}`).toEqual([]);
      }
      expect(pages.page).toContain('MÜLLER, ANNA');
      expect(pages.page).toContain(escapeHtml(catalogue(lang)['page.downloadButton'] ?? '-'));
      expect(pages.form).toContain(escapeHtml(catalogue(lang)['verify.pinIntro'] ?? '-'));
    });
  }

  it('the switcher is a POST to the same address: a cookie, no new URL with the token', async () => {
    const res = await fetch(`${h.url}/token?${plain}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: 'lang=el',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/token?${plain}`);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('studylink_lang=')) ?? '';
    expect(cookie).toContain('studylink_lang=el');
    expect(cookie).toContain('Path=/token');
    expect(cookie).not.toContain(plain);
    // The choice beats Accept-Language, on the page and on error pages.
    const page = await (await get(plain, { cookie: 'studylink_lang=el', 'accept-language': 'de' })).text();
    expect(page).toContain('<html lang="el" dir="ltr">');
    const error = await (await get('B'.repeat(64), { cookie: 'studylink_lang=ar' })).text();
    expect(error).toContain('<html lang="ar" dir="rtl">');
    // An unknown language is ignored, not stored.
    const bad = await fetch(`${h.url}/token?${plain}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: 'lang=xx',
    });
    expect(bad.status).toBe(303);
    expect(bad.headers.getSetCookie()).toEqual([]);
  });

  it('dates on the page are written the way the language writes them', async () => {
    expect(await (await get(plain, { 'accept-language': 'de' })).text()).toContain('21. Januar 2021');
    expect(await (await get(plain, { 'accept-language': 'fr' })).text()).toContain('21 janvier 2021');
  });
});

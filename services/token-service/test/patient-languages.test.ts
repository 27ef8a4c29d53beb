import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalogue, LANGUAGES, type Language, messagesWithPrefix, RTL_LANGUAGES } from '@studylink/i18n';
import { escapeHtml } from '@studylink/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadViewerAssets } from '../src/viewer/viewer.assets.js';
import { FakeStudySource, type Harness, readJson, startHarness } from './harness.js';

const PLAIN = '1.2.826.0.1.3680043.8.498.13.1';
const PIN = '1.2.826.0.1.3680043.8.498.13.2';
const MANY = '1.2.826.0.1.3680043.8.498.13.3';
const BIRTH = '1.2.826.0.1.3680043.8.498.13.4';

let h: Harness;
let plain: string;
let pin: string;
let many: string;
let birth: string;

/** A viewer bundle as `make build` lays it out, with made-up contents (the page is what is tested). */
async function fakeViewerBundle(): Promise<string> {
  const dist = await mkdtemp(join(tmpdir(), 'viewer-dist-'));
  await mkdir(join(dist, 'langs2026'));
  await writeFile(join(dist, 'langs2026', 'viewer.js'), '\n');
  await writeFile(join(dist, 'langs2026', 'viewer-style.css'), '\n');
  await writeFile(
    join(dist, 'manifest.json'),
    JSON.stringify({ hash: 'langs2026', script: 'viewer.js', style: 'viewer-style.css' }),
  );
  return dist;
}

beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: PLAIN, patientName: 'MÜLLER^ANNA' });
  source.add({ studyInstanceUid: PIN });
  source.add({ studyInstanceUid: MANY, seriesCount: 21, instanceCount: 5 });
  source.add({ studyInstanceUid: BIRTH, patientBirthDate: '19800214' });
  h = await startHarness(source, { viewerAssets: await loadViewerAssets(await fakeViewerBundle()) });
  plain = (await readJson(await h.api('PUT', `/api/v1/studies/${PLAIN}/token`))).token;
  pin = (await readJson(await h.api('PUT', `/api/v1/studies/${PIN}/token`, { verification: 'pin' }))).token;
  many = (await readJson(await h.api('PUT', `/api/v1/studies/${MANY}/token`))).token;
  birth = (
    await readJson(await h.api('PUT', `/api/v1/studies/${BIRTH}/token`, { verification: 'birth-date' }))
  ).token;
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

function viewer(token: string, headers: Record<string, string>) {
  return fetch(`${h.url}/token/viewer?${token}`, { headers });
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/**
 * The viewer's own English words left in its chrome, however short ("Zoom", "Study page"): each text
 * of the page (text between tags, parts of the title, aria-labels) that is an English `viewer.*`
 * message the language does not share. Longer English sentences are caught by ENGLISH_RUNS.
 */
function englishViewerWords(html: string, lang: Language): string[] {
  const english = new Map(
    Object.entries(messagesWithPrefix('en', 'viewer.')).map(([key, message]) => [message, key]),
  );
  const texts = [
    ...html.split(/<[^>]+>/).flatMap((t) => unescapeHtml(t).split(' · ')),
    ...[...html.matchAll(/aria-label="([^"]*)"/g)].map((m) => unescapeHtml(m[1] ?? '')),
  ].map((t) => t.trim());
  return texts.filter((t) => {
    const key = english.get(t);
    return key !== undefined && catalogue(lang)[key] !== t;
  });
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
      const dir = RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr';
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
      expect(pages.page).toContain(escapeHtml(catalogue(lang)['page.zipNote'] ?? '-'));
      expect(pages.form).toContain(escapeHtml(catalogue(lang)['verify.pinIntro'] ?? '-'));
    });
  }

  for (const lang of LANGUAGES) {
    it(`${lang}: the viewer page fully translated, lang and dir set, its script's messages in the page`, async () => {
      const res = await viewer(plain, { 'accept-language': `${lang};q=0.9, en;q=0.1` });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain(`<html lang="${lang}" dir="${RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr'}">`);
      expect(html).toContain(`data-lang="${lang}"`);
      // The script's messages: this language's viewer.*, every one English has.
      const attr = /data-messages="([^"]*)"/.exec(html)?.[1];
      expect(attr, lang).toBeDefined();
      const messages = JSON.parse(unescapeHtml(attr ?? '{}')) as Record<string, string>;
      expect(messages).toEqual(messagesWithPrefix(lang, 'viewer.'));
      expect(Object.keys(messages).sort()).toEqual(Object.keys(messagesWithPrefix('en', 'viewer.')).sort());
      expect(html).toContain('MÜLLER, ANNA');
      expect(html).toContain(escapeHtml(catalogue(lang)['viewer.backToStudy'] ?? '-'));
      expect(html).toContain(escapeHtml(catalogue(lang)['viewer.viewport'] ?? '-'));
      if (lang === 'en') return;
      // What is left once the data attribute is out: nothing English but the names (patient, study).
      const page = html.replace(/data-messages="[^"]*"/, '');
      const leftovers = ENGLISH_RUNS.filter((run) => visibleText(page).includes(run));
      expect(leftovers, `${lang} viewer`).toEqual([]);
      expect(englishViewerWords(page, lang), `${lang} viewer`).toEqual([]);
    });
  }

  it('the leftover check on the viewer page sees a single English word', () => {
    const page = '<title>Images · X</title><button>Zoom</button><nav aria-label="Image series"></nav>';
    expect(englishViewerWords(page, 'de')).toEqual(['Images', 'Image series']);
    expect(englishViewerWords(page, 'fr')).toEqual(['Image series']);
  });

  it('the viewer follows the switcher cookie and writes its date in the language', async () => {
    const el = await (await viewer(plain, { cookie: 'studylink_lang=el', 'accept-language': 'de' })).text();
    expect(el).toContain('<html lang="el" dir="ltr">');
    expect(el).toContain('data-lang="el"');
    const de = await (await viewer(plain, { 'accept-language': 'de' })).text();
    expect(de).toContain('21. Januar 2021 · <bdi>CT CHEST</bdi>');
    const ar = await (await viewer(plain, { cookie: 'studylink_lang=ar' })).text();
    expect(ar).toContain('<html lang="ar" dir="rtl">');
    // An error page on the viewer's address is in the language too.
    const gone = await (await viewer('C'.repeat(64), { 'accept-language': 'pl' })).text();
    expect(gone).toContain('<html lang="pl" dir="ltr">');
  });

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

  it('Chinese: zh-CN, zh and zh-Hans-CN reach Simplified; zh-TW gets another language the header names', async () => {
    for (const accept of ['zh-CN,zh;q=0.9', 'zh', 'zh-Hans-CN', 'zh-SG,en;q=0.5']) {
      const page = await (await get(plain, { 'accept-language': accept })).text();
      expect(page, accept).toContain('<html lang="zh-Hans" dir="ltr">');
      expect(page, accept).toContain(catalogue('zh-Hans')['page.title']);
    }
    const tw = await (await get(plain, { 'accept-language': 'zh-TW,zh-Hant;q=0.9,en;q=0.5' })).text();
    expect(tw).toContain('<html lang="en" dir="ltr">');
    // The viewer and the error pages negotiate alike.
    const v = await (await viewer(plain, { 'accept-language': 'zh-CN' })).text();
    expect(v).toContain('data-lang="zh-Hans"');
    const gone = await (await get('E'.repeat(64), { 'accept-language': 'zh-Hant-TW,ja;q=0.8' })).text();
    expect(gone).toContain('<html lang="ja" dir="ltr">');
  });

  it('Hebrew right to left by the switcher: page, PIN form, error page, viewer', async () => {
    const res = await fetch(`${h.url}/token?${plain}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' },
      body: 'lang=he',
    });
    expect(res.status).toBe(303);
    const cookie = (res.headers.getSetCookie().find((c) => c.startsWith('studylink_lang=')) ?? '').split(
      ';',
    )[0];
    expect(cookie).toBe('studylink_lang=he');
    const headers = { cookie: cookie as string, 'accept-language': 'de' };
    for (const html of [
      await (await get(plain, headers)).text(),
      await (await get(pin, headers)).text(),
      await (await get('F'.repeat(64), headers)).text(),
      await (await viewer(plain, headers)).text(),
    ]) {
      expect(html).toContain('<html lang="he" dir="rtl">');
    }
    // Values from the store are isolated from the page's direction: a Latin description keeps its
    // punctuation in place on a right-to-left page (page and viewer alike).
    const [studyPage, viewerPage] = [
      await (await get(plain, headers)).text(),
      await (await viewer(plain, headers)).text(),
    ];
    expect(studyPage).toContain('<dd><bdi>CT CHEST</bdi></dd>');
    expect(viewerPage).toMatch(/<p id="study-meta">[^<]+ · <bdi>CT CHEST<\/bdi><\/p>/);
    // The switcher offers every language, each named in itself and marked with its own lang.
    const page = await (await get(plain, headers)).text();
    for (const lang of LANGUAGES) expect(page).toContain(`<option value="${lang}" lang="${lang}"`);
    expect(page).toContain('<option value="he" lang="he" selected>עברית</option>');
    expect(page).toContain('>简体中文</option>');
  });

  it('dates on the page are written the way the language writes them', async () => {
    expect(await (await get(plain, { 'accept-language': 'de' })).text()).toContain('21. Januar 2021');
    expect(await (await get(plain, { 'accept-language': 'fr' })).text()).toContain('21 janvier 2021');
    expect(await (await get(plain, { 'accept-language': 'ja' })).text()).toContain('2021年1月21日');
    expect(await (await get(plain, { 'accept-language': 'he' })).text()).toContain('21 בינואר 2021');
  });

  it("without a cookie or Accept-Language the viewer is in the server's default language", async () => {
    expect((await h.api('PUT', '/api/v1/server-config', { defaultLanguage: 'nl' })).status).toBe(200);
    try {
      const page = await (await viewer(plain, {})).text();
      expect(page).toContain('<html lang="nl" dir="ltr">');
      expect(page).toContain(escapeHtml(catalogue('nl')['viewer.loading'] ?? '-'));
      const error = await (await viewer('D'.repeat(64), {})).text();
      expect(error).toContain('<html lang="nl" dir="ltr">');
    } finally {
      await h.api('PUT', '/api/v1/server-config', { defaultLanguage: 'en' });
    }
  });
});

describe('Russian and Ukrainian (issue 20)', () => {
  // A Ukrainian reader's browser often lists Russian too; Ukrainian is asked for first.
  const UK = { 'accept-language': 'uk-UA,uk;q=0.9,ru;q=0.8,en;q=0.5' };
  const RU = { 'accept-language': 'ru-RU,ru;q=0.9,en;q=0.5' };

  it("the page counts series and images with the language's plural forms and writes its date", async () => {
    const ru = visibleText(await (await get(plain, RU)).text());
    expect(ru).toContain('Ваше медицинское исследование');
    expect(ru).toContain('2 серии, 20 изображений');
    expect(ru).toContain('21 января 2021');
    expect(visibleText(await (await get(many, RU)).text())).toContain('21 серия, 5 изображений');
    const uk = visibleText(await (await get(plain, UK)).text());
    expect(uk).toContain('Ваше медичне дослідження');
    expect(uk).toContain('2 серії, 20 зображень');
    expect(uk).toContain('21 січня 2021');
    expect(visibleText(await (await get(many, UK)).text())).toContain('21 серія, 5 зображень');
  });

  it('the PIN form, the error page and the viewer in each; the switcher cookie beats Accept-Language', async () => {
    const form = await (await get(pin, UK)).text();
    expect(form).toContain('<html lang="uk" dir="ltr">');
    expect(form).toContain('Підтвердьте, що це ви');
    expect(form).toContain('PIN-код');
    const error = await (await get('E'.repeat(64), RU)).text();
    expect(error).toContain('<html lang="ru" dir="ltr">');
    expect(visibleText(error)).toContain('Обратитесь, пожалуйста, в отделение');
    const chosen = await (await get(plain, { ...UK, cookie: 'studylink_lang=ru' })).text();
    expect(chosen).toContain('<html lang="ru" dir="ltr">');
    const viewerUk = await (await viewer(plain, UK)).text();
    expect(viewerUk).toContain('<html lang="uk" dir="ltr">');
    expect(viewerUk).toContain('21 січня 2021');
    expect(viewerUk).toContain(escapeHtml('Сторінка дослідження'));
  });

  it('the birth-date form: day, month, year in that order, labelled in the language; a wrong date is said so', async () => {
    for (const [headers, labels, wrong] of [
      [RU, ['День', 'Месяц', 'Год'], 'Данные не совпадают.'],
      [UK, ['День', 'Місяць', 'Рік'], 'Дані не збігаються.'],
    ] as const) {
      const form = await (await get(birth, headers)).text();
      expect([...form.matchAll(/<input id="birth-(\w+)"/g)].map((m) => m[1])).toEqual([
        'day',
        'month',
        'year',
      ]);
      expect([...form.matchAll(/<label for="birth-\w+">([^<]*)</g)].map((m) => m[1])).toEqual([...labels]);
      const answer = await fetch(`${h.url}/token?${birth}`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          ...headers,
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
        },
        body: 'birthDay=15&birthMonth=2&birthYear=1980',
      });
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain(wrong);
    }
  });

  it("without a cookie or Accept-Language the page is in the setup's default, Ukrainian", async () => {
    expect((await h.api('PUT', '/api/v1/server-config', { defaultLanguage: 'uk' })).status).toBe(200);
    try {
      const page = await (await get(plain, {})).text();
      expect(page).toContain('<html lang="uk" dir="ltr">');
      expect(visibleText(page)).toContain('2 серії, 20 зображень');
    } finally {
      await h.api('PUT', '/api/v1/server-config', { defaultLanguage: 'en' });
    }
  });
});

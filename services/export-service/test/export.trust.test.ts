import { randomBytes } from 'node:crypto';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import { catalogue, LANGUAGES, RTL_LANGUAGES } from '@studylink/i18n';
import { createLogger, escapeHtml, listen, type RunningServer } from '@studylink/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ExportLimiter } from '../src/export.limiter.js';
import { createTokenServiceClient } from '../src/grant.client.js';
import { FakeStore, FakeTokenService, logSink, makeStudy } from './fakes.js';

const SECRET = randomBytes(32).toString('hex');
const token = () =>
  randomBytes(48)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, 64);

/** Link trust (issue 12) as the zip route sees it: the token service decides, the route obeys. */
describe('the zip route and link trust', () => {
  let store: FakeStore;
  let tokens: FakeTokenService;
  let dicomweb: DicomwebClient;
  let http: RunningServer;
  let base: string;
  const logs = logSink();
  const unverified = token();
  const viewOnly = token();
  const spent = token();
  const fine = token();

  beforeAll(async () => {
    store = new FakeStore();
    await store.start();
    tokens = new FakeTokenService(SECRET);
    await tokens.start();
    const study = store.add(makeStudy(2, 1));
    tokens.grants.set(fine, study.uid);
    tokens.refusals.set(unverified, { status: 403, code: 'verification_required' });
    tokens.refusals.set(viewOnly, { status: 410, code: 'download_not_allowed' });
    tokens.refusals.set(spent, { status: 410, code: 'download_limit_reached' });
    dicomweb = createDicomwebClient({ baseUrl: store.dicomwebUrl, requestTimeoutMs: 5_000 });
    const app = createApp({
      log: createLogger({ service: 'export-service', level: 'debug', destination: logs.stream }),
      tokens: createTokenServiceClient({ baseUrl: tokens.url, secret: SECRET, timeoutMs: 2_000 }),
      dicomweb,
      limiter: new ExportLimiter(2),
      trustedProxies: new Set(['127.0.0.1']),
      isDraining: () => false,
      retry: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10 },
      checkStore: async () => true,
    });
    http = await listen(app.callback(), { host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${http.port}`;
  });
  afterAll(async () => {
    await http?.close(0);
    await dicomweb?.close();
    await store?.stop();
    await tokens?.stop();
    const all = logs.lines.join('\n');
    for (const t of [unverified, viewOnly, spent, fine]) expect(all).not.toContain(t);
    expect(all).not.toContain('v1.7.');
  });

  it('forwards only the verification cookie, asking for a download', async () => {
    const res = await fetch(`${base}/token/study.zip?${fine}`, {
      headers: { cookie: 'other=1; studylink_verified=v1.7.123.abc; studylink_lang=fr' },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(tokens.lastGrantRequest).toMatchObject({
      purpose: 'download',
      verificationCookie: 'v1.7.123.abc',
      languageCookie: 'fr',
      reserve: true,
    });
    // A HEAD (a link checker) reserves none of a limited link's downloads.
    await (await fetch(`${base}/token/study.zip?${fine}`, { method: 'HEAD' })).arrayBuffer();
    expect(tokens.lastGrantRequest).toMatchObject({ purpose: 'download', reserve: false });
  });

  it("says whether the request shows a browser's signs, for the token service to decide (issue 21)", async () => {
    const signs: [Record<string, string>, boolean][] = [
      [{}, false],
      [{ 'user-agent': 'LinkScanner/2.0', cookie: 'studylink_lang=fr' }, false],
      [{ 'sec-fetch-site': 'cross-site' }, false],
      [{ 'sec-fetch-site': 'same-origin' }, true],
      [{ 'sec-fetch-site': 'none', 'sec-fetch-user': '?1' }, true],
      [{ cookie: 'a=b; studylink_browser=1' }, true],
    ];
    for (const [headers, browser] of signs) {
      await (await fetch(`${base}/token/study.zip?${fine}`, { method: 'HEAD', headers })).arrayBuffer();
      expect(tokens.lastGrantRequest, JSON.stringify(headers)).toMatchObject({ browser });
    }
  });

  it('a link not yet confirmed is sent back to its page (and its form), not given a zip', async () => {
    const res = await fetch(`${base}/token/study.zip?${unverified}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/token?${unverified}`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(store.retrievals).toBe(1);
  });

  it('view-only and spent links get a plain 410 page that says why and whom to ask, in their language', async () => {
    const before = store.retrievals;
    const v = await fetch(`${base}/token/study.zip?${viewOnly}`);
    expect(v.status).toBe(410);
    expect(v.headers.get('content-type')).toContain('text/html');
    const vHtml = await v.text();
    expect(vHtml).toContain('for viewing only');
    expect(vHtml).toContain('contact the department');
    const s = await fetch(`${base}/token/study.zip?${spent}`, {
      headers: { 'accept-language': 'de-DE,de;q=0.9' },
    });
    expect(s.status).toBe(410);
    const sHtml = await s.text();
    expect(sHtml).toContain('<html lang="de" dir="ltr">');
    expect(sHtml).not.toContain('downloads it allows');
    const ar = await fetch(`${base}/token/study.zip?${spent}`, { headers: { cookie: 'studylink_lang=ar' } });
    expect(await ar.text()).toContain('<html lang="ar" dir="rtl">');
    // Russian and Ukrainian (issue 20): the refusal in the language, the cookie before Accept-Language.
    const ru = await (
      await fetch(`${base}/token/study.zip?${viewOnly}`, { headers: { 'accept-language': 'ru' } })
    ).text();
    expect(ru).toContain('<html lang="ru" dir="ltr">');
    expect(ru).toContain('Эта ссылка только для просмотра');
    const uk = await (
      await fetch(`${base}/token/study.zip?${spent}`, {
        headers: { 'accept-language': 'ru', cookie: 'studylink_lang=uk' },
      })
    ).text();
    expect(uk).toContain('<html lang="uk" dir="ltr">');
    expect(uk).toContain('За цим посиланням дослідження вже завантажили');
    expect(store.retrievals).toBe(before);
  });

  it('the refusal page in every patient language: its own text, lang and dir (Hebrew and Arabic right to left)', async () => {
    for (const lang of LANGUAGES) {
      const res = await fetch(`${base}/token/study.zip?${spent}`, {
        headers: { cookie: `studylink_lang=${lang}`, 'accept-language': 'de' },
      });
      expect(res.status, lang).toBe(410);
      const html = await res.text();
      expect(html, lang).toContain(`<html lang="${lang}" dir="${RTL_LANGUAGES.has(lang) ? 'rtl' : 'ltr'}">`);
      expect(html, lang).toContain(escapeHtml(catalogue(lang)['error.limitReached.text'] ?? '-'));
    }
    // Accept-Language alone: zh-CN reaches Simplified Chinese, zh-TW does not while another language is named.
    const zh = await fetch(`${base}/token/study.zip?${spent}`, { headers: { 'accept-language': 'zh-CN' } });
    expect(await zh.text()).toContain('<html lang="zh-Hans" dir="ltr">');
    const tw = await fetch(`${base}/token/study.zip?${spent}`, {
      headers: { 'accept-language': 'zh-TW,he;q=0.5' },
    });
    expect(await tw.text()).toContain('<html lang="he" dir="rtl">');
  });
});

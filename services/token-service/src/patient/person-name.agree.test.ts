import { buildReadme } from '@studylink/dicom-media';
import { LANGUAGES, type Language, translator } from '@studylink/i18n';
import { html } from '@studylink/service-kit';
import { describe, expect, it } from 'vitest';
import type { StudyRow } from '../db/tables.js';
import { serverConfigSchema } from '../server-config/server-config.schema.js';
import type { StaffSession } from '../staff/session/staff-session.service.js';
import { renderHandoutPage } from '../staff/studies/study.page.js';
import type { StudySummary } from '../staff/studies/study-search.source.js';
import type { IssuedToken } from '../tokens/token.service.js';
import { renderViewerPage } from '../viewer/viewer.page.js';
import { renderStudyPage } from './patient.page.js';

// One name, four places: the patient page, the viewer's header, the staff handout and the zip's
// README.txt all show what @studylink/i18n's formatPersonName makes of it, in each language.

const UID = '1.2.3.4';
const TOKEN = 'a'.repeat(64);
const config = serverConfigSchema.parse({
  institution: 'St. Example',
  department: 'Radiology',
  publicAddress: '203.0.113.5',
  localAddress: '10.0.0.5',
  port: 3000,
  serverName: '',
  ssl: false,
  zipContent: 'as-stored',
  viewerUrl: 'https://viewer.example.org/',
  defaultExpiryDays: null,
});

function studyRow(pn: string): StudyRow {
  return {
    study_instance_uid: UID,
    patient_name: pn,
    patient_id: 'P1',
    study_id: 'S1',
    accession_number: 'A1',
    description: 'CT HEAD',
    study_date: '20210121',
    study_time: '101500',
    modalities: ['CT'],
    series_count: 1,
    instance_count: 10,
    institution_name: '',
    patient_birth_date: '',
    last_export_bytes: null,
    refreshed_at: new Date(),
    text_source: 'qido',
    qido_text_digest: null,
    refresh_attempted_at: null,
    refresh_failed_at: null,
    refresh_error: null,
  };
}

const unescapeHtml = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');

function onPage(pn: string, lang: Language): string | undefined {
  const page = renderStudyPage({
    token: TOKEN,
    study: studyRow(pn),
    config,
    clientIp: '203.0.113.9',
    t: translator(lang),
    download: { downloadRefusal: null, downloadsRemaining: null },
    history: [],
  });
  const label = translator(lang).t('page.patient');
  const m = new RegExp(`<dt>${label}</dt><dd><bdi>([^<]*)</bdi></dd>`).exec(page);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

function inViewer(pn: string, lang: Language): string | undefined {
  const page = renderViewerPage({
    token: TOKEN,
    studyInstanceUid: UID,
    study: studyRow(pn),
    assets: {
      base: '/assets/viewer/x/',
      scriptUrl: '/v.js',
      styleUrl: '/v.css',
      preloadUrls: [],
      files: new Map(),
    },
    t: translator(lang),
  });
  const m = /<h1 id="patient"><bdi>([^<]*)<\/bdi><\/h1>/.exec(page);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

function onHandout(pn: string, lang: Language): string | undefined {
  const page = renderHandoutPage({
    session: {
      userId: 1,
      username: 'u',
      role: 'admin',
      csrfToken: 'c',
      expiresAt: new Date(),
      singleSignOn: false,
    } as StaffSession,
    view: {
      uid: UID,
      study: {
        studyInstanceUid: UID,
        patientName: pn,
        studyDate: '20210121',
        description: 'CT HEAD',
      } as StudySummary,
      fromCopy: false,
    },
    token: {
      studyInstanceUid: UID,
      token: TOKEN,
      url: `http://203.0.113.5:3000/token?${TOKEN}`,
      verification: 'none',
      expiresAt: null,
    } as IssuedToken,
    qrSvg: html``,
    config,
    lang,
    printPin: false,
  });
  const label = translator(lang).t('page.patient');
  const m = new RegExp(`<dt>${label}</dt><dd><bdi>([^<]*)</bdi></dd>`).exec(page);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

function inReadme(pn: string, lang: Language): string | undefined {
  const text = buildReadme({ patientName: pn, instanceCount: 10, seriesCount: 1, language: lang });
  const label = translator(lang).t('readme.patient');
  const line = text.split('\r\n').find((l) => l.trimStart().startsWith(`${label}:`));
  // The plain text isolates a name that runs the other way (U+2068 … U+2069); HTML uses <bdi>.
  return line
    ?.slice(line.indexOf(`${label}:`) + label.length + 1)
    .trim()
    .replace(/^\u2068(.*)\u2069$/u, '$1');
}

const NAMES: Array<[string, string, Partial<Record<Language, string>>]> = [
  ['Latin, upper case kept', 'DOE^JANE', { en: 'DOE, JANE', ar: 'DOE, JANE' }],
  ['with a suffix', 'Smith^John^Paul^Dr^Jr', { en: 'Smith, Dr John Paul, Jr' }],
  ['empty given name', 'DOE^', { en: 'DOE' }],
  ['Japanese', 'Yamada^Tarou=山田^太郎=やまだ^たろう', { en: 'Yamada, Tarou', fr: 'Yamada, Tarou' }],
  ['Japanese, ideographic only', '=山田^太郎', { en: '山田太郎' }],
  ['Chinese', 'Wang^XiaoDong=王^小東', { de: 'Wang, XiaoDong' }],
  ['Korean', '홍^길동', { en: '홍 길동' }],
  ['Arabic', 'الأحمد^محمد', { ar: 'محمد الأحمد', en: 'محمد الأحمد' }],
  ['Hebrew', 'כהן^שרה', { en: 'שרה כהן' }],
  ['Greek', 'Παπαδόπουλος^Γιώργος', { el: 'Παπαδόπουλος, Γιώργος' }],
  ['Russian', 'Иванов^Иван^Иванович', { en: 'Иванов, Иван Иванович' }],
];

describe('one name, four places', () => {
  it.each(NAMES)(
    '%s (%s): page, viewer, handout and README.txt agree in every language',
    (_, pn, expected) => {
      for (const lang of LANGUAGES) {
        const page = onPage(pn, lang);
        expect(page, lang).toBeTruthy();
        expect({
          lang,
          viewer: inViewer(pn, lang),
          handout: onHandout(pn, lang),
          readme: inReadme(pn, lang),
        }).toEqual({
          lang,
          viewer: page,
          handout: page,
          readme: page,
        });
        if (expected[lang] !== undefined) expect(page, lang).toBe(expected[lang]);
      }
    },
  );

  it('a Chinese or Japanese page prefers the ideographic group', () => {
    const pn = 'Yamada^Tarou=山田^太郎=やまだ^たろう';
    const cjk = LANGUAGES.filter((l) => ['ja', 'zh', 'ko'].includes(l.split('-')[0] ?? ''));
    expect(cjk).toEqual(expect.arrayContaining(['ja', 'zh-Hans']));
    for (const lang of cjk) {
      expect(onPage(pn, lang), lang).toBe('山田太郎');
      expect(inReadme(pn, lang), lang).toBe('山田太郎');
    }
  });
});

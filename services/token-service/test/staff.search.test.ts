import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDicomwebClient, type DicomwebClient } from '@studylink/dicomweb';
import { createLogger } from '@studylink/service-kit';
import {
  CHARSET_SAMPLES,
  type OrthancInstance,
  startOrthanc,
  uploadDirectory,
  uploadWithFreshUids,
  writeSyntheticStudy,
} from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexedText } from '../src/staff/studies/study-index.repository.js';
import { qidoStudySearch } from '../src/staff/studies/study-search.source.js';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

/**
 * The staff search against Orthanc as Debian installs it (DefaultEncoding Latin1: QIDO-RS answers
 * Greek names empty) and as the project tunes it; in both, Orthanc's QIDO-RS matches no name outside
 * ASCII. The search finds each of pydicom's character-set samples by a word in its own script.
 */
describe.each(['stock', 'tuned'] as const)('staff search on a real Orthanc (%s)', (preset) => {
  let orthanc: OrthancInstance;
  let client: DicomwebClient;
  let h: StaffHarness;
  let staff: StaffClient;
  const uid: Record<string, string> = {};

  beforeAll(async () => {
    orthanc = await startOrthanc({ preset });
    for (const s of await uploadWithFreshUids(orthanc, CHARSET_SAMPLES)) uid[s.name] = s.studyInstanceUid;
    const dir = await mkdtemp(join(tmpdir(), 'studylink-search-'));
    // Three studies for the order and the birth-date search: two on one date (by name), one newer.
    for (const [key, patientName, studyDate, patientBirthDate] of [
      ['order-b', 'Ordnung^Berta', '20240310', '19750101'],
      ['order-a', 'Ordnung^Anna', '20240310', '19800214'],
      ['order-new', 'Ordnung^Zeno', '20250101', '19800214'],
    ] as const) {
      const s = await writeSyntheticStudy({
        dir: join(dir, key),
        patientName,
        patientId: `ORD-${key}`,
        series: 1,
        instancesPerSeries: 1,
        rows: 8,
        columns: 8,
        studyDate,
        patientBirthDate,
      });
      await uploadDirectory(orthanc, join(dir, key), 1);
      uid[key] = s.studyInstanceUid;
    }
    client = createDicomwebClient({ baseUrl: orthanc.dicomwebUrl, requestTimeoutMs: 10_000 });
    const log = createLogger({ service: 'token-service', level: 'silent' });
    h = await startStaffHarness({
      studySearch: (studies, database) =>
        qidoStudySearch(client, 10_000, {
          studies,
          known: (uids) => indexedText(database.db, uids),
          log,
          cacheMs: 60_000,
        }),
    });
    ({ staff } = await h.signedInPair());
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    await client?.close();
    await orthanc?.stop();
  });

  /** The study UIDs a search lists, in the page's order. */
  async function found(query: string): Promise<string[]> {
    const res = await staff.get(`/staff/studies?${query}`);
    expect(res.status, query).toBe(200);
    return [...res.text.matchAll(/href="\/staff\/studies\/([0-9.]+)"/g)].map((m) => m[1] as string);
  }
  const byName = (name: string) => found(`patientName=${encodeURIComponent(name)}`);
  let walked: Promise<{ seen: number; removed: number }> | undefined;
  /** One walk of the whole store into the index, for the tests that need it. */
  const walkOnce = () => {
    walked ??= h.staff.finder.walkStore();
    return walked;
  };

  it('an ASCII name is found through the store before any walk; a Greek one needs the index', async () => {
    expect(await byName('buc')).toEqual(
      expect.arrayContaining([uid['chrFren.dcm'], uid['chrFrenMulti.dcm']]),
    );
    // The store's own QIDO-RS cannot match it: before a walk, nothing.
    expect(await byName('Διονυσιος')).toEqual([]);
  });

  it('after a walk of the store, the first word of each name in its own script lists the study', async () => {
    expect((await walkOnce()).seen).toBe(CHARSET_SAMPLES.length + 3);
    const cases: [string, string[]][] = [
      ['Διονυσιος', ['chrGreek.dcm']],
      ['Люк*', ['chrRuss.dcm']],
      ['قباني', ['chrArab.dcm']],
      ['שרון', ['chrHbrw.dcm']],
      ['やまだ*', ['chrJapMulti.dcm', 'chrJapMultiExplicitIR6.dcm', 'chrH31.dcm', 'chrH32.dcm']],
      ['山田', ['chrH31.dcm', 'chrH32.dcm']],
      ['山田太郎', ['chrH31.dcm', 'chrH32.dcm']],
      ['김희중', ['chrKoreanMulti.dcm']],
      ['王', ['chrX1.dcm', 'chrX2.dcm']],
      ['Äneas', ['chrGerm.dcm']],
    ];
    for (const [name, samples] of cases) {
      const rows = await byName(name);
      expect(rows.sort(), name).toEqual(samples.map((s) => uid[s]).sort());
    }
  });

  it('case, accents and the form of kana do not matter; * is a prefix anywhere', async () => {
    await walkOnce();
    const greek = [uid['chrGreek.dcm']];
    expect(await byName('διονυσιος')).toEqual(greek);
    expect(await byName('ΔΙΟΝΎΣΙΟΣ')).toEqual(greek);
    expect(await byName('Διον*')).toEqual(greek);
    expect(await byName('Διον')).toEqual(greek);
    expect(await byName('ЛЮК')).toEqual([uid['chrRuss.dcm']]);
    expect((await byName('jerome')).sort()).toEqual([uid['chrFren.dcm'], uid['chrFrenMulti.dcm']].sort());
    expect((await byName('JÉRÔME buc')).sort()).toEqual([uid['chrFren.dcm'], uid['chrFrenMulti.dcm']].sort());
    expect(await byName('aneas rudiger')).toEqual([uid['chrGerm.dcm']]);
    // Katakana (and half-width katakana) find the hiragana and half-width names alike.
    expect((await byName('ヤマダ')).sort()).toEqual(
      ['chrJapMulti.dcm', 'chrJapMultiExplicitIR6.dcm', 'chrH31.dcm', 'chrH32.dcm'].map((s) => uid[s]).sort(),
    );
    expect((await byName('ﾀﾛｳ')).sort()).toEqual(
      ['chrJapMulti.dcm', 'chrJapMultiExplicitIR6.dcm', 'chrH31.dcm', 'chrH32.dcm'].map((s) => uid[s]).sort(),
    );
    // The voicing mark counts: やまた is not やまだ.
    expect(await byName('やまた')).toEqual([]);
    expect(await byName('*ονυσ*')).toEqual(greek);
    expect(await byName('Ξενοφων')).toEqual([]);
  });

  it('shows the names as the files hold them, with the birth date', async () => {
    await walkOnce();
    const res = await staff.get(`/staff/studies?patientName=${encodeURIComponent('Διονυσιος')}`);
    expect(res.text).toContain('Διονυσιος');
    const zeno = await staff.get('/staff/studies?patientName=zeno');
    expect(zeno.text).toContain('<th scope="col">Date of birth</th>');
    const row = zeno.text.split('<tr>').find((r) => r.includes('Zeno')) as string;
    expect(row).toContain(
      `<td class="nowrap">${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(Date.UTC(1980, 1, 14))}</td>`,
    );
  });

  it('searches by birth date and by date range, newest study first, then by name', async () => {
    await walkOnce();
    expect(await found('birthDate=1980-02-14')).toEqual([uid['order-new'], uid['order-a']]);
    expect(await found('patientName=ordnung')).toEqual([uid['order-new'], uid['order-a'], uid['order-b']]);
    expect(await found('patientName=ordnung&from=2024-01-01&to=2024-12-31')).toEqual([
      uid['order-a'],
      uid['order-b'],
    ]);
    expect(await found('patientName=ordnung&from=2025-01-01')).toEqual([uid['order-new']]);
    const all = await found('');
    expect(all.slice(0, 3)).toEqual([uid['order-new'], uid['order-a'], uid['order-b']]);
  });

  it('a study the store no longer has leaves the index at the next complete walk', async () => {
    await walkOnce();
    const gone = uid['chrX2.dcm'] as string;
    const [study] = (await (
      await fetch(`${orthanc.httpUrl}/tools/lookup`, { method: 'POST', body: gone })
    ).json()) as {
      ID: string;
    }[];
    expect((await fetch(`${orthanc.httpUrl}/studies/${study?.ID}`, { method: 'DELETE' })).status).toBe(200);
    expect(await h.staff.finder.walkStore()).toMatchObject({ removed: 1 });
    expect(await byName('王')).toEqual([uid['chrX1.dcm']]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birthDateOfForm } from '../src/patient/patient.routes.js';
import { FakeStudySource, type Harness, type Json, readJson, startHarness } from './harness.js';

// Issue 20: the birth date as day, month and year in the language's order; any date a DA can hold.
const OLD = '1.2.826.0.1.3680043.8.498.20.21';
const ZEROS = '1.2.826.0.1.3680043.8.498.20.22';
const FEB30 = '1.2.826.0.1.3680043.8.498.20.23';

let h: Harness;
beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: OLD, patientBirthDate: '18000101' });
  source.add({ studyInstanceUid: ZEROS, patientBirthDate: '00000000' });
  source.add({ studyInstanceUid: FEB30, patientBirthDate: '19800230' });
  h = await startHarness(source);
});
afterAll(async () => {
  await h?.close();
});

const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };
const inputOrder = (page: string) =>
  [...page.matchAll(/<input id="birth-(day|month|year)"/g)].map((m) => m[1]);

describe('the birth-date form', () => {
  it('a study born 1800-01-01: issued, its form in French (day, month, year) and Arabic (rtl), the answer opens it', async () => {
    const res = await h.api('PUT', `/api/v1/studies/${OLD}/token`, { verification: 'birth-date' });
    expect(res.status).toBe(201);
    const { token } = (await readJson(res)) as Json;
    const fr = await (
      await fetch(`${h.url}/token?${token}`, { headers: { 'accept-language': 'fr' } })
    ).text();
    expect(inputOrder(fr)).toEqual(['day', 'month', 'year']);
    expect(fr).toContain('<legend>Date de naissance</legend>');
    expect(fr).toMatch(/autocomplete="bday-year"/);
    // No browser date picker with its own limits (min="1880-01-01" refused 1800).
    expect(fr).not.toContain('type="date"');
    const en = await (
      await fetch(`${h.url}/token?${token}`, { headers: { 'accept-language': 'en' } })
    ).text();
    expect(inputOrder(en)).toEqual(['day', 'month', 'year']);
    const ar = await (
      await fetch(`${h.url}/token?${token}`, { headers: { 'accept-language': 'ar' } })
    ).text();
    expect(ar).toContain('dir="rtl"');
    expect(inputOrder(ar)).toEqual(['day', 'month', 'year']);
    // Year first where the language writes it so; Hebrew right to left, day first.
    for (const [accept, order, dir] of [
      ['ja', ['year', 'month', 'day'], 'ltr'],
      ['zh-CN', ['year', 'month', 'day'], 'ltr'],
      ['he', ['day', 'month', 'year'], 'rtl'],
    ] as const) {
      const page = await (
        await fetch(`${h.url}/token?${token}`, { headers: { 'accept-language': accept } })
      ).text();
      expect(page, accept).toContain(`dir="${dir}"`);
      expect(inputOrder(page), accept).toEqual(order);
    }

    const post = (fields: Record<string, string>) =>
      fetch(`${h.url}/token?${token}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...SAME_ORIGIN, 'accept-language': 'fr' },
        body: new URLSearchParams(fields).toString(),
      });
    const impossible = await post({ birthDay: '31', birthMonth: '2', birthYear: '1800' });
    expect(impossible.status).toBe(400);
    expect(await impossible.text()).toContain('Veuillez saisir une date réelle');
    const wrong = await post({ birthDay: '2', birthMonth: '1', birthYear: '1800' });
    expect(wrong.status).toBe(200);
    const right = await post({ birthDay: '1', birthMonth: '01', birthYear: '1800' });
    expect(right.status).toBe(303);
    expect(right.headers.getSetCookie().join(';')).toMatch(/HttpOnly/);
  });

  it('Japanese and Hebrew: 1800-01-01 opens the link; an impossible date is told in the language', async () => {
    for (const [accept, notReal] of [
      ['ja', '正しい日付を入力してください'],
      ['he', 'נא להזין תאריך אמיתי'],
    ] as const) {
      await h.api('DELETE', `/api/v1/studies/${OLD}/token`);
      const res = await h.api('PUT', `/api/v1/studies/${OLD}/token`, { verification: 'birth-date' });
      expect(res.status).toBe(201);
      const { token } = (await readJson(res)) as Json;
      const post = (fields: Record<string, string>) =>
        fetch(`${h.url}/token?${token}`, {
          method: 'POST',
          redirect: 'manual',
          headers: { ...SAME_ORIGIN, 'accept-language': accept },
          body: new URLSearchParams(fields).toString(),
        });
      const impossible = await post({ birthYear: '1800', birthMonth: '2', birthDay: '30' });
      expect(impossible.status, accept).toBe(400);
      expect(await impossible.text(), accept).toContain(notReal);
      const right = await post({ birthYear: '1800', birthMonth: '1', birthDay: '1' });
      expect(right.status, accept).toBe(303);
    }
  });

  it('the fields compose YYYY-MM-DD; a two-digit year is not guessed; birthDate still works alone', () => {
    expect(birthDateOfForm({ birthDay: '1', birthMonth: '1', birthYear: '1800' })).toBe('1800-01-01');
    expect(birthDateOfForm({ birthDay: '14', birthMonth: '2', birthYear: '80' })).toBe('invalid');
    expect(birthDateOfForm({ birthDay: 'x', birthMonth: '2', birthYear: '1980' })).toBe('invalid');
    expect(birthDateOfForm({ birthDate: '1980-02-14' })).toBe('1980-02-14');
  });
});

describe('issuing a birth-date link', () => {
  it('is refused (422) for a study whose birth date is not a real date: 00000000, 19800230', async () => {
    for (const uid of [ZEROS, FEB30]) {
      const res = await h.api('PUT', `/api/v1/studies/${uid}/token`, { verification: 'birth-date' });
      expect(res.status, uid).toBe(422);
    }
    // Without the second factor the same studies get their links.
    expect((await h.api('PUT', `/api/v1/studies/${ZEROS}/token`, {})).status).toBe(201);
  });
});

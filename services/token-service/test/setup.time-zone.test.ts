import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

// Issue 20: every time a patient or staff member reads is in the setup's zone, labelled, without
// seconds where they mean nothing; the API keeps ISO 8601.
const TOKYO = '1.2.826.0.1.3680043.8.498.20.11';
const NY_BEFORE = '1.2.826.0.1.3680043.8.498.20.12';
const NY_AFTER = '1.2.826.0.1.3680043.8.498.20.13';

let h: StaffHarness;
let staff: StaffClient;
const api = (method: string, path: string, body?: unknown) =>
  fetch(`${h.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${h.adminKey}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const setZone = async (timeZone: string) =>
  expect((await api('PUT', '/api/v1/server-config', { timeZone })).status).toBe(200);
const token = async (uid: string) =>
  (await (await api('GET', `/api/v1/studies/${uid}/token`)).json()) as { token: string; expiresAt: string };

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({ studyInstanceUid: TOKYO, studyDate: '20260312', studyTime: '140530.25' });
  // The night of 13 to 14 March 2027 New York moves from EST (UTC-5) to EDT (UTC-4).
  h.source.add({ studyInstanceUid: NY_BEFORE, studyDate: '20270313', studyTime: '120000' });
  h.source.add({ studyInstanceUid: NY_AFTER, studyDate: '20270314', studyTime: '120000' });
  ({ staff } = await h.signedInPair());
});
afterAll(async () => {
  await h?.close();
});

describe('Asia/Tokyo', () => {
  it("the patient page's study time and link history, the staff page's expiry: in Tokyo, labelled, no seconds", async () => {
    await setZone('Asia/Tokyo');
    // Staff pick the last day; the link works until midnight in Tokyo.
    expect((await staff.post(`/staff/studies/${TOKYO}/token`, { expires: '2031-03-04' })).status).toBe(303);
    const issued = await token(TOKYO);
    expect(issued.expiresAt).toBe('2031-03-04T14:59:59.999Z');
    const study = await staff.get(`/staff/studies/${TOKYO}`);
    expect(study.text).toContain('2031-03-04 23:59 GMT+9');
    expect(study.text).toContain('2026-03-12 14:05 GMT+9');
    expect(study.text).not.toMatch(/\d\d:\d\d UTC/);

    await fetch(`${h.url}/token?${issued.token}`);
    const page = await (await fetch(`${h.url}/token?${issued.token}`)).text();
    expect(page).toContain('12 March 2026 at 14:05 GMT+9');
    expect(page).not.toContain('14:05:30');
    // The earlier view in the link's history, in Tokyo time with its label.
    const history = /<section class="history">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    const times = [...history.matchAll(/<time datetime="([^"]+)">([^<]+)<\/time>/g)];
    expect(times.length).toBeGreaterThan(0);
    for (const [, iso = '', shown = ''] of times) {
      const tokyo = new Date(new Date(iso).getTime() + 9 * 3_600_000);
      const hhmm = tokyo.toISOString().slice(11, 16);
      expect(shown).toContain(`${hhmm} GMT+9`);
      expect(shown).not.toContain('UTC');
    }
    // The access log reads in Tokyo too, with seconds (they tell events apart there).
    const log = await staff.get(`/staff/access-log?study=${TOKYO}`);
    expect(log.text).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+9/);
  });
});

describe('America/New_York across the change to daylight time', () => {
  it('the last day before and the day of the change end at local midnight, labelled EST then EDT', async () => {
    await setZone('America/New_York');
    await staff.post(`/staff/studies/${NY_BEFORE}/token`, { expires: '2027-03-13' });
    await staff.post(`/staff/studies/${NY_AFTER}/token`, { expires: '2027-03-14' });
    const before = await token(NY_BEFORE);
    const after = await token(NY_AFTER);
    expect(before.expiresAt).toBe('2027-03-14T04:59:59.999Z');
    expect(after.expiresAt).toBe('2027-03-15T03:59:59.999Z');
    expect((await staff.get(`/staff/studies/${NY_BEFORE}`)).text).toContain('2027-03-13 23:59 GMT-5');
    expect((await staff.get(`/staff/studies/${NY_AFTER}`)).text).toContain('2027-03-14 23:59 GMT-4');

    // Noon on each day: the same wall time, the zone's offset changed.
    expect(await (await fetch(`${h.url}/token?${before.token}`)).text()).toContain(
      '13 March 2027 at 12:00 GMT-5',
    );
    expect(await (await fetch(`${h.url}/token?${after.token}`)).text()).toContain(
      '14 March 2027 at 12:00 GMT-4',
    );
    // The handout's expiry is the New York day (in UTC it would already be the 14th).
    const handout = await staff.get(`/staff/studies/${NY_BEFORE}/handout?lang=en`);
    expect(handout.text).toContain('13 March 2027');
    expect(handout.text).not.toContain('14 March 2027');
  });
});

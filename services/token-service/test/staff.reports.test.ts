import { samplePdfReport } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

// Issue 20, the staff side: the study page says whether the study has a report (pushed by the RIS,
// or an SR/document in the study's modalities) and whether the link shows it; the link form takes
// the report choice, and the active link's choice is changed in place (logged).
let h: StaffHarness;
let staff: StaffClient;
const PUSHED = '1.2.826.0.1.3680043.8.498.2020';
const WITH_SR = '1.2.826.0.1.3680043.8.498.2021';

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({ studyInstanceUid: PUSHED, patientName: 'REPORT^RITA' });
  h.source.add({ studyInstanceUid: WITH_SR, patientName: 'REPORT^SAM', modalities: ['CT', 'SR'] });
  await h.addUser('carol', 'staff');
  staff = h.client();
  await staff.signInOrThrow('carol');
});

afterAll(async () => {
  await h.close();
});

describe('the report on the staff study page', () => {
  it('a link made holding the report back says so; released on the same link, logged', async () => {
    await staff.get(`/staff/studies/${PUSHED}`);
    const none = await staff.get(`/staff/studies/${PUSHED}`);
    // No link yet: what is known of the report is said all the same.
    expect(none.text).toContain('None known');
    expect(none.text).toContain('name="includeReport" value="hold"');
    await h.database.pool.query(
      "INSERT INTO study_reports (study_instance_uid, id, pdf, sha256, bytes, uploaded_by) VALUES ($1, 'r1', $2, $3, $4, 'api-key:1:ris')",
      [PUSHED, samplePdfReport(), 'a'.repeat(64), samplePdfReport().length],
    );
    const made = await staff.post(`/staff/studies/${PUSHED}/token`, { never: '1', includeReport: 'hold' });
    expect(made.status).toBe(303);
    const page = await staff.get(`/staff/studies/${PUSHED}`);
    expect(page.text).toContain('A PDF pushed by the RIS');
    expect(page.text).toContain('Held back on this link');
    expect(page.text).toMatch(/name="includeReport" value="hold" checked/);

    const released = await staff.post(`/staff/studies/${PUSHED}/report`, { includeReport: 'show' });
    expect(released.status).toBe(303);
    expect(released.location).toBe(`/staff/studies/${PUSHED}?done=report`);
    const after = await staff.get(released.location as string);
    expect(after.text).toContain('This link shows it');
    const rows = await h.database.pool.query(
      "SELECT actor, detail FROM access_log WHERE event = 'token_report_changed' AND study_instance_uid = $1",
      [PUSHED],
    );
    expect(rows.rows).toEqual([{ actor: 'staff:carol', detail: { includeReport: true } }]);
    expect((await staff.post(`/staff/studies/${PUSHED}/report`, { includeReport: 'maybe' })).status).toBe(
      400,
    );
  });

  it('an SR among the modalities counts as a report in the study; a link following the setup says so', async () => {
    await staff.get(`/staff/studies/${WITH_SR}`);
    expect((await staff.post(`/staff/studies/${WITH_SR}/token`, { never: '1' })).status).toBe(303);
    const page = await staff.get(`/staff/studies/${WITH_SR}`);
    expect(page.text).toContain('A report in the study (SR or PDF)');
    expect(page.text).toContain('This link shows it');
    expect(page.text).toContain('(as the setup says)');
  });
});

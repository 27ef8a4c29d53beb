import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

// Issue 12, the staff side: link options when making or replacing a link, the PIN shown again
// (logged), downloads used, a locked link with an Unlock button, the handout's language and PIN.
let h: StaffHarness;
let staff: StaffClient;
const PIN_STUDY = '1.2.826.0.1.3680043.8.498.120';
const NO_BIRTH = '1.2.826.0.1.3680043.8.498.121';
const LIMITED = '1.2.826.0.1.3680043.8.498.122';
const CYRILLIC = '1.2.826.0.1.3680043.8.498.123';
const secrets: string[] = [];

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({ studyInstanceUid: PIN_STUDY, patientName: 'PIN^PAULA', patientBirthDate: '19700101' });
  h.source.add({ studyInstanceUid: NO_BIRTH, patientName: 'NOBIRTH^NINA', patientBirthDate: '' });
  h.source.add({ studyInstanceUid: LIMITED, patientName: 'LIMIT^LARS', patientBirthDate: '19700101' });
  h.source.add({ studyInstanceUid: CYRILLIC, patientName: 'ШЕВЧЕНКО^ОЛЕНА', patientBirthDate: '19700101' });
  await h.addUser('carol', 'staff');
  staff = h.client();
  await staff.signInOrThrow('carol');
});

afterAll(async () => {
  const all = h.logs.join('\n');
  for (const s of secrets) expect(all).not.toContain(s);
  await h.close();
});

async function events(event: string, uid: string) {
  const r = await h.database.pool.query(
    'SELECT * FROM access_log WHERE event = $1 AND study_instance_uid = $2',
    [event, uid],
  );
  return r.rows;
}

describe('making a link with options', () => {
  it('a PIN link: the study page hides the PIN until asked, then shows it and logs that', async () => {
    await staff.get(`/staff/studies/${PIN_STUDY}`);
    const made = await staff.post(`/staff/studies/${PIN_STUDY}/token`, {
      never: '1',
      verification: 'pin',
      maxDownloads: '2',
    });
    expect(made.status).toBe(303);
    const page = await staff.get(`/staff/studies/${PIN_STUDY}`);
    expect(page.text).toContain('Show PIN');
    expect(page.text).toContain('0 of 2');
    expect(page.text).not.toMatch(/class="mono pin">\d{6}/);
    expect((await events('pin_displayed', PIN_STUDY)).length).toBe(0);

    const shown = await staff.get(`/staff/studies/${PIN_STUDY}/pin`);
    const pin = /class="mono pin">(\d{6})</.exec(shown.text)?.[1];
    expect(pin).toMatch(/^\d{6}$/);
    secrets.push(pin as string, /token\?([A-Za-z0-9]{64})/.exec(shown.text)?.[1] as string);
    const logged = await events('pin_displayed', PIN_STUDY);
    expect(logged.length).toBe(1);
    expect(logged[0]).toMatchObject({ actor: 'staff:carol' });
    expect(JSON.stringify(logged)).not.toContain(pin);

    // The handout: in the language picked, with the PIN printed only when asked.
    const plain = await staff.get(`/staff/studies/${PIN_STUDY}/handout?lang=fr`);
    expect(plain.text).toContain('lang="fr"');
    expect(plain.text).toContain('Un code PIN vous sera communiqué par téléphone.');
    expect(plain.text).not.toContain(pin);
    // The sheet's QR code is labelled in the sheet's language for screen readers.
    expect(plain.text).toContain('aria-label="Code QR du lien"');
    const withPin = await staff.get(`/staff/studies/${PIN_STUDY}/handout?lang=ar&pin=1`);
    expect(withPin.text).toContain('dir="rtl"');
    expect(withPin.text).toContain(`رمزك السري: ${pin}`);
    expect((await events('pin_displayed', PIN_STUDY)).length).toBe(2);
  });

  it('the handout in Russian and Ukrainian (issue 20): its second factor and its expiry date in the language', async () => {
    await staff.get(`/staff/studies/${CYRILLIC}`);
    const made = await staff.post(`/staff/studies/${CYRILLIC}/token`, {
      expires: '2031-03-04',
      verification: 'birth-date',
    });
    expect(made.status).toBe(303);
    const ru = (await staff.get(`/staff/studies/${CYRILLIC}/handout?lang=ru`)).text.replace(/\s+/g, ' ');
    expect(ru).toContain('lang="ru"');
    expect(ru).toContain('Ваше медицинское исследование онлайн');
    expect(ru).toContain('Чтобы открыть ссылку, нужно будет ввести вашу дату рождения.');
    expect(ru).toContain('Ссылка действует до 4 марта 2031 г.');
    expect(ru).toContain('aria-label="QR-код ссылки"');
    const uk = (await staff.get(`/staff/studies/${CYRILLIC}/handout?lang=uk`)).text.replace(/\s+/g, ' ');
    expect(uk).toContain('lang="uk"');
    expect(uk).toContain('Ваше медичне дослідження онлайн');
    expect(uk).toContain('Щоб відкрити посилання, потрібно буде ввести вашу дату народження.');
    expect(uk).toContain('Посилання діє до 4 березня 2031 р.');
  });

  it('a locked link shows as locked with an Unlock button that lifts the lock', async () => {
    await h.database.pool.query(
      "UPDATE tokens SET locked_until = now() + interval '10 minutes' WHERE study_instance_uid = $1",
      [PIN_STUDY],
    );
    const page = await staff.get(`/staff/studies/${PIN_STUDY}`);
    expect(page.text).toContain('Locked until');
    expect(page.text).toContain(`action="/staff/studies/${PIN_STUDY}/unlock"`);
    const unlocked = await staff.post(`/staff/studies/${PIN_STUDY}/unlock`);
    expect(unlocked.status).toBe(303);
    expect(unlocked.location).toBe(`/staff/studies/${PIN_STUDY}?done=unlocked`);
    const after = await staff.get(unlocked.location as string);
    expect(after.text).not.toContain('Locked until');
    expect(after.text).toContain('The link was unlocked');
    expect((await events('token_unlocked', PIN_STUDY))[0]).toMatchObject({ actor: 'staff:carol' });
  });

  it('birth date for a study without one is refused on the form, and replacing keeps the old link', async () => {
    await staff.get(`/staff/studies/${NO_BIRTH}`);
    const refused = await staff.post(`/staff/studies/${NO_BIRTH}/token`, {
      never: '1',
      verification: 'birth-date',
    });
    expect(refused.status).toBe(422);
    expect(refused.text).toContain('no date of birth for this patient');
    const made = await staff.post(`/staff/studies/${NO_BIRTH}/token`, { never: '1', verification: 'none' });
    expect(made.status).toBe(303);
    await staff.get(`/staff/studies/${NO_BIRTH}/reissue`);
    const replace = await staff.post(`/staff/studies/${NO_BIRTH}/reissue`, {
      never: '1',
      verification: 'birth-date',
    });
    expect(replace.status).toBe(422);
    expect((await events('token_revoked', NO_BIRTH)).length).toBe(0);
  });

  it('a view-only link and a bad limit', async () => {
    await staff.get(`/staff/studies/${LIMITED}`);
    const bad = await staff.post(`/staff/studies/${LIMITED}/token`, { never: '1', maxDownloads: '0' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('allow at least 1 download');
    const made = await staff.post(`/staff/studies/${LIMITED}/token`, { never: '1', viewOnly: '1' });
    expect(made.status).toBe(303);
    const page = await staff.get(`/staff/studies/${LIMITED}`);
    expect(page.text).toContain('View only: no download');
    secrets.push(/token\?([A-Za-z0-9]{64})/.exec(page.text)?.[1] as string);
  });
});

describe('server setup', () => {
  it('admins set the default patient check and language', async () => {
    await h.addUser('dana', 'admin');
    const admin = h.client();
    await admin.signInOrThrow('dana');
    const form = await admin.get('/staff/setup');
    expect(form.text).toContain('name="defaultVerification"');
    expect(form.text).toContain('name="defaultLanguage"');
    const saved = await admin.post('/staff/setup', {
      institution: 'St. Example Hospital',
      department: 'Radiology',
      publicAddress: '203.0.113.10',
      localAddress: '',
      port: '3000',
      serverName: '',
      zipContent: 'as-stored',
      viewerUrl: '',
      defaultExpiryDays: '',
      defaultVerification: 'pin',
      defaultLanguage: 'nl',
    });
    expect(saved.status).toBe(303);
    const again = await admin.get('/staff/setup');
    expect(again.text).toMatch(/value="pin" checked/);
    expect(again.text).toMatch(/<option value="nl" lang="nl" selected>/);
    const bad = await admin.post('/staff/setup', {
      defaultLanguage: 'xx',
      port: '3000',
      zipContent: 'as-stored',
    });
    expect(bad.status).toBe(400);
  });
});

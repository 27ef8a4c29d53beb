import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAccessEvent } from '../src/access-log/access-log.repository.js';
import { DeliveryService } from '../src/deliveries/delivery.service.js';
import { smtpMailSender } from '../src/deliveries/mail.sender.js';
import { messagesApiSmsSender } from '../src/deliveries/sms.sender.js';
import { MessagesApi, SmtpSink } from './delivery.fixtures.js';
import type { StaffClient, StaffHarness } from './staff.harness.js';
import { startStaffHarness } from './staff.harness.js';

// Issue 21, staff side: "Send to the patient" on the study page with the deliveries' status beside
// the link, the setup's read-only delivery settings, and the list of active links.
const SENT = '1.2.826.0.1.3680043.8.498.21.11';
const SOON = '1.2.826.0.1.3680043.8.498.21.12';
const OPENED = '1.2.826.0.1.3680043.8.498.21.13';

let h: StaffHarness;
let smtp: SmtpSink;
let dir: string;
const sms = new MessagesApi();
let bob: StaffClient;
let sender: DeliveryService;
let alice: StaffClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smtp-sink-'));
  smtp = new SmtpSink(await freePort(), dir);
  await smtp.start();
  await sms.start();
  h = await startStaffHarness({
    deliveries: (d) =>
      (sender = new DeliveryService({
        ...d,
        mail: smtpMailSender(`smtp://127.0.0.1:${smtp.port}`, 'noreply@hospital.example', 5_000),
        sms: messagesApiSmsSender({
          apiUrl: sms.url,
          accountSid: 'AC1',
          authToken: 'secret-auth',
          from: 'Hospital',
        }),
        missing: { mail: [], sms: [] },
        shown: {
          mail: { server: `smtp://127.0.0.1:${smtp.port}`, from: 'noreply@hospital.example', missing: [] },
          sms: { apiUrl: sms.url, accountSid: 'AC1', from: 'Hospital', missing: [] },
        },
      })),
  });
  for (const uid of [SENT, SOON, OPENED])
    h.source.add({ studyInstanceUid: uid, patientName: `LINK^${uid.slice(-2)}` });
  ({ admin: alice, staff: bob } = await h.signedInPair());
});

afterAll(async () => {
  await h?.close();
  await smtp?.stop();
  await new Promise((r) => sms.server.close(r));
  await rm(dir, { recursive: true, force: true });
});

async function makeLink(uid: string, fields: Record<string, string>): Promise<void> {
  await bob.get(`/staff/studies/${uid}`);
  const res = await bob.post(`/staff/studies/${uid}/token`, fields);
  expect(res.status).toBe(303);
}

describe('send to the patient', () => {
  it('the study page sends the link by e-mail and the PIN by SMS, and shows their status', async () => {
    await makeLink(SENT, { never: '1', verification: 'pin' });
    const page = await bob.get(`/staff/studies/${SENT}`);
    expect(page.text).toContain('Send to the patient');
    expect(page.text).toContain(`action="/staff/studies/${SENT}/deliveries"`);
    expect(page.text).toContain('Not sent yet.');
    expect(page.text).toContain('Shared by the patient');
    expect(page.text).toContain('The patient has not shared this link.');

    const bad = await bob.post(`/staff/studies/${SENT}/deliveries`, {
      email: 'nope',
      phone: '12',
      language: 'en',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Enter an e-mail address like name@example.org.');
    expect(bad.text).toContain('Enter the number in international format');
    const none = await bob.post(`/staff/studies/${SENT}/deliveries`, {
      email: '',
      phone: '',
      language: 'en',
    });
    expect(none.status).toBe(400);

    const sent = await bob.post(`/staff/studies/${SENT}/deliveries`, {
      email: 'patient@example.org',
      phone: '+44 (7700) 900-123',
      language: 'nl',
    });
    expect(sent.status).toBe(303);
    expect(sent.location).toBe(`/staff/studies/${SENT}?done=sent`);
    let shown = await bob.get(sent.location ?? '');
    expect(shown.text).toMatch(/data-status="queued"[\s\S]*p\*\*\*@example\.org/);
    await sender.runOnce();
    shown = await bob.get(`/staff/studies/${SENT}`);
    const rows = [
      ...shown.text.matchAll(
        /<tr data-delivery="\d+" data-status="(\w+)">[\s\S]*?<td class="mono">([^<]+)</g,
      ),
    ];
    expect(rows.map((m) => [m[1], m[2]])).toEqual([
      ['sent', 'p***@example.org'],
      ['sent', '+44*******123'],
    ]);
    expect(shown.text).not.toContain('patient@example.org');
    const [mail] = await smtp.messages();
    expect(mail?.contentLanguage).toBe('nl');
    expect(sms.requests.map((r) => r.form.get('To'))).toEqual(['+447700900123']);
  });

  it('one channel: the flash says the PIN was not sent', async () => {
    const res = await bob.post(`/staff/studies/${SENT}/deliveries`, {
      email: 'patient@example.org',
      language: 'en',
    });
    expect(res.location).toBe(`/staff/studies/${SENT}?done=sent-pin-not-sent`);
    expect((await bob.get(res.location ?? '')).text).toContain('Its PIN was not sent');
  });

  it('the setup page shows the delivery settings read-only, never a secret', async () => {
    const page = await alice.get('/staff/setup');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Sending links to patients');
    expect(page.text).toContain('noreply@hospital.example');
    expect(page.text).toContain('SMS_ACCOUNT_SID');
    expect(page.text).not.toContain('secret-auth');
  });
});

describe('active links', () => {
  it('lists active links, marks those expiring soon and those never opened, and filters them', async () => {
    const inThreeDays = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    await makeLink(SOON, { expires: inThreeDays, verification: 'none' });
    await makeLink(OPENED, { never: '1', verification: 'none' });
    const opened = await h.database.db
      .selectFrom('tokens')
      .select('id')
      .where('study_instance_uid', '=', OPENED)
      .executeTakeFirstOrThrow();
    // A bare fetch of the page is not an opening; the viewer is.
    await appendAccessEvent(h.database.db, { event: 'page_view', outcome: 'fetched', tokenId: opened.id });
    const listed = (text: string) =>
      [...text.matchAll(/<a href="\/staff\/studies\/([\d.]+)">/g)].map((m) => m[1]);

    let page = await bob.get('/staff/links');
    expect(page.status).toBe(200);
    expect(listed(page.text)).toEqual([OPENED, SOON, SENT]);
    expect(page.text).toContain('expires soon');
    expect(listed((await bob.get('/staff/links?filter=expiring')).text)).toEqual([SOON]);
    expect(listed((await bob.get('/staff/links?filter=unopened')).text)).toEqual([OPENED, SOON, SENT]);

    await appendAccessEvent(h.database.db, { event: 'viewer_opened', outcome: 'ok', tokenId: opened.id });
    page = await bob.get('/staff/links?filter=unopened');
    expect(listed(page.text)).toEqual([SOON, SENT]);
    expect(listed((await bob.get('/staff/links?filter=bogus')).text)).toEqual([OPENED, SOON, SENT]);
  });
});

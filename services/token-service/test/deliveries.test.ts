import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@studylink/service-kit';
import { freePort } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/db/database.js';
import { DeliveryService } from '../src/deliveries/delivery.service.js';
import { smtpMailSender } from '../src/deliveries/mail.sender.js';
import { maskRecipient, redactRecipients } from '../src/deliveries/recipient.js';
import { messagesApiSmsSender } from '../src/deliveries/sms.sender.js';
import { ServerConfigService } from '../src/server-config/server-config.service.js';
import { MessagesApi, SmtpSink } from './delivery.fixtures.js';
import { FakeStudySource, type Harness, type Json, readJson, SEED, startHarness } from './harness.js';

// Issue 21: the link by e-mail, its PIN by SMS, through a real SMTP server (aiosmtpd) and a local
// Messages API; queued in PostgreSQL, retried, sent once by two replicas.
const PATIENT = 'SECRETNAME^PATIENT';
const SID = 'AC0123456789abcdef';
const AUTH = 'sms-auth-token-not-logged';
const FROM = 'Radiology <noreply@hospital.example>';

const PIN_STUDY = '1.2.826.0.1.3680043.8.498.21.1';
const PLAIN_STUDY = '1.2.826.0.1.3680043.8.498.21.2';
const RETRY_STUDY = '1.2.826.0.1.3680043.8.498.21.3';
const REPLICA_STUDY = '1.2.826.0.1.3680043.8.498.21.4';
const REFUSED_STUDY = '1.2.826.0.1.3680043.8.498.21.5';
const GIVE_UP_STUDY = '1.2.826.0.1.3680043.8.498.21.6';

let h: Harness;
let smtp: SmtpSink;
const sms = new MessagesApi();
const clock = { now: new Date('2026-12-07T12:00:00Z') };
const missing: { mail: string[]; sms: string[] } = { mail: [], sms: [] };
const secrets: string[] = [];
let smtpDir: string;

beforeAll(async () => {
  smtpDir = await mkdtemp(join(tmpdir(), 'smtp-sink-'));
  smtp = new SmtpSink(await freePort(), smtpDir);
  await smtp.start();
  await sms.start();
  const source = new FakeStudySource();
  for (const uid of [PIN_STUDY, PLAIN_STUDY, RETRY_STUDY, REPLICA_STUDY, REFUSED_STUDY, GIVE_UP_STUDY])
    source.add({ studyInstanceUid: uid, patientName: PATIENT, description: 'SECRET DESCRIPTION' });
  h = await startHarness(source, {
    deliveries: (d) =>
      new DeliveryService({
        ...d,
        mail: smtpMailSender(`smtp://127.0.0.1:${smtp.port}`, FROM, 5_000),
        sms: messagesApiSmsSender({
          apiUrl: sms.url,
          accountSid: SID,
          authToken: AUTH,
          from: '+15005550006',
        }),
        missing,
        fallbackContact: 'radiology@hospital.example',
        now: () => clock.now,
      }),
  });
});

afterAll(async () => {
  const logs = h.logs.join('\n');
  expect(secrets.length).toBeGreaterThan(0);
  for (const s of [...secrets, AUTH, 'patient@example.org', '+447700900123', '+447700900999'])
    expect(logs).not.toContain(s);
  await h.deliveries?.stop();
  await h.close();
  await smtp.stop();
  await new Promise((r) => sms.server.close(r));
  await rm(smtpDir, { recursive: true, force: true });
});

async function issue(uid: string, body: Json = {}): Promise<Json> {
  const json = await readJson(await h.api('PUT', `/api/v1/studies/${uid}/token`, body));
  secrets.push(json.token);
  if (json.pin) secrets.push(json.pin);
  return json;
}

const deliver = (uid: string, body: unknown) =>
  h.api('POST', `/api/v1/studies/${uid}/token/deliveries`, body);
const sender = () => h.deliveries as DeliveryService;
const events = async (uid: string, event: string) =>
  (await readJson(await h.api('GET', `/api/v1/access-log?study=${uid}&event=${event}`))).items as Json[];

describe('sending the link and its PIN', () => {
  it('both channels: the link by e-mail in the patient language, the PIN alone by SMS, no name', async () => {
    const link = await issue(PIN_STUDY, { verification: 'pin', expiresInDays: 10 });
    const res = await deliver(PIN_STUDY, {
      email: 'patient@example.org',
      phone: '+447700900123',
      language: 'fr',
    });
    expect(res.status).toBe(202);
    const queued = await readJson(res);
    expect(queued.pin).toBe('sms');
    expect(queued.deliveries).toMatchObject([
      { channel: 'email', content: 'link', to: 'p***@example.org', status: 'queued' },
      { channel: 'sms', content: 'pin', to: '+44*******123', status: 'queued' },
    ]);
    expect(await sender().runOnce()).toBe(2);

    const [mail, ...more] = await smtp.messages();
    expect(more).toEqual([]);
    expect(mail?.rcptTos).toEqual(['patient@example.org']);
    expect(mail?.contentType).toBe('multipart/alternative');
    expect(mail?.contentLanguage).toBe('fr');
    expect(mail?.subject).toBe('Votre examen d’imagerie · St. Example Hospital · Radiology');
    for (const part of [mail?.text, mail?.html]) {
      expect(part).toContain(link.url);
      expect(part).toContain('met votre examen d’imagerie à votre disposition en ligne');
      expect(part).toContain('Nous vous l’envoyons séparément, par SMS');
      expect(part).toContain('radiology@hospital.example');
      expect(part).not.toContain(link.pin);
    }
    const expiry = new Intl.DateTimeFormat('fr', { dateStyle: 'long', timeZone: 'UTC' }).format(
      new Date(link.expiresAt),
    );
    expect(mail?.text).toContain(`Le lien fonctionne jusqu’au ${expiry}.`);
    const everything = `${mail?.subject}\n${mail?.text}\n${mail?.html}\n${mail?.raw}`.toUpperCase();
    for (const secret of ['SECRETNAME', 'SECRET DESCRIPTION', '20210121'])
      expect(everything).not.toContain(secret);

    expect(sms.requests).toHaveLength(1);
    const [text] = sms.requests;
    expect(text?.path).toBe(`/2010-04-01/Accounts/${SID}/Messages.json`);
    expect(text?.authorization).toBe(`Basic ${Buffer.from(`${SID}:${AUTH}`).toString('base64')}`);
    expect(text?.form.get('To')).toBe('+447700900123');
    expect(text?.form.get('From')).toBe('+15005550006');
    expect(text?.form.get('Body')).toBe(
      `St. Example Hospital · Radiology: Le code PIN du lien envoyé par e-mail : ${link.pin}. Ne le partagez pas.`,
    );
    expect(text?.form.get('Body')).not.toContain(link.token);

    const shown = await readJson(await h.api('GET', `/api/v1/studies/${PIN_STUDY}/token`));
    expect(shown.deliveries).toMatchObject([
      { channel: 'email', to: 'p***@example.org', status: 'sent', attempts: 1, at: clock.now.toISOString() },
      { channel: 'sms', to: '+44*******123', status: 'sent', attempts: 1 },
    ]);
    expect(shown.deliveries[0].error).toBeUndefined();
    const sent = await events(PIN_STUDY, 'delivery_sent');
    expect(sent.map((e) => e.detail.channel).sort()).toEqual(['email', 'sms']);
    expect(JSON.stringify(sent)).not.toContain('patient@example.org');
  });

  it('one channel: the link goes, the PIN does not, and the answer says so', async () => {
    await smtp.clear();
    sms.requests.length = 0;
    const link = await issue(PLAIN_STUDY, { verification: 'pin' });
    const byMail = await readJson(
      await deliver(PLAIN_STUDY, { email: 'patient@example.org', language: 'de' }),
    );
    expect(byMail.pin).toBe('not_sent');
    const bySms = await readJson(await deliver(PLAIN_STUDY, { phone: '+447700900123', language: 'en' }));
    expect(bySms).toMatchObject({ pin: 'not_sent', deliveries: [{ channel: 'sms', content: 'link' }] });
    await sender().runOnce();
    const [mail] = await smtp.messages();
    expect(mail?.text).toContain(link.url);
    expect(mail?.text).toContain('Die Seite fragt nach einer PIN, die Ihnen die Abteilung persönlich gibt.');
    expect(mail?.text).not.toContain(link.pin);
    expect(sms.requests.map((r) => r.form.get('Body'))).toEqual([
      `St. Example Hospital · Radiology: Your imaging study: ${link.url}`,
    ]);
  });

  it('refuses a bad address, a bad number, no recipient, an unknown language, and a channel not configured', async () => {
    await issue(REFUSED_STUDY);
    for (const body of [
      { email: 'not an address' },
      { phone: '07700900123' },
      { phone: '+44 7700 900123' },
      {},
      { email: 'patient@example.org', language: 'xx' },
      { email: 'patient@example.org', extra: 1 },
    ]) {
      const res = await deliver(REFUSED_STUDY, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    missing.sms = ['SMS_AUTH_TOKEN'];
    try {
      const res = await deliver(REFUSED_STUDY, { email: 'patient@example.org', phone: '+447700900123' });
      expect(res.status).toBe(409);
      const body = await readJson(res);
      expect(body.error.code).toBe('channel_not_configured');
      expect(body.error.message).toContain('SMS_AUTH_TOKEN');
    } finally {
      missing.sms = [];
    }
    expect((await deliver('1.2.3.999', { email: 'patient@example.org' })).status).toBe(404);
    const noScope = await h.api(
      'POST',
      `/api/v1/studies/${REFUSED_STUDY}/token/deliveries`,
      { email: 'a@b.example' },
      null,
    );
    expect(noScope.status).toBe(401);
    expect((await events(REFUSED_STUDY, 'delivery_queued')).length).toBe(0);
  });

  it('an SMS API refusal fails at once, visibly, with the number masked', async () => {
    sms.requests.length = 0;
    sms.answer = {
      status: 400,
      body: { code: 21211, message: "The 'To' number +447700900999 is not a valid phone number." },
    };
    try {
      await issue(GIVE_UP_STUDY);
      await deliver(GIVE_UP_STUDY, { phone: '+447700900999' });
      await sender().runOnce();
    } finally {
      sms.answer = { status: 201, body: { sid: 'SM2' } };
    }
    const shown = await readJson(await h.api('GET', `/api/v1/studies/${GIVE_UP_STUDY}/token`));
    expect(shown.deliveries).toMatchObject([{ status: 'failed', attempts: 1 }]);
    expect(shown.deliveries[0].error).toContain('SMS API answered 400: 21211');
    expect(shown.deliveries[0].error).toContain('+44*******999');
    expect(shown.deliveries[0].error).not.toContain('+447700900999');
    const failed = await events(GIVE_UP_STUDY, 'delivery_failed');
    expect(failed.map((e) => e.outcome)).toEqual(['failed']);
  });
});

describe('reliable sending', () => {
  it('SMTP down at first: the delivery is retried with back-off and sent once when it is up', async () => {
    await smtp.stop();
    await smtp.clear();
    const link = await issue(RETRY_STUDY);
    await deliver(RETRY_STUDY, { email: 'patient@example.org' });
    expect(await sender().runOnce()).toBe(1);
    let shown = await readJson(await h.api('GET', `/api/v1/studies/${RETRY_STUDY}/token`));
    expect(shown.deliveries).toMatchObject([{ status: 'queued', attempts: 1 }]);
    expect(shown.deliveries[0].error).toMatch(/ECONNREFUSED|connect/i);
    expect((await events(RETRY_STUDY, 'delivery_failed')).map((e) => e.outcome)).toEqual(['retrying']);

    await smtp.start();
    // Not due yet: nothing is attempted before the back-off has passed.
    expect(await sender().runOnce()).toBe(0);
    clock.now = new Date(clock.now.getTime() + 29_000);
    expect(await sender().runOnce()).toBe(0);
    clock.now = new Date(clock.now.getTime() + 2_000);
    expect(await sender().runOnce()).toBe(1);
    expect(await sender().runOnce()).toBe(0);
    const mails = await smtp.messages();
    expect(mails).toHaveLength(1);
    expect(mails[0]?.text).toContain(link.url);
    shown = await readJson(await h.api('GET', `/api/v1/studies/${RETRY_STUDY}/token`));
    expect(shown.deliveries).toMatchObject([{ status: 'sent', attempts: 2 }]);
  });

  it('gives up after a day, and says so', async () => {
    await smtp.stop();
    try {
      const start = clock.now.getTime();
      await deliver(RETRY_STUDY, { email: 'patient@example.org' });
      let runs = 0;
      for (;;) {
        await sender().runOnce();
        const [, d] = (await readJson(await h.api('GET', `/api/v1/studies/${RETRY_STUDY}/token`))).deliveries;
        if (d.status !== 'queued') {
          expect(d.status).toBe('failed');
          expect(d.error).toMatch(/^gave up after \d+ attempts/);
          // `at` says when it failed for good (this run), not when it was asked for.
          expect(d.at).toBe(clock.now.toISOString());
          expect(new Date(d.at).getTime()).toBeGreaterThan(start);
          break;
        }
        clock.now = new Date(clock.now.getTime() + 3_600_000);
        runs += 1;
        expect(runs).toBeLessThan(30);
      }
      expect(clock.now.getTime() - start).toBeLessThanOrEqual(24 * 3_600_000);
      expect((await events(RETRY_STUDY, 'delivery_failed')).some((e) => e.outcome === 'failed')).toBe(true);
    } finally {
      await smtp.start();
    }
  });

  it('two replicas, after a restart, send each queued delivery once', async () => {
    await smtp.clear();
    await issue(REPLICA_STUDY);
    for (let i = 0; i < 6; i++) await deliver(REPLICA_STUDY, { email: `patient${i}@example.org` });
    // Two new senders on their own pools (two processes started after the requests were queued).
    const replicas = [0, 1].map(() => {
      const database = createDatabase({ url: h.testDb.url, statementTimeoutMs: 5000 });
      const log = createLogger({
        service: 'token-service',
        level: 'debug',
        destination: new Writable({
          write(chunk, _e, cb) {
            h.logs.push(chunk.toString());
            cb();
          },
        }),
      });
      const service = new DeliveryService({
        db: database.db,
        cipher: h.cipher,
        serverConfig: new ServerConfigService(database.db, SEED),
        log,
        mail: smtpMailSender(`smtp://127.0.0.1:${smtp.port}`, FROM, 5_000),
        sms: null,
        missing: { mail: [], sms: ['SMS_FROM'] },
        now: () => clock.now,
        timing: { batch: 1 },
      });
      return { database, service };
    });
    try {
      const counts = await Promise.all(replicas.map((r) => r.service.runOnce()));
      expect(counts.reduce((a, b) => a + b, 0)).toBe(6);
    } finally {
      for (const r of replicas) {
        await r.service.stop();
        await r.database.close();
      }
    }
    const mails = await smtp.messages();
    expect(mails.map((m) => m.rcptTos[0]).sort()).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => `patient${i}@example.org`),
    );
    const shown = await readJson(await h.api('GET', `/api/v1/studies/${REPLICA_STUDY}/token`));
    expect(shown.deliveries.map((d: Json) => [d.status, d.attempts])).toEqual(Array(6).fill(['sent', 1]));
    expect(await sender().runOnce()).toBe(0);
  });
});

describe('masking', () => {
  it('masks addresses and numbers, and strips them from error texts', () => {
    expect(maskRecipient('email', 'jane.doe@example.org')).toBe('j***@example.org');
    expect(maskRecipient('sms', '+447700900123')).toBe('+44*******123');
    expect(redactRecipients('550 <jane.doe@example.org>: no such user; call +44 7700 900123')).toBe(
      '550 <j***@example.org>: no such user; call +44*******123',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';

const BASE_ENV = {
  DATABASE_URL: 'postgres://app@127.0.0.1/x',
  DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
  TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
  INTERNAL_SECRET: 'b'.repeat(32),
};

describe('delivery configuration', () => {
  it('unset or empty: both channels off, each naming what it lacks', () => {
    const c = loadConfig({ ...BASE_ENV, SMTP_URL: '', SMS_FROM: '' });
    expect(c.delivery.mail).toEqual({ server: null, from: null, missing: ['SMTP_URL', 'MAIL_FROM'] });
    expect(c.delivery.sms).toMatchObject({
      apiUrl: 'https://api.twilio.com',
      missing: ['SMS_ACCOUNT_SID', 'SMS_AUTH_TOKEN', 'SMS_FROM'],
    });
  });

  it('set: shown without the password or the auth token, which stay in secrets', () => {
    const c = loadConfig({
      ...BASE_ENV,
      SMTP_URL: 'smtps://mailer:s3cret%21@mail.example.org:465',
      MAIL_FROM: 'Radiology <noreply@example.org>',
      SMS_API_URL: 'https://sms.example.org/',
      SMS_ACCOUNT_SID: 'AC123',
      SMS_AUTH_TOKEN: 'tok-secret',
      SMS_FROM: '+15005550006',
    });
    expect(c.delivery.mail).toEqual({
      server: 'smtps://mailer@mail.example.org:465',
      from: 'Radiology <noreply@example.org>',
      missing: [],
    });
    expect(c.delivery.sms).toMatchObject({
      apiUrl: 'https://sms.example.org',
      accountSid: 'AC123',
      missing: [],
    });
    expect(JSON.stringify(c.delivery)).not.toMatch(/s3cret|tok-secret/);
    expect(c.secrets.smtpUrl).toContain('s3cret');
    expect(loadConfig({ ...BASE_ENV, SMTP_URL: 'smtp://relay.example.org' }).delivery.mail.server).toBe(
      'smtp://relay.example.org:25',
    );
  });

  it('refuses an SMTP_URL that is not one', () => {
    for (const bad of ['mail.example.org:25', 'http://mail.example.org', 'smtp://', 'smtp://host/path'])
      expect(() => loadConfig({ ...BASE_ENV, SMTP_URL: bad }), bad).toThrow(/SMTP_URL/);
  });
});

import type { Translator } from '@studylink/i18n';
import { html } from '@studylink/service-kit';
import type { Verification } from '../db/tables.js';
import type { MailMessage } from './mail.sender.js';

/** What a message may say: the institution, whom to ask, the link or its PIN, the expiry; never the patient or the study. */
export interface MessageFacts {
  /** Institution (and department) as the setup names it; '' when unset. */
  institution: string;
  /** Whom the patient asks (an address or number from the setup); null when none is set. */
  contact: string | null;
  url: string;
  expiresAt: Date | null;
  verification: Verification;
  /** Where the PIN goes: by SMS (apart from this e-mail), or not sent at all (given in person). */
  pinBySms: boolean;
  timeZone?: string;
}

/** The e-mail with the link: multipart text and HTML, in the patient's language. */
export function linkEmail(t: Translator, f: MessageFacts): Omit<MailMessage, 'to'> {
  const intro = f.institution
    ? t.t('delivery.intro', { institution: f.institution })
    : t.t('delivery.introPlain');
  const expiry = f.expiresAt
    ? t.t('delivery.expires', { date: t.date(f.expiresAt, { timeZone: f.timeZone ?? 'UTC' }) })
    : null;
  const factor =
    f.verification === 'pin'
      ? t.t(f.pinBySms ? 'delivery.pinBySms' : 'delivery.pinInPerson')
      : f.verification === 'birth-date'
        ? t.t('delivery.birthDate')
        : null;
  const privacy = t.t('page.keepPrivate');
  const contact = f.contact ? t.t('delivery.contact', { contact: f.contact }) : null;
  const subject = f.institution ? `${t.t('delivery.subject')} · ${f.institution}` : t.t('delivery.subject');
  const text = [intro, '', t.t('delivery.open'), f.url, '', expiry, factor, privacy, contact]
    .filter((l) => l !== null)
    .join('\n');
  const para = (s: string | null) => (s ? html`<p>${s}</p>` : '');
  const body = html`<!doctype html>
<html lang="${t.lang}" dir="${t.dir}"><head><meta charset="utf-8"><title>${subject}</title></head>
<body>
${para(intro)}
<p>${t.t('delivery.open')}<br><a href="${f.url}">${f.url}</a></p>
${para(expiry)}
${para(factor)}
${para(privacy)}
${para(contact)}
</body></html>`;
  return { subject, text: `${text}\n`, html: String(body), language: t.lang };
}

/** The SMS with the link (the patient gave a mobile number only). */
export function linkSms(t: Translator, f: MessageFacts): string {
  const expiry = f.expiresAt
    ? ` ${t.t('delivery.smsExpires', { date: t.date(f.expiresAt, { timeZone: f.timeZone ?? 'UTC' }) })}`
    : '';
  return `${f.institution ? `${f.institution}: ` : ''}${t.t('delivery.smsLink', { url: f.url })}${expiry}`;
}

/** The SMS with the PIN of the link that went by e-mail: no link in it. */
export function pinSms(t: Translator, f: { institution: string; pin: string }): string {
  return `${f.institution ? `${f.institution}: ` : ''}${t.t('delivery.smsPin', { pin: f.pin })}`;
}

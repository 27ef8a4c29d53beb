import type { PatientSender } from '@studylink/contracts';
import type { Translator } from '@studylink/i18n';
import { html, type SafeHtml } from './html.js';

/**
 * Who sent a patient's link (packages/contracts, sender.contract.ts). Built by the token service
 * from its setup; error pages read it from `ctx.state.patientSender`.
 */
export type { PatientSender };

/** `tel:` target of a number as written (`+33 1 23 45 67 89` → `+33123456789`). */
function telHref(phone: string): string {
  return `tel:${phone.replace(/[^0-9+]/g, '')}`;
}

/**
 * The top of a patient page: the logo and the institution · department.
 * @example senderHeader({ institution: 'St. Example', department: 'Radiology', logoUrl: null, phone: '', email: '' })
 */
export function senderHeader(s: PatientSender | null | undefined): SafeHtml | '' {
  if (!s) return '';
  const org = [s.institution, s.department].filter(Boolean).join(' · ');
  if (!org && !s.logoUrl) return '';
  return html`<div class="sender">${s.logoUrl ? html`<img class="logo" src="${s.logoUrl}" alt="" height="48">` : ''}${
    org ? html`<p class="org"><bdi>${org}</bdi></p>` : ''
  }</div>`;
}

/**
 * How to reach the sender, in the patient's language; '' when the setup gives no contact.
 * @example senderContact(t, sender) // <p class="contact">Questions about this link? … <a href="tel:+331…">…</a></p>
 */
export function senderContact(t: Translator, s: PatientSender | null | undefined): SafeHtml | '' {
  if (!s || (!s.phone && !s.email)) return '';
  const who = s.institution || s.department;
  return html`<div class="contact">
  <p><strong>${who ? t.t('sender.questionsTo', { institution: who }) : t.t('sender.questions')}</strong></p>
  <ul>${s.phone ? html`<li>${t.t('sender.phone')} <a href="${telHref(s.phone)}" dir="ltr">${s.phone}</a></li>` : ''}${
    s.email ? html`<li>${t.t('sender.email')} <a href="mailto:${s.email}" dir="ltr">${s.email}</a></li>` : ''
  }</ul>
</div>`;
}

import type { Translator } from '@studylink/i18n';
import { html, pageLayout as layout, type SafeHtml } from '@studylink/service-kit';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import { CHILD_DAYS, type ChildLink, MAX_CHILD_LINKS } from './share.service.js';

/** The study page's "Share with a doctor": the form, and the link's children with a revoke button each. */
export function shareSection(
  t: Translator,
  token: string,
  children: ChildLink[],
  timeZone: string,
): SafeHtml {
  const active = children.filter((c) => c.active);
  const full = active.length >= MAX_CHILD_LINKS;
  return html`<section class="share" aria-labelledby="share-heading">
  <h2 id="share-heading">${t.t('share.heading')}</h2>
  <p>${t.t('share.intro')}</p>
  ${
    full
      ? html`<p class="notice">${t.t('share.limit', { max: MAX_CHILD_LINKS })}</p>`
      : html`<form class="share-form" method="post" action="/token/share?${token}">
    <label for="share-days">${t.t('share.days')}</label>
    <input id="share-days" name="expiresInDays" type="number" inputmode="numeric" min="${CHILD_DAYS.min}" max="${CHILD_DAYS.max}" value="${CHILD_DAYS.default}" required>
    <button class="button" type="submit">${t.t('share.submit')}</button>
  </form>`
  }
  ${
    active.length
      ? html`<h3>${t.t('share.listTitle')}</h3>
  <ul class="children">${active.map(
    (
      c,
    ) => html`<li data-child="${c.id}">${c.expiresAt ? t.t('share.until', { date: t.date(new Date(c.expiresAt), { withTime: true, timeZone }) }) : ''}
    <form class="inline" method="post" action="/token/share/revoke?${token}"><input type="hidden" name="child" value="${c.id}"><button class="button secondary" type="submit">${t.t('share.revoke')}</button></form></li>`,
  )}</ul>`
      : ''
  }
</section>`;
}

/** The new child link, shown once: to copy, as a QR code, or to send through the patient's own mail app. */
export function renderSharedPage(p: {
  t: Translator;
  config: ServerConfig;
  token: string;
  url: string;
  expiresAt: Date | null;
  qrSvg: SafeHtml;
}): string {
  const { t } = p;
  const mailto = `mailto:?subject=${encodeURIComponent(t.t('share.mailSubject'))}&body=${encodeURIComponent(p.url)}`;
  return layout(
    t.t('share.made.title'),
    html`<header><h1>${t.t('share.made.title')}</h1></header>
<p class="notice">${t.t('share.made.once')}</p>
<p><input id="shared-link" class="shared-link" type="text" readonly value="${p.url}" aria-label="${t.t('share.made.title')}" dir="ltr" spellcheck="false" autocomplete="off"></p>
<p><button class="button" type="button" data-copy="shared-link" data-status="copy-status" data-copied="${t.t('share.made.copied')}" hidden>${t.t('share.made.copy')}</button> <span id="copy-status" role="status" aria-live="polite"></span></p>
${p.expiresAt ? html`<p>${t.t('share.until', { date: t.date(p.expiresAt, { withTime: true, timeZone: p.config.timeZone }) })}</p>` : ''}
<div class="qr-wrap">${p.qrSvg}</div>
<p><a class="button" href="${mailto}">${t.t('share.made.email')}</a></p>
<p><a href="/token?${p.token}">${t.t('share.back')}</a></p>
<script src="/assets/patient-share.js" defer></script>`,
    t,
  );
}

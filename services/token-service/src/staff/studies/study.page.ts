import {
  formatPersonName,
  LANGUAGES,
  type Language,
  languageName,
  type StaffMessageKey,
  translator,
} from '@studylink/i18n';
import { html, type SafeHtml, senderContact, senderHeader } from '@studylink/service-kit';
import { dicomDateAsDate, formatDicomTime, studyMoment } from '../../patient/format.js';
import { senderOf } from '../../patient/sender.js';
import type { ServerConfig } from '../../server-config/server-config.schema.js';
import type { IssuedToken } from '../../tokens/token.service.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import { csrfField, errorSummary, formatTime, isoDay, staffPage } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';
import type { StudySummary } from './study-search.source.js';

export interface StudyView {
  uid: string;
  study: StudySummary | null;
  /** The study details come from the service's copy: the store did not answer. */
  fromCopy: boolean;
}

function studyTitle(v: StudyView): string {
  return v.study
    ? formatPersonName(v.study.patientName, { lang: st.lang }) || st.t('study.noName')
    : st.t('study.titleFallback');
}

function studyFacts(v: StudyView, timeZone: string): SafeHtml {
  const s = v.study;
  const row = (label: string, value: SafeHtml | string | null | undefined) =>
    value ? html`<dt>${label}</dt><dd>${value}</dd>` : '';
  const name = s ? formatPersonName(s.patientName, { lang: st.lang }) : '';
  const moment = s ? studyMoment(s.studyDate, s.studyTime, timeZone) : null;
  const when = moment
    ? formatTime(moment, timeZone)
    : s
      ? [st.dicomDate(s.studyDate), formatDicomTime(s.studyTime)].filter(Boolean).join(', ')
      : '';
  return html`<dl class="facts">
  ${name ? row(st.t('study.fact.patient'), html`<bdi>${name}</bdi>`) : ''}
  ${s ? row(st.t('study.fact.patientId'), s.patientId) : ''}
  ${row(st.t('study.fact.date'), when)}
  ${s ? row(st.t('study.fact.description'), s.description) : ''}
  ${s ? row(st.t('study.fact.modalities'), s.modalities.join(', ')) : ''}
  ${s && s.seriesCount !== null ? row(st.t('study.fact.seriesImages'), `${s.seriesCount} / ${s.instanceCount ?? '–'}`) : ''}
  ${s ? row(st.t('study.fact.accession'), s.accessionNumber) : ''}
  <dt>${st.t('study.fact.uid')}</dt><dd class="mono uid">${v.uid}</dd>
</dl>`;
}

/** Date input plus "never expires" box; the date is the last day the link works (in the setup's zone). */
function expiryFields(o: {
  expiresAt: Date | null;
  timeZone: string;
  errors?: FieldErrors | undefined;
  legend: string;
  idPrefix: string;
}): SafeHtml {
  const error = o.errors?.expires;
  const dateId = `${o.idPrefix}-expires`;
  return html`<fieldset>
  <legend>${o.legend}</legend>
  <div class="field">
    <label for="${dateId}">${st.t('study.expiry.dateLabel')}</label>
    <input id="${dateId}" name="expires" type="date" value="${o.expiresAt ? isoDay(o.expiresAt, o.timeZone) : ''}" min="${isoDay(
      new Date(),
      o.timeZone,
    )}" aria-describedby="${dateId}-hint${error ? ` ${dateId}-error` : ''}"${error ? html` aria-invalid="true"` : ''}>
    ${error ? html`<p class="error-text" id="${dateId}-error">${error}</p>` : ''}
    <p class="hint" id="${dateId}-hint">${st.t('study.expiry.dateHint')}</p>
  </div>
  <label class="choice"><input type="checkbox" name="never" value="1" data-disables="${dateId}"${
    o.expiresAt ? '' : html` checked`
  }> ${st.t('study.expiry.never')}</label>
</fieldset>`;
}

const VERIFICATION_LABELS = {
  none: 'study.verification.none',
  'birth-date': 'study.verification.birthDate',
  pin: 'study.verification.pin',
} as const satisfies Record<string, StaffMessageKey>;

/** How a new link is guarded: second factor, download limit, view-only (issue 12). */
function linkOptionFields(o: {
  config: ServerConfig;
  errors?: FieldErrors | undefined;
  idPrefix: string;
}): SafeHtml {
  const e = o.errors;
  const limitId = `${o.idPrefix}-max-downloads`;
  return html`<fieldset${e?.verification ? html` aria-invalid="true"` : ''}>
  <legend>${st.t('study.options.checkLegend')}</legend>
  ${(['none', 'birth-date', 'pin'] as const).map(
    (v) =>
      html`<label class="choice"><input type="radio" name="verification" value="${v}"${
        v === o.config.defaultVerification ? html` checked` : ''
      }> ${st.t(VERIFICATION_LABELS[v])}</label>`,
  )}
  ${e?.verification ? html`<p class="error-text" id="${o.idPrefix}-verification-error">${e.verification}</p>` : ''}
  <p class="hint">${st.t('study.options.checkHint')}</p>
</fieldset>
<fieldset>
  <legend>${st.t('study.options.downloadsLegend')}</legend>
  <div class="field">
    <label for="${limitId}">${st.t('study.options.limitLabel')}</label>
    <input id="${limitId}" name="maxDownloads" type="number" min="1" max="999999" inputmode="numeric" aria-describedby="${limitId}-hint${e?.maxDownloads ? ` ${limitId}-error` : ''}"${e?.maxDownloads ? html` aria-invalid="true"` : ''}>
    ${e?.maxDownloads ? html`<p class="error-text" id="${limitId}-error">${e.maxDownloads}</p>` : ''}
    <p class="hint" id="${limitId}-hint">${st.t('study.options.limitHint')}</p>
  </div>
  <label class="choice"><input type="checkbox" name="viewOnly" value="1"> ${st.t('study.options.viewOnly')}</label>
</fieldset>
${reportChoice(null)}`;
}

/** Whether the link shows the study's report (issue 20): as the setup says, shown, or held back. */
function reportChoice(current: boolean | null): SafeHtml {
  const choices = [
    ['', null, 'study.options.reportDefault'],
    ['show', true, 'study.options.reportShow'],
    ['hold', false, 'study.options.reportHold'],
  ] as const;
  return html`<fieldset>
  <legend>${st.t('study.options.reportLegend')}</legend>
  ${choices.map(
    ([value, is, label]) =>
      html`<label class="choice"><input type="radio" name="includeReport" value="${value}"${
        current === is ? html` checked` : ''
      }> ${st.t(label)}</label>`,
  )}
  <p class="hint">${st.t('study.options.reportHint')}</p>
</fieldset>`;
}

/** What the staff page knows of the study's report, and whether the active link shows it. */
export interface ReportFactsView {
  /** The RIS pushed a PDF for the study. */
  pushed: boolean;
  /** The study copy's modalities name an SR or a document (DOC): the study holds a report object. */
  inStudy: boolean;
}

/** The report's facts, and for an active link whether it shows it, with a form to change that. */
function reportState(
  r: ReportFactsView,
  t: IssuedToken | null,
  config: ServerConfig,
  base: string,
  csrf: string,
): SafeHtml {
  const exists = [
    r.pushed ? st.t('study.state.reportPushed') : '',
    r.inStudy ? st.t('study.state.reportInStudy') : '',
  ].filter(Boolean);
  const shown = t ? (t.includeReport ?? config.reportsOnPage) : null;
  return html`<dl class="facts">
  <dt>${st.t('study.state.report')}</dt><dd>${exists.length ? exists.join(' · ') : st.t('study.state.reportNone')}${
    t
      ? html`<br><span class="badge ${shown ? 'ok' : 'warn'}">${st.t(shown ? 'study.state.reportShown' : 'study.state.reportHeld')}</span>${
          t.includeReport === null
            ? html` <span class="muted small">${st.t('study.state.reportBySetup')}</span>`
            : ''
        }`
      : ''
  }</dd>
</dl>
${
  t
    ? html`<form class="stack" method="post" action="${base}/report">${csrfField(csrf)}
  ${reportChoice(t.includeReport)}
  <button class="button secondary small" type="submit">${st.t('study.options.reportSave')}</button>
</form>`
    : ''
}`;
}

/** What the active link asks for and allows, its downloads, and its lock with an Unlock button. */
function linkState(t: IssuedToken, base: string, csrf: string, timeZone: string): SafeHtml {
  const downloads =
    t.maxDownloads === null
      ? st.t('study.state.downloadsUnlimited', { used: t.downloadsUsed })
      : st.t('study.state.downloadsOf', { used: t.downloadsUsed, max: t.maxDownloads });
  return html`<dl class="facts">
  <dt>${st.t('study.state.check')}</dt><dd>${
    t.verification === 'pin'
      ? t.pin
        ? html`${st.html('study.state.pin', { pin: html`<strong class="mono pin">${t.pin}</strong>` })} <span class="muted small">${st.t('study.state.pinLogged')}</span>`
        : st.html('study.state.pin', { pin: html`<a href="${base}/pin">${st.t('study.state.showPin')}</a>` })
      : t.verification === 'birth-date'
        ? st.t('study.state.checkBirthDate')
        : st.t('study.state.checkNone')
  }</dd>
  <dt>${st.t('study.state.downloads')}</dt><dd>${t.allowDownload ? downloads : st.t('study.state.viewOnly')}</dd>
  ${
    t.locked
      ? html`<dt>${st.t('study.state.locked')}</dt><dd>${st.html('study.state.lockedAfter', {
          badge: html`<span class="badge bad">${
            t.lockedUntil
              ? st.t('study.state.lockedUntil', { date: formatTime(new Date(t.lockedUntil), timeZone) })
              : st.t('study.state.lockedUntilUnlocked')
          }</span>`,
        })}
    <form class="inline" method="post" action="${base}/unlock">${csrfField(csrf)}<button class="button secondary small" type="submit">${st.t('study.state.unlock')}</button></form></dd>`
      : ''
  }
</dl>`;
}

export function defaultExpiry(config: ServerConfig): Date | null {
  return config.defaultExpiryDays ? new Date(Date.now() + config.defaultExpiryDays * 86_400_000) : null;
}

export function renderStudyPage(p: {
  session: StaffSession;
  view: StudyView;
  token: IssuedToken | null;
  /** The study has an active link that cannot be shown: it was encrypted with a key that is gone. */
  undisplayable?: boolean;
  qrSvg: SafeHtml | null;
  /** "Send to the patient" and the link's deliveries (study-delivery.page.ts), beside the link. */
  delivery?: SafeHtml | null;
  config: ServerConfig;
  errors?: FieldErrors;
  flash?: string | null;
  /** The study's report (issue 20): pushed by the RIS, or in the study. */
  report?: ReportFactsView;
}): string {
  const v = p.view;
  const t = p.token;
  const csrf = p.session.csrfToken;
  const base = `/staff/studies/${v.uid}`;
  const s = v.study;
  return staffPage({
    title: st.t('study.pageTitle', { name: studyTitle(v) }),
    session: p.session,
    active: 'studies',
    flash: p.flash,
    body: html`<p class="crumbs"><a href="/staff/studies">${st.t('study.crumbStudies')}</a></p>
<h1>${studyTitle(v)}</h1>
<p class="lead">${[s?.description, s ? st.dicomDate(s.studyDate) : '', s?.modalities.join(', ')]
      .filter(Boolean)
      .join(' · ')}</p>
${v.fromCopy ? html`<p class="notice">${st.t('study.fromCopy')}</p>` : ''}
${errorSummary(p.errors, linkFieldLabels())}
<div class="grid-2">
  <section class="card" aria-labelledby="link-heading">
    <h2 id="link-heading">${st.t('study.link.heading')}</h2>
    ${
      t
        ? html`<p><span class="badge ok">${st.t('study.link.active')}</span> <span class="muted small">${
            t.expiresAt
              ? st.t('study.link.madeUntil', {
                  made: formatTime(new Date(t.createdAt), p.config.timeZone),
                  until: formatTime(new Date(t.expiresAt), p.config.timeZone),
                })
              : st.t('study.link.madeNoExpiry', {
                  made: formatTime(new Date(t.createdAt), p.config.timeZone),
                })
          }</span></p>
    ${linkState(t, base, csrf, p.config.timeZone)}
    ${p.report ? reportState(p.report, t, p.config, base, csrf) : ''}
    <label for="study-link">${st.t('study.link.label')}</label>
    <div class="link-box">
      <input id="study-link" type="text" readonly value="${t.url}" data-select-all aria-describedby="copy-status" spellcheck="false" autocomplete="off">
      <button class="button" type="button" hidden data-copy="study-link" data-status="copy-status" data-done="${st.t('study.link.copied')}">${st.t('study.link.copy')}</button>
    </div>
    <p id="copy-status" class="copy-status" role="status" aria-live="polite"></p>
    <div class="qr-wrap">
      ${p.qrSvg ?? ''}
      <div>
        <p class="small muted">${st.t('study.link.qrHint')}</p>
        <form class="stack" method="get" action="${base}/handout">
          <div class="field">
            <label for="handout-lang">${st.t('study.handout.langLabel')}</label>
            <select id="handout-lang" name="lang">${LANGUAGES.map(
              (l) =>
                html`<option value="${l}" lang="${l}"${l === p.config.defaultLanguage ? html` selected` : ''}>${languageName(l)}</option>`,
            )}</select>
          </div>
          ${t.verification === 'pin' ? html`<label class="choice"><input type="checkbox" name="pin" value="1"> ${st.t('study.handout.printPin')}</label>` : ''}
          <p><button class="button secondary" type="submit">${st.t('study.handout.open')}</button></p>
        </form>
      </div>
    </div>
    <form class="stack" method="post" action="${base}/expiry" novalidate>
      ${csrfField(csrf)}
      ${expiryFields({ expiresAt: t.expiresAt ? new Date(t.expiresAt) : null, timeZone: p.config.timeZone, errors: p.errors, legend: st.t('study.expiry.legend'), idPrefix: 'edit' })}
      <div class="actions"><button class="button secondary" type="submit">${st.t('study.expiry.save')}</button></div>
    </form>
    <hr>
    <div class="actions">
      <a class="button secondary" href="${base}/reissue">${st.t('study.link.replace')}</a>
      <a class="button danger" href="${base}/revoke">${st.t('study.link.revoke')}</a>
    </div>`
        : p.undisplayable
          ? html`<p><span class="badge ok">${st.t('study.link.active')}</span> ${st.t('study.link.undisplayable')}</p>
    <p class="small muted">${st.t('study.link.undisplayableHint')}</p>
    <div class="actions"><a class="button" href="${base}/reissue">${st.t('study.link.replace')}</a></div>`
          : html`<p><span class="badge none">${st.t('study.link.none')}</span> ${st.t('study.link.noneYet')}</p>
    ${p.report ? reportState(p.report, null, p.config, base, csrf) : ''}
    <form class="stack" method="post" action="${base}/token" novalidate>
      ${csrfField(csrf)}
      ${expiryFields({ expiresAt: defaultExpiry(p.config), timeZone: p.config.timeZone, errors: p.errors, legend: st.t('study.expiry.legend'), idPrefix: 'new' })}
      ${linkOptionFields({ config: p.config, errors: p.errors, idPrefix: 'new' })}
      <div class="actions"><button class="button" type="submit">${st.t('study.link.create')}</button></div>
    </form>`
    }
  </section>
  <section class="card" aria-labelledby="study-heading">
    <h2 id="study-heading">${st.t('study.facts.heading')}</h2>
    ${studyFacts(v, p.config.timeZone)}
    <p class="small"><a href="/staff/access-log?study=${v.uid}">${st.t('study.accessLogLink')}</a></p>
  </section>
  ${p.delivery ?? ''}
</div>`,
  });
}

/** The link forms' fields by name, as the error summary names them. */
function linkFieldLabels(): Record<string, string> {
  return {
    expires: st.t('study.expiry.dateLabel'),
    verification: st.t('study.state.check'),
    maxDownloads: st.t('study.options.limitLabel'),
  };
}

/** The confirmation step before revoking or replacing a link. */
export function renderConfirmPage(p: {
  session: StaffSession;
  view: StudyView;
  action: 'revoke' | 'reissue';
  expiresAt: Date | null;
  config: ServerConfig;
  errors?: FieldErrors;
}): string {
  const v = p.view;
  const name = studyTitle(v);
  const base = `/staff/studies/${v.uid}`;
  const revoke = p.action === 'revoke';
  const title = revoke ? st.t('study.confirm.revokeTitle') : st.t('study.confirm.reissueTitle');
  return staffPage({
    title,
    session: p.session,
    active: 'studies',
    body: html`<p class="crumbs"><a href="${base}">${st.t('study.confirm.back')}</a></p>
<section class="card" aria-labelledby="confirm-heading">
  <h1 id="confirm-heading">${title}</h1>
  ${errorSummary(p.errors, linkFieldLabels())}
  <p>${
    revoke
      ? st.html('study.confirm.revokeText', { name: html`<strong>${name}</strong>` })
      : st.html('study.confirm.reissueText', { name: html`<strong>${name}</strong>` })
  }</p>
  ${studyFacts(v, p.config.timeZone)}
  <form class="stack" method="post" action="${base}/${p.action}" novalidate>
    ${csrfField(p.session.csrfToken)}
    ${revoke ? '' : expiryFields({ expiresAt: p.expiresAt, timeZone: p.config.timeZone, errors: p.errors, legend: st.t('study.confirm.newExpiryLegend'), idPrefix: 'new' })}
    ${revoke ? '' : linkOptionFields({ config: p.config, errors: p.errors, idPrefix: 'new' })}
    <div class="actions">
      <button class="button danger" type="submit">${revoke ? st.t('study.confirm.revoke') : st.t('study.confirm.reissue')}</button>
      <a class="button secondary" href="${base}">${st.t('study.confirm.cancel')}</a>
    </div>
  </form>
</section>`,
  });
}

/**
 * A sheet to print and hand to the patient, in the language staff picked: the link, its QR code,
 * what to do, and the PIN printed on it or left out (to be told by phone).
 */
export function renderHandoutPage(p: {
  session: StaffSession;
  view: StudyView;
  token: IssuedToken;
  qrSvg: SafeHtml;
  config: ServerConfig;
  lang: Language;
  printPin: boolean;
}): string {
  const tr = translator(p.lang);
  const s = p.view.study;
  const sender = senderOf(p.config);
  const viewer = p.config.viewerUrl;
  const studyDate = s ? dicomDateAsDate(s.studyDate) : null;
  const t = p.token;
  return staffPage({
    title: st.t('study.handout.title'),
    session: p.session,
    active: 'studies',
    body: html`<div class="print-bar no-print">
  <button class="button" type="button" hidden data-print>${st.t('study.handout.print')}</button>
  <a class="button secondary" href="/staff/studies/${p.view.uid}">${st.t('study.handout.back')}</a>
</div>
<article class="handout card" aria-labelledby="handout-heading" lang="${tr.lang}" dir="${tr.dir}">
  ${senderHeader(sender)}
  <h1 id="handout-heading">${tr.t('handout.title')}</h1>
  ${
    s
      ? html`<dl class="facts">
    <dt>${tr.t('page.patient')}</dt><dd><bdi>${formatPersonName(s.patientName, { lang: tr.lang })}</bdi></dd>
    ${studyDate ? html`<dt>${tr.t('page.date')}</dt><dd>${tr.date(studyDate, { timeZone: 'UTC' })}</dd>` : ''}
    ${s.description ? html`<dt>${tr.t('page.study')}</dt><dd>${s.description}</dd>` : ''}
  </dl>`
      : ''
  }
  <p>${tr.t('handout.intro')}</p>
  <p class="link mono" dir="ltr">${t.url}</p>
  <div class="qr-wrap">${p.qrSvg}</div>
  ${
    t.verification === 'pin'
      ? html`<p><strong>${t.pin && p.printPin ? tr.t('handout.pin', { pin: t.pin }) : tr.t('handout.pinByPhone')}</strong></p>`
      : t.verification === 'birth-date'
        ? html`<p><strong>${tr.t('handout.birthDate')}</strong></p>`
        : ''
  }
  <h2>${tr.t('page.howTo')}</h2>
  <ol>
    <li>${tr.t('handout.open')}</li>
    <li>${tr.t('page.step1')}${viewer ? html` <span class="mono" dir="ltr">${viewer}</span>` : ''}</li>
  </ol>
  <p>${t.expiresAt ? html`<strong>${tr.t('handout.expires', { date: tr.date(new Date(t.expiresAt), { timeZone: p.config.timeZone }) })}</strong> ` : ''}${tr.t('handout.keepPrivate')}</p>
  ${senderContact(tr, sender)}
</article>`,
  });
}

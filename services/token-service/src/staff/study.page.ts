import { LANGUAGES, type Language, languageName, translator } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import { dicomDateAsDate, formatDicomDate, formatDicomTime, formatPersonName } from '../patient/format.js';
import type { ServerConfig } from '../server-config/server-config.schema.js';
import type { IssuedToken } from '../tokens/token.service.js';
import { csrfField, errorSummary, formatUtc, isoDay, staffPage } from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';
import type { StaffSession } from './staff-session.service.js';
import type { StudySummary } from './study-search.source.js';

export interface StudyView {
  uid: string;
  study: StudySummary | null;
  /** The study details come from the service's copy: the store did not answer. */
  fromCopy: boolean;
}

function studyTitle(v: StudyView): string {
  return v.study ? formatPersonName(v.study.patientName) || '(no name)' : 'Study';
}

function studyFacts(v: StudyView): SafeHtml {
  const s = v.study;
  const row = (label: string, value: string | null | undefined) =>
    value ? html`<dt>${label}</dt><dd>${value}</dd>` : '';
  const when = s
    ? [formatDicomDate(s.studyDate), formatDicomTime(s.studyTime)].filter(Boolean).join(', ')
    : '';
  return html`<dl class="facts">
  ${s ? row('Patient', formatPersonName(s.patientName)) : ''}
  ${s ? row('Patient ID', s.patientId) : ''}
  ${row('Study date', when)}
  ${s ? row('Description', s.description) : ''}
  ${s ? row('Modalities', s.modalities.join(', ')) : ''}
  ${s && s.seriesCount !== null ? row('Series / images', `${s.seriesCount} / ${s.instanceCount ?? '–'}`) : ''}
  ${s ? row('Accession number', s.accessionNumber) : ''}
  <dt>Study instance UID</dt><dd class="mono uid">${v.uid}</dd>
</dl>`;
}

/** Date input plus "never expires" box; the date is the last day the link works (UTC). */
function expiryFields(o: {
  expiresAt: Date | null;
  errors?: FieldErrors | undefined;
  legend: string;
  idPrefix: string;
}): SafeHtml {
  const error = o.errors?.expires;
  const dateId = `${o.idPrefix}-expires`;
  return html`<fieldset>
  <legend>${o.legend}</legend>
  <div class="field">
    <label for="${dateId}">Last day the link works</label>
    <input id="${dateId}" name="expires" type="date" value="${o.expiresAt ? isoDay(o.expiresAt) : ''}" min="${isoDay(
      new Date(),
    )}" aria-describedby="${dateId}-hint${error ? ` ${dateId}-error` : ''}"${error ? html` aria-invalid="true"` : ''}>
    ${error ? html`<p class="error-text" id="${dateId}-error">${error}</p>` : ''}
    <p class="hint" id="${dateId}-hint">The link stops working at the end of this day (23:59 UTC).</p>
  </div>
  <label class="choice"><input type="checkbox" name="never" value="1" data-disables="${dateId}"${
    o.expiresAt ? '' : html` checked`
  }> Never expires</label>
</fieldset>`;
}

const VERIFICATION_LABELS = {
  none: 'None: the link alone opens the page',
  'birth-date': "The patient's date of birth",
  pin: 'A PIN (6 digits) given to the patient apart from the link',
} as const;

/** How a new link is guarded: second factor, download limit, view-only (issue 12). */
function linkOptionFields(o: {
  config: ServerConfig;
  errors?: FieldErrors | undefined;
  idPrefix: string;
}): SafeHtml {
  const e = o.errors;
  const limitId = `${o.idPrefix}-max-downloads`;
  return html`<fieldset${e?.verification ? html` aria-invalid="true"` : ''}>
  <legend>Patient check before the page opens</legend>
  ${(['none', 'birth-date', 'pin'] as const).map(
    (v) =>
      html`<label class="choice"><input type="radio" name="verification" value="${v}"${
        v === o.config.defaultVerification ? html` checked` : ''
      }> ${VERIFICATION_LABELS[v]}</label>`,
  )}
  ${e?.verification ? html`<p class="error-text" id="${o.idPrefix}-verification-error">${e.verification}</p>` : ''}
  <p class="hint">Five wrong answers lock the link for 15 minutes; twenty lock it until you unlock it here.</p>
</fieldset>
<fieldset>
  <legend>Downloads</legend>
  <div class="field">
    <label for="${limitId}">Download limit</label>
    <input id="${limitId}" name="maxDownloads" type="number" min="1" max="999999" inputmode="numeric" aria-describedby="${limitId}-hint${e?.maxDownloads ? ` ${limitId}-error` : ''}"${e?.maxDownloads ? html` aria-invalid="true"` : ''}>
    ${e?.maxDownloads ? html`<p class="error-text" id="${limitId}-error">${e.maxDownloads}</p>` : ''}
    <p class="hint" id="${limitId}-hint">Completed zip downloads the link allows; a stopped one does not count. Blank: no limit.</p>
  </div>
  <label class="choice"><input type="checkbox" name="viewOnly" value="1"> View only: the page (and viewer) work, the zip is refused</label>
</fieldset>`;
}

/** What the active link asks for and allows, its downloads, and its lock with an Unlock button. */
function linkState(t: IssuedToken, base: string, csrf: string): SafeHtml {
  const downloads =
    t.maxDownloads === null ? `${t.downloadsUsed} (no limit)` : `${t.downloadsUsed} of ${t.maxDownloads}`;
  return html`<dl class="facts">
  <dt>Patient check</dt><dd>${
    t.verification === 'pin'
      ? t.pin
        ? html`PIN <strong class="mono pin">${t.pin}</strong> <span class="muted small">(this showing is logged)</span>`
        : html`PIN <a href="${base}/pin">Show PIN</a>`
      : t.verification === 'birth-date'
        ? 'Date of birth'
        : 'None'
  }</dd>
  <dt>Zip downloads</dt><dd>${t.allowDownload ? downloads : 'View only: no download'}</dd>
  ${
    t.locked
      ? html`<dt>Locked</dt><dd><span class="badge bad">${
          t.lockedUntil ? `Locked until ${formatUtc(new Date(t.lockedUntil))}` : 'Locked until unlocked'
        }</span> after wrong answers.
    <form class="inline" method="post" action="${base}/unlock">${csrfField(csrf)}<button class="button secondary small" type="submit">Unlock</button></form></dd>`
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
  config: ServerConfig;
  errors?: FieldErrors;
  flash?: string | null;
}): string {
  const v = p.view;
  const t = p.token;
  const csrf = p.session.csrfToken;
  const base = `/staff/studies/${v.uid}`;
  const s = v.study;
  return staffPage({
    title: `${studyTitle(v)} – study`,
    session: p.session,
    active: 'studies',
    flash: p.flash,
    body: html`<p class="crumbs"><a href="/staff/studies">← Studies</a></p>
<h1>${studyTitle(v)}</h1>
<p class="lead">${[s?.description, s ? formatDicomDate(s.studyDate) : '', s?.modalities.join(', ')]
      .filter(Boolean)
      .join(' · ')}</p>
${v.fromCopy ? html`<p class="notice">The image archive is not answering; these details are the last copy this service kept.</p>` : ''}
${errorSummary(p.errors, LINK_FIELD_LABELS)}
<div class="grid-2">
  <section class="card" aria-labelledby="link-heading">
    <h2 id="link-heading">Link for the patient</h2>
    ${
      t
        ? html`<p><span class="badge ok">Active</span> <span class="muted small">made ${formatUtc(
            new Date(t.createdAt),
          )} · ${t.expiresAt ? `works until ${formatUtc(new Date(t.expiresAt))}` : 'does not expire'}</span></p>
    ${linkState(t, base, csrf)}
    <label for="study-link">Link</label>
    <div class="link-box">
      <input id="study-link" type="text" readonly value="${t.url}" data-select-all aria-describedby="copy-status" spellcheck="false" autocomplete="off">
      <button class="button" type="button" hidden data-copy="study-link" data-status="copy-status" data-done="Link copied to the clipboard.">Copy link</button>
    </div>
    <p id="copy-status" class="copy-status" role="status" aria-live="polite"></p>
    <div class="qr-wrap">
      ${p.qrSvg ?? ''}
      <div>
        <p class="small muted">The patient can scan this code with a phone camera to open the link.</p>
        <form class="stack" method="get" action="${base}/handout">
          <div class="field">
            <label for="handout-lang">Language of the handout</label>
            <select id="handout-lang" name="lang">${LANGUAGES.map(
              (l) =>
                html`<option value="${l}" lang="${l}"${l === p.config.defaultLanguage ? html` selected` : ''}>${languageName(l)}</option>`,
            )}</select>
          </div>
          ${t.verification === 'pin' ? html`<label class="choice"><input type="checkbox" name="pin" value="1"> Print the PIN on it (otherwise tell it by phone)</label>` : ''}
          <p><button class="button secondary" type="submit">Printable handout</button></p>
        </form>
      </div>
    </div>
    <form class="stack" method="post" action="${base}/expiry" novalidate>
      ${csrfField(csrf)}
      ${expiryFields({ expiresAt: t.expiresAt ? new Date(t.expiresAt) : null, errors: p.errors, legend: 'Expiry', idPrefix: 'edit' })}
      <div class="actions"><button class="button secondary" type="submit">Save expiry</button></div>
    </form>
    <hr>
    <div class="actions">
      <a class="button secondary" href="${base}/reissue">Replace with a new link…</a>
      <a class="button danger" href="${base}/revoke">Revoke link…</a>
    </div>`
        : p.undisplayable
          ? html`<p><span class="badge ok">Active</span> This study has a link that cannot be shown again: it was encrypted with a key this server no longer has.</p>
    <p class="small muted">Replace it to get a link you can copy; the old link stops working.</p>
    <div class="actions"><a class="button" href="${base}/reissue">Replace with a new link…</a></div>`
          : html`<p><span class="badge none">No link</span> This study has no active link yet.</p>
    <form class="stack" method="post" action="${base}/token" novalidate>
      ${csrfField(csrf)}
      ${expiryFields({ expiresAt: defaultExpiry(p.config), errors: p.errors, legend: 'Expiry', idPrefix: 'new' })}
      ${linkOptionFields({ config: p.config, errors: p.errors, idPrefix: 'new' })}
      <div class="actions"><button class="button" type="submit">Create link</button></div>
    </form>`
    }
  </section>
  <section class="card" aria-labelledby="study-heading">
    <h2 id="study-heading">Study</h2>
    ${studyFacts(v)}
    <p class="small"><a href="/staff/access-log?study=${v.uid}">Access log of this study</a></p>
  </section>
</div>`,
  });
}

const LINK_FIELD_LABELS = {
  expires: 'Last day the link works',
  verification: 'Patient check',
  maxDownloads: 'Download limit',
};

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
  return staffPage({
    title: revoke ? 'Revoke the link?' : 'Replace the link?',
    session: p.session,
    active: 'studies',
    body: html`<p class="crumbs"><a href="${base}">← Back to the study</a></p>
<section class="card" aria-labelledby="confirm-heading">
  <h1 id="confirm-heading">${revoke ? 'Revoke the link?' : 'Replace the link?'}</h1>
  ${errorSummary(p.errors, LINK_FIELD_LABELS)}
  <p>${
    revoke
      ? html`The link for <strong>${name}</strong> will stop working at once: the patient will see “not found or no longer available”. You can make a new link afterwards.`
      : html`The current link for <strong>${name}</strong> will stop working at once and a new link will be made. Give the patient the new link.`
  }</p>
  ${studyFacts(v)}
  <form class="stack" method="post" action="${base}/${p.action}" novalidate>
    ${csrfField(p.session.csrfToken)}
    ${revoke ? '' : expiryFields({ expiresAt: p.expiresAt, errors: p.errors, legend: 'Expiry of the new link', idPrefix: 'new' })}
    ${revoke ? '' : linkOptionFields({ config: p.config, errors: p.errors, idPrefix: 'new' })}
    <div class="actions">
      <button class="button danger" type="submit">${revoke ? 'Revoke link' : 'Replace link'}</button>
      <a class="button secondary" href="${base}">Cancel</a>
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
  const org = [p.config.institution, p.config.department].filter(Boolean).join(' · ');
  const viewer = p.config.viewerUrl;
  const studyDate = s ? dicomDateAsDate(s.studyDate) : null;
  const t = p.token;
  return staffPage({
    title: 'Handout',
    session: p.session,
    active: 'studies',
    body: html`<div class="print-bar no-print">
  <button class="button" type="button" hidden data-print>Print</button>
  <a class="button secondary" href="/staff/studies/${p.view.uid}">Back to the study</a>
</div>
<article class="handout card" aria-labelledby="handout-heading" lang="${tr.lang}" dir="${tr.dir}">
  ${org ? html`<p class="org">${org}</p>` : ''}
  <h1 id="handout-heading">${tr.t('handout.title')}</h1>
  ${
    s
      ? html`<dl class="facts">
    <dt>${tr.t('page.patient')}</dt><dd>${formatPersonName(s.patientName)}</dd>
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
  <p>${t.expiresAt ? html`<strong>${tr.t('handout.expires', { date: tr.date(new Date(t.expiresAt), { timeZone: 'UTC' }) })}</strong> ` : ''}${tr.t('handout.keepPrivate')}</p>
</article>`,
  });
}

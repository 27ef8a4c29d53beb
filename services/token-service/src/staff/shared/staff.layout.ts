import { dayInZone, languageName, partsInZone, STAFF_LANGUAGES, zoneLabel } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from './staff.i18n.js';
import type { FieldErrors } from './staff.schemas.js';

export type NavItem = 'studies' | 'links' | 'access-log' | 'setup' | 'users' | 'api-keys' | null;

const NAV = [
  { id: 'studies', href: '/staff/studies', label: 'layout.nav.studies', admin: false },
  { id: 'links', href: '/staff/links', label: 'layout.nav.links', admin: false },
  { id: 'access-log', href: '/staff/access-log', label: 'layout.nav.accessLog', admin: false },
  { id: 'setup', href: '/staff/setup', label: 'layout.nav.setup', admin: true },
  { id: 'users', href: '/staff/users', label: 'layout.nav.users', admin: true },
  { id: 'api-keys', href: '/staff/api-keys', label: 'layout.nav.apiKeys', admin: true },
] as const satisfies ReadonlyArray<{
  id: Exclude<NavItem, null>;
  href: string;
  label: string;
  admin: boolean;
}>;

export interface PageOptions {
  title: string;
  session: StaffSession | null;
  active?: NavItem;
  body: SafeHtml;
  /** A confirmation of what the previous request did (from a fixed list, never request text). */
  flash?: string | null | undefined;
  /** The page's own path, where a change of language comes back to. */
  path?: string;
  /** A same-site path the page moves on to by itself (a meta refresh: no script needed). */
  refreshTo?: string;
}

/**
 * Every staff page: landmarks (header, nav, main, footer), a skip link, one same-origin
 * stylesheet and script, nothing inline (the CSP forbids it).
 */
export function staffPage(p: PageOptions): string {
  const s = p.session;
  const page = html`<!doctype html>
<html lang="${st.lang}" dir="${st.dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
${
  p.refreshTo
    ? html`<meta http-equiv="refresh" content="0;url=${p.refreshTo}">
`
    : ''
}<title>${st.t('layout.titleSuffix', { title: p.title })}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/staff/assets/staff.css">
<script src="/staff/assets/staff.js" defer></script>
</head>
<body data-staff-text="${SCRIPT_TEXT()}">
<a class="skip" href="#main">${st.t('layout.skip')}</a>
<header class="topbar">
<div class="wrap">
  <a class="brand" href="/staff/studies">${st.t('layout.brand')}<span>${st.t('layout.brandPart')}</span></a>
  ${
    s
      ? html`<nav aria-label="${st.t('layout.navLabel')}">
    <ul>
      ${NAV.filter((n) => !n.admin || s.role === 'admin').map(
        (n) =>
          html`<li><a href="${n.href}"${n.id === p.active ? html` aria-current="page"` : ''}>${st.t(n.label)}</a></li>`,
      )}
    </ul>
  </nav>
  <form class="account" method="post" action="/staff/sign-out">
    <span class="who">${st.html('layout.signedInAs', { username: html`<strong>${s.username}</strong>`, role: s.role })}</span>
    ${csrfField(s.csrfToken)}
    <button type="submit">${st.t('layout.signOut')}</button>
  </form>`
      : ''
  }
</div>
</header>
<main id="main" class="wrap" tabindex="-1">
${p.flash ? html`<p class="flash" role="status">${p.flash}</p>` : ''}
${p.body}
</main>
<footer class="wrap"><p>${st.t('layout.footer')}</p>${s ? languageForm(s, p.path) : ''}</footer>
</body>
</html>
`.value;
  return st.localize(page);
}

/**
 * Stands for the page's own address in the language form until sendPage knows it (a GET's URL);
 * left as it is (an error page), the space makes safeNext fall back to the studies page.
 */
export const THIS_PAGE = '/staff/ this-page';

/** The signed-in member's choice of language for the staff pages, kept with the account. */
function languageForm(s: StaffSession, path: string | undefined): SafeHtml {
  return html`<form class="language" method="post" action="/staff/language">
  ${csrfField(s.csrfToken)}
  <input type="hidden" name="next" value="${path ?? THIS_PAGE}">
  <label for="f-language">${st.t('layout.language.label')}</label>
  <select id="f-language" name="language">
    <option value="">${st.t('layout.language.browser')}</option>
    ${STAFF_LANGUAGES.map(
      (l) =>
        html`<option value="${l}" lang="${l}"${l === st.lang ? html` selected` : ''}>${languageName(l)}</option>`,
    )}
  </select>
  <button type="submit" class="button small secondary">${st.t('layout.language.save')}</button>
</form>`;
}

/**
 * What the page script says (copy feedback, the setup page's link preview), from the catalogue,
 * as JSON on <body>: the CSP allows no inline script, and the script formats nothing itself.
 */
function SCRIPT_TEXT(): string {
  return JSON.stringify({
    copied: st.t('script.copied'),
    copyManual: st.t('script.copyManual'),
    noHost: st.t('setup.preview.noHost'),
    noHostWhy: st.t('setup.preview.noHostWhy'),
    byName: st.t('setup.preview.byName'),
    byAddress: st.t('setup.preview.byAddress'),
    sslOn: st.t('setup.preview.sslOn'),
    sslOff: st.t('setup.preview.sslOff'),
    portOmitted: st.t('setup.preview.portOmitted'),
    portShownHttps: st.t('setup.preview.portShown', { scheme: 'https' }),
    portShownHttp: st.t('setup.preview.portShown', { scheme: 'http' }),
  });
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/** The list of problems at the top of a form, each linking to its field; announced to screen readers. */
export function errorSummary(errors: FieldErrors | undefined, labels: Record<string, string> = {}): SafeHtml {
  const entries = Object.entries(errors ?? {});
  if (entries.length === 0) return html``;
  return html`<div class="alert" role="alert" id="form-errors">
  <h2>${st.t('layout.errorSummary', { count: entries.length })}</h2>
  <ul>
    ${entries.map(([k, msg]) =>
      k === '_form'
        ? html`<li>${msg}</li>`
        : html`<li><a href="#f-${k}">${st.t('layout.fieldError', { label: labels[k] ?? k, message: msg })}</a></li>`,
    )}
  </ul>
</div>`;
}

export interface InputOptions {
  name: string;
  label: string;
  value?: string | number | null | undefined;
  type?: 'text' | 'password' | 'number' | 'date' | 'url' | 'search' | 'tel' | 'email';
  hint?: string | SafeHtml;
  errors?: FieldErrors | undefined;
  required?: boolean;
  autocomplete?: string;
  wide?: boolean;
  attrs?: SafeHtml;
}

/** A labelled input with its hint and error tied to it by aria-describedby. */
export function inputField(o: InputOptions): SafeHtml {
  const id = `f-${o.name}`;
  const error = o.errors?.[o.name];
  const describedBy = [o.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field${o.wide ? ' wide' : ''}">
  <label for="${id}">${o.label}</label>
  <input id="${id}" name="${o.name}" type="${o.type ?? 'text'}" value="${o.value ?? ''}"${
    o.required ? html` required` : ''
  }${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${
    describedBy ? html` aria-describedby="${describedBy}"` : ''
  }${error ? html` aria-invalid="true"` : ''}${o.attrs ?? ''}>
  ${error ? html`<p class="error-text" id="${id}-error">${error}</p>` : ''}
  ${o.hint ? html`<p class="hint" id="${id}-hint">${o.hint}</p>` : ''}
</div>`;
}

/** A labelled select. */
export function selectField(o: {
  name: string;
  label: string;
  value: string;
  options: ReadonlyArray<readonly [value: string, label: string]>;
  errors?: FieldErrors | undefined;
  hint?: string;
}): SafeHtml {
  const id = `f-${o.name}`;
  const error = o.errors?.[o.name];
  const describedBy = [o.hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field">
  <label for="${id}">${o.label}</label>
  <select id="${id}" name="${o.name}"${describedBy ? html` aria-describedby="${describedBy}"` : ''}${
    error ? html` aria-invalid="true"` : ''
  }>
    ${o.options.map(
      ([v, l]) => html`<option value="${v}"${v === o.value ? html` selected` : ''}>${l}</option>`,
    )}
  </select>
  ${error ? html`<p class="error-text" id="${id}-error">${error}</p>` : ''}
  ${o.hint ? html`<p class="hint" id="${id}-hint">${o.hint}</p>` : ''}
</div>`;
}

/** A POST button in its own small form, carrying the CSRF token. */
export function postButton(o: {
  action: string;
  label: string;
  csrf: string;
  kind?: 'primary' | 'secondary' | 'danger';
  small?: boolean;
  hidden?: Record<string, string>;
  ariaLabel?: string;
}): SafeHtml {
  const cls = ['button', o.kind && o.kind !== 'primary' ? o.kind : '', o.small ? 'small' : '']
    .filter(Boolean)
    .join(' ');
  return html`<form class="inline" method="post" action="${o.action}">${csrfField(o.csrf)}${Object.entries(
    o.hidden ?? {},
  ).map(
    ([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`,
  )}<button class="${cls}" type="submit"${
    o.ariaLabel ? html` aria-label="${o.ariaLabel}"` : ''
  }>${o.label}</button></form>`;
}

/**
 * `2026-03-12 14:05 GMT+9`: staff read times in the setup's zone, labelled (the log stores UTC; the
 * API and the CSV keep ISO 8601).
 */
export function formatTime(d: Date | null | undefined, timeZone: string, withSeconds = false): string {
  if (!d) return '';
  const p = partsInZone(d, timeZone);
  const two = (n: number) => String(n).padStart(2, '0');
  return st.t('layout.time', {
    date: dayInZone(d, timeZone),
    time: `${two(p.hour)}:${two(p.minute)}${withSeconds ? `:${two(p.second)}` : ''}`,
    zone: zoneLabel(d, timeZone),
  });
}

/** `2026-03-12`: the calendar day `d` falls on in the setup's zone. */
export function isoDay(d: Date, timeZone: string): string {
  return dayInZone(d, timeZone);
}

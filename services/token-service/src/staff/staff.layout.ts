import { html, type SafeHtml } from '@studylink/service-kit';
import type { FieldErrors } from './staff.schemas.js';
import type { StaffSession } from './staff-session.service.js';

export type NavItem = 'studies' | 'access-log' | 'setup' | 'users' | 'api-keys' | null;

const NAV: ReadonlyArray<{ id: Exclude<NavItem, null>; href: string; label: string; admin: boolean }> = [
  { id: 'studies', href: '/staff/studies', label: 'Studies', admin: false },
  { id: 'access-log', href: '/staff/access-log', label: 'Access log', admin: false },
  { id: 'setup', href: '/staff/setup', label: 'Server setup', admin: true },
  { id: 'users', href: '/staff/users', label: 'Users', admin: true },
  { id: 'api-keys', href: '/staff/api-keys', label: 'API keys', admin: true },
];

export interface PageOptions {
  title: string;
  session: StaffSession | null;
  active?: NavItem;
  body: SafeHtml;
  /** A confirmation of what the previous request did (from a fixed list, never request text). */
  flash?: string | null | undefined;
}

/**
 * Every staff page: landmarks (header, nav, main, footer), a skip link, one same-origin
 * stylesheet and script, nothing inline (the CSP forbids it).
 */
export function staffPage(p: PageOptions): string {
  const s = p.session;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>${p.title} · StudyLink staff</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/staff/assets/staff.css">
<script src="/staff/assets/staff.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to main content</a>
<header class="topbar">
<div class="wrap">
  <a class="brand" href="/staff/studies">StudyLink<span>staff</span></a>
  ${
    s
      ? html`<nav aria-label="Main">
    <ul>
      ${NAV.filter((n) => !n.admin || s.role === 'admin').map(
        (n) =>
          html`<li><a href="${n.href}"${n.id === p.active ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
      )}
    </ul>
  </nav>
  <form class="account" method="post" action="/staff/sign-out">
    <span class="who">Signed in as <strong>${s.username}</strong> (${s.role === 'admin' ? 'administrator' : 'staff'})</span>
    ${csrfField(s.csrfToken)}
    <button type="submit">Sign out</button>
  </form>`
      : ''
  }
</div>
</header>
<main id="main" class="wrap" tabindex="-1">
${p.flash ? html`<p class="flash" role="status">${p.flash}</p>` : ''}
${p.body}
</main>
<footer class="wrap"><p>StudyLink · staff interface · links are shown only to signed-in staff and every display is logged.</p></footer>
</body>
</html>
`.value;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/** The list of problems at the top of a form, each linking to its field; announced to screen readers. */
export function errorSummary(errors: FieldErrors | undefined, labels: Record<string, string> = {}): SafeHtml {
  const entries = Object.entries(errors ?? {});
  if (entries.length === 0) return html``;
  return html`<div class="alert" role="alert" id="form-errors">
  <h2>Please correct ${entries.length === 1 ? 'this problem' : `these ${entries.length} problems`}</h2>
  <ul>
    ${entries.map(([k, msg]) =>
      k === '_form' ? html`<li>${msg}</li>` : html`<li><a href="#f-${k}">${labels[k] ?? k}: ${msg}</a></li>`,
    )}
  </ul>
</div>`;
}

export interface InputOptions {
  name: string;
  label: string;
  value?: string | number | null | undefined;
  type?: 'text' | 'password' | 'number' | 'date' | 'url' | 'search';
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

/** `2026-03-12 14:05 UTC`: staff read times in UTC everywhere, as the log stores them. */
export function formatUtc(d: Date | null | undefined, withSeconds = false): string {
  if (!d) return '';
  const iso = d.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`;
}

/** `2026-03-12`. */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

import { html } from '@studylink/service-kit';
import type { ApiScope } from '../api-keys/api-key.service.js';
import {
  csrfField,
  errorSummary,
  formatUtc,
  inputField,
  postButton,
  selectField,
  staffPage,
} from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';
import type { ApiKeyListItem } from './staff-api-key.repository.js';
import type { StaffSession } from './staff-session.service.js';

/** The scope sets a key can be made with, as the form offers them. */
export const ACCESS_CHOICES = ['tokens', 'audit', 'tokens-audit', 'admin'] as const;
const ACCESS_LABELS: ReadonlyArray<readonly [(typeof ACCESS_CHOICES)[number], string]> = [
  ['tokens', 'Links: issue, show and revoke (integrators)'],
  ['audit', 'Audit: read the access log and the setup'],
  ['tokens-audit', 'Links and audit'],
  ['admin', 'Administrator: everything, changing the setup included'],
];

export function scopesOfAccess(access: (typeof ACCESS_CHOICES)[number]): ApiScope[] {
  return access === 'tokens-audit' ? ['audit', 'tokens'] : [access];
}

const SCOPE_TEXT: Record<ApiScope, string> = { tokens: 'links', audit: 'audit', admin: 'admin' };

export function renderApiKeysPage(p: {
  session: StaffSession;
  keys: ApiKeyListItem[];
  form?: { name: string; access: string };
  errors?: FieldErrors;
  flash?: string | null;
}): string {
  const csrf = p.session.csrfToken;
  return staffPage({
    title: 'API keys',
    session: p.session,
    active: 'api-keys',
    flash: p.flash,
    body: html`<h1>API keys</h1>
<p class="lead">Keys for PACS and RIS systems that call the REST API (<span class="mono">/api/v1</span>, described at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>). A key is shown once, when it is made; only its first characters are kept for reference.</p>
<div class="table-scroll" role="region" aria-labelledby="keys-caption" tabindex="0">
  <table>
    <caption id="keys-caption">${p.keys.length} ${p.keys.length === 1 ? 'key' : 'keys'}</caption>
    <thead><tr>
      <th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Starts with</th>
      <th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Actions</th>
    </tr></thead>
    <tbody>
      ${
        p.keys.length === 0
          ? html`<tr><td colspan="7" class="empty">No API keys yet.</td></tr>`
          : p.keys.map(
              (k) => html`<tr>
        <td><strong>${k.name}</strong></td>
        <td data-scopes="${k.scopes.join(' ')}">${k.scopes.map((s) => html`<span class="badge">${SCOPE_TEXT[s]}</span> `)}</td>
        <td class="mono">${k.keyPrefix}…</td>
        <td class="nowrap">${formatUtc(k.createdAt)}<span class="sub">by ${k.createdBy}</span></td>
        <td class="nowrap">${k.lastUsedAt ? formatUtc(k.lastUsedAt) : 'never'}</td>
        <td>${
          k.disabledAt
            ? html`<span class="badge bad">Disabled</span><span class="sub">${formatUtc(k.disabledAt)}${k.disabledBy ? ` by ${k.disabledBy}` : ''}</span>`
            : html`<span class="badge ok">Active</span>`
        }</td>
        <td>${
          k.disabledAt
            ? ''
            : postButton({
                action: `/staff/api-keys/${k.id}/disable`,
                label: 'Disable',
                csrf,
                kind: 'danger',
                small: true,
                ariaLabel: `Disable the key ${k.name}`,
              })
        }</td>
      </tr>`,
            )
      }
    </tbody>
  </table>
</div>
<section class="card" aria-labelledby="new-key-heading">
  <h2 id="new-key-heading">New API key</h2>
  ${errorSummary(p.errors, { name: 'Name', access: 'May do' })}
  <form class="stack" method="post" action="/staff/api-keys" novalidate>
    ${csrfField(csrf)}
    <div class="fields">
      ${inputField({
        name: 'name',
        label: 'Name',
        value: p.form?.name ?? '',
        errors: p.errors,
        hint: 'Which system uses it, e.g. “RIS production”.',
        autocomplete: 'off',
        required: true,
      })}
      ${selectField({
        name: 'access',
        label: 'May do',
        value: p.form?.access ?? 'tokens',
        options: ACCESS_LABELS,
        errors: p.errors,
        hint: 'PACS and RIS systems need links only; reading the access log needs audit; changing the setup needs an administrator key.',
      })}
    </div>
    <div class="actions"><button class="button" type="submit">Create key</button></div>
  </form>
</section>`,
  });
}

/** The one time a new key is visible. */
export function renderNewKeyPage(p: { session: StaffSession; name: string; key: string }): string {
  return staffPage({
    title: 'New API key',
    session: p.session,
    active: 'api-keys',
    body: html`<p class="crumbs"><a href="/staff/api-keys">← API keys</a></p>
<section class="card" aria-labelledby="key-heading">
  <h1 id="key-heading">API key “${p.name}” created</h1>
  <p class="notice"><strong>Copy the key now.</strong> It is not stored and will not be shown again; if it is lost, disable it and make a new one.</p>
  <label for="new-key">API key</label>
  <div class="link-box">
    <input id="new-key" class="secret" type="text" readonly value="${p.key}" data-select-all aria-describedby="key-status" spellcheck="false" autocomplete="off">
    <button class="button" type="button" hidden data-copy="new-key" data-status="key-status" data-done="Key copied to the clipboard.">Copy key</button>
  </div>
  <p id="key-status" class="copy-status" role="status" aria-live="polite"></p>
  <p>Send it as <span class="mono">Authorization: Bearer &lt;key&gt;</span>.</p>
  <p><a class="button secondary" href="/staff/api-keys">Done</a></p>
</section>`,
  });
}

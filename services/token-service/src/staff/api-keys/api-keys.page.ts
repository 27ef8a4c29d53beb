import { html } from '@studylink/service-kit';
import type { ApiKeyListItem } from '../../api-keys/api-key.repository.js';
import type { ApiScope } from '../../api-keys/api-key.service.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import {
  csrfField,
  errorSummary,
  formatTime,
  inputField,
  postButton,
  selectField,
  staffPage,
} from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';

/** The scope sets a key can be made with, as the form offers them. */
export const ACCESS_CHOICES = ['tokens', 'audit', 'tokens-audit', 'admin'] as const;
const ACCESS_LABELS: ReadonlyArray<readonly [(typeof ACCESS_CHOICES)[number], string]> = [
  ['tokens', st.t('apiKeys.access.tokens')],
  ['audit', st.t('apiKeys.access.audit')],
  ['tokens-audit', st.t('apiKeys.access.tokensAudit')],
  ['admin', st.t('apiKeys.access.admin')],
];

export function scopesOfAccess(access: (typeof ACCESS_CHOICES)[number]): ApiScope[] {
  return access === 'tokens-audit' ? ['audit', 'tokens'] : [access];
}

const SCOPE_TEXT: Record<ApiScope, string> = {
  tokens: st.t('apiKeys.scope.tokens'),
  audit: st.t('apiKeys.scope.audit'),
  admin: st.t('apiKeys.scope.admin'),
};

const LABELS = { name: st.t('apiKeys.label.name'), access: st.t('apiKeys.label.access') };

export function renderApiKeysPage(p: {
  session: StaffSession;
  /** The setup\'s zone: every time on the page is in it. */
  timeZone: string;
  keys: ApiKeyListItem[];
  form?: { name: string; access: string };
  errors?: FieldErrors;
  flash?: string | null;
}): string {
  const csrf = p.session.csrfToken;
  return staffPage({
    title: st.t('apiKeys.title'),
    session: p.session,
    active: 'api-keys',
    flash: p.flash,
    body: html`<h1>${st.t('apiKeys.title')}</h1>
<p class="lead">${st.html('apiKeys.lead', {
      api: html`<span class="mono">/api/v1</span>`,
      openapi: html`<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>`,
    })}</p>
<div class="table-scroll" role="region" aria-labelledby="keys-caption" tabindex="0">
  <table>
    <caption id="keys-caption">${st.t('apiKeys.caption', { count: p.keys.length })}</caption>
    <thead><tr>
      <th scope="col">${st.t('apiKeys.column.name')}</th><th scope="col">${st.t('apiKeys.column.scopes')}</th><th scope="col">${st.t('apiKeys.column.prefix')}</th>
      <th scope="col">${st.t('apiKeys.column.created')}</th><th scope="col">${st.t('apiKeys.column.lastUsed')}</th><th scope="col">${st.t('apiKeys.column.status')}</th><th scope="col">${st.t('apiKeys.column.actions')}</th>
    </tr></thead>
    <tbody>
      ${
        p.keys.length === 0
          ? html`<tr><td colspan="7" class="empty">${st.t('apiKeys.empty')}</td></tr>`
          : p.keys.map(
              (k) => html`<tr>
        <td><strong>${k.name}</strong></td>
        <td data-scopes="${k.scopes.join(' ')}">${k.scopes.map((s) => html`<span class="badge">${SCOPE_TEXT[s]}</span> `)}</td>
        <td class="mono">${k.keyPrefix}…</td>
        <td class="nowrap">${formatTime(k.createdAt, p.timeZone)}<span class="sub">${st.t('apiKeys.createdBy', { actor: k.createdBy })}</span></td>
        <td class="nowrap">${k.lastUsedAt ? formatTime(k.lastUsedAt, p.timeZone) : st.t('apiKeys.neverUsed')}</td>
        <td>${
          k.disabledAt
            ? html`<span class="badge bad">${st.t('apiKeys.status.disabled')}</span><span class="sub">${
                k.disabledBy
                  ? st.t('apiKeys.disabledAtBy', {
                      date: formatTime(k.disabledAt, p.timeZone),
                      actor: k.disabledBy,
                    })
                  : formatTime(k.disabledAt, p.timeZone)
              }</span>`
            : html`<span class="badge ok">${st.t('apiKeys.status.active')}</span>`
        }</td>
        <td>${
          k.disabledAt
            ? ''
            : postButton({
                action: `/staff/api-keys/${k.id}/disable`,
                label: st.t('apiKeys.disable'),
                csrf,
                kind: 'danger',
                small: true,
                ariaLabel: st.t('apiKeys.disableKey', { name: k.name }),
              })
        }</td>
      </tr>`,
            )
      }
    </tbody>
  </table>
</div>
<section class="card" aria-labelledby="new-key-heading">
  <h2 id="new-key-heading">${st.t('apiKeys.new.heading')}</h2>
  ${errorSummary(p.errors, LABELS)}
  <form class="stack" method="post" action="/staff/api-keys" novalidate>
    ${csrfField(csrf)}
    <div class="fields">
      ${inputField({
        name: 'name',
        label: LABELS.name,
        value: p.form?.name ?? '',
        errors: p.errors,
        hint: st.t('apiKeys.new.nameHint'),
        autocomplete: 'off',
        required: true,
      })}
      ${selectField({
        name: 'access',
        label: LABELS.access,
        value: p.form?.access ?? 'tokens',
        options: ACCESS_LABELS,
        errors: p.errors,
        hint: st.t('apiKeys.new.accessHint'),
      })}
    </div>
    <div class="actions"><button class="button" type="submit">${st.t('apiKeys.new.submit')}</button></div>
  </form>
</section>`,
  });
}

/** The one time a new key is visible. */
export function renderNewKeyPage(p: { session: StaffSession; name: string; key: string }): string {
  return staffPage({
    title: st.t('apiKeys.created.title'),
    session: p.session,
    active: 'api-keys',
    body: html`<p class="crumbs"><a href="/staff/api-keys">${st.t('apiKeys.created.back')}</a></p>
<section class="card" aria-labelledby="key-heading">
  <h1 id="key-heading">${st.t('apiKeys.created.heading', { name: p.name })}</h1>
  <p class="notice"><strong>${st.t('apiKeys.created.copyNow')}</strong> ${st.t('apiKeys.created.notStored')}</p>
  <label for="new-key">${st.t('apiKeys.created.keyLabel')}</label>
  <div class="link-box">
    <input id="new-key" class="secret" type="text" readonly value="${p.key}" data-select-all aria-describedby="key-status" spellcheck="false" autocomplete="off">
    <button class="button" type="button" hidden data-copy="new-key" data-status="key-status" data-done="${st.t('apiKeys.created.copied')}">${st.t('apiKeys.created.copy')}</button>
  </div>
  <p id="key-status" class="copy-status" role="status" aria-live="polite"></p>
  <p>${st.html('apiKeys.created.sendAs', { header: html`<span class="mono">Authorization: Bearer &lt;key&gt;</span>` })}</p>
  <p><a class="button secondary" href="/staff/api-keys">${st.t('apiKeys.created.done')}</a></p>
</section>`,
  });
}

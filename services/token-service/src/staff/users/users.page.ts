import { html } from '@studylink/service-kit';
import type { StaffUserRow } from '../../db/tables.js';
import { PASSWORD_MIN_LENGTH } from '../session/password.hasher.js';
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

const roleName = (role: string) => st.t('users.roleName', { role });

const ROLES: ReadonlyArray<readonly [string, string]> = [
  ['staff', roleName('staff')],
  ['admin', roleName('admin')],
];

const LABELS = {
  username: st.t('users.label.username'),
  role: st.t('users.label.role'),
  password: st.t('users.label.password'),
};

function status(u: StaffUserRow, timeZone: string) {
  if (u.disabled_at) return html`<span class="badge bad">${st.t('users.status.disabled')}</span>`;
  if (u.locked_until && u.locked_until.getTime() > Date.now())
    return html`<span class="badge warn">${st.t('users.status.locked')}</span><span class="sub">${st.t('users.lockedUntil', { date: formatTime(u.locked_until, timeZone) })}</span>`;
  return html`<span class="badge ok">${st.t('users.status.active')}</span>`;
}

export function renderUsersPage(p: {
  session: StaffSession;
  /** The setup\'s zone: every time on the page is in it. */
  timeZone: string;
  users: StaffUserRow[];
  form?: { username: string; role: string };
  errors?: FieldErrors;
  flash?: string | null;
}): string {
  const csrf = p.session.csrfToken;
  return staffPage({
    title: st.t('users.title'),
    session: p.session,
    active: 'users',
    flash: p.flash,
    body: html`<h1>${st.t('users.title')}</h1>
<p class="lead">${st.t('users.lead')}</p>
<div class="table-scroll" role="region" aria-labelledby="users-caption" tabindex="0">
  <table>
    <caption id="users-caption">${st.t('users.caption', { count: p.users.length })}</caption>
    <thead><tr>
      <th scope="col">${st.t('users.column.user')}</th><th scope="col">${st.t('users.column.role')}</th><th scope="col">${st.t('users.column.status')}</th>
      <th scope="col">${st.t('users.column.lastSignIn')}</th><th scope="col">${st.t('users.column.created')}</th><th scope="col">${st.t('users.column.actions')}</th>
    </tr></thead>
    <tbody>
      ${p.users.map(
        (u) => html`<tr>
        <td><strong>${u.username}</strong>${u.id === p.session.userId ? html` <span class="muted">${st.t('users.you')}</span>` : ''}${
          u.oidc_subject !== null ? html`<span class="sub">${st.t('users.singleSignOn')}</span>` : ''
        }</td>
        <td>${roleName(u.role)}</td>
        <td>${status(u, p.timeZone)}</td>
        <td class="nowrap">${formatTime(u.last_sign_in_at, p.timeZone) || html`<span class="muted">${st.t('users.neverSignedIn')}</span>`}</td>
        <td class="nowrap">${formatTime(u.created_at, p.timeZone)}<span class="sub">${st.t('users.createdBy', { actor: u.created_by })}</span></td>
        <td><div class="actions">
          ${
            u.oidc_subject === null
              ? html`<a class="button small secondary" href="/staff/users/${u.id}/password" aria-label="${st.t('users.resetPasswordOf', { username: u.username })}">${st.t('users.resetPassword')}</a>`
              : ''
          }
          ${
            u.id === p.session.userId
              ? ''
              : u.disabled_at
                ? postButton({
                    action: `/staff/users/${u.id}/enable`,
                    label: st.t('users.enable'),
                    csrf,
                    kind: 'secondary',
                    small: true,
                    ariaLabel: st.t('users.enableUser', { username: u.username }),
                  })
                : postButton({
                    action: `/staff/users/${u.id}/disable`,
                    label: st.t('users.disable'),
                    csrf,
                    kind: 'danger',
                    small: true,
                    ariaLabel: st.t('users.disableUser', { username: u.username }),
                  })
          }
        </div></td>
      </tr>`,
      )}
    </tbody>
  </table>
</div>
<section class="card" aria-labelledby="new-user-heading">
  <h2 id="new-user-heading">${st.t('users.new.heading')}</h2>
  ${errorSummary(p.errors, LABELS)}
  <form class="stack" method="post" action="/staff/users" novalidate>
    ${csrfField(csrf)}
    <div class="fields">
      ${inputField({
        name: 'username',
        label: LABELS.username,
        value: p.form?.username ?? '',
        errors: p.errors,
        hint: st.t('users.new.usernameHint'),
        autocomplete: 'off',
        required: true,
      })}
      ${selectField({
        name: 'role',
        label: LABELS.role,
        value: p.form?.role ?? 'staff',
        options: ROLES,
        errors: p.errors,
        hint: st.t('users.new.roleHint'),
      })}
      ${inputField({
        name: 'password',
        label: LABELS.password,
        type: 'password',
        errors: p.errors,
        hint: st.t('users.new.passwordHint', { min: PASSWORD_MIN_LENGTH }),
        autocomplete: 'new-password',
        required: true,
      })}
    </div>
    <div class="actions"><button class="button" type="submit">${st.t('users.new.submit')}</button></div>
  </form>
</section>`,
  });
}

export function renderPasswordPage(p: {
  session: StaffSession;
  user: StaffUserRow;
  errors?: FieldErrors;
}): string {
  return staffPage({
    title: st.t('users.password.title', { username: p.user.username }),
    session: p.session,
    active: 'users',
    body: html`<p class="crumbs"><a href="/staff/users">${st.t('users.password.back')}</a></p>
<section class="card" aria-labelledby="pw-heading">
  <h1 id="pw-heading">${st.t('users.password.title', { username: p.user.username })}</h1>
  <p>${st.t('users.password.lead')}</p>
  ${errorSummary(p.errors, LABELS)}
  <form class="stack" method="post" action="/staff/users/${p.user.id}/password" novalidate>
    ${csrfField(p.session.csrfToken)}
    <input type="text" name="username" value="${p.user.username}" autocomplete="username" hidden>
    ${inputField({
      name: 'password',
      label: st.t('users.password.label'),
      type: 'password',
      errors: p.errors,
      hint: st.t('users.password.hint', { min: PASSWORD_MIN_LENGTH }),
      autocomplete: 'new-password',
      required: true,
    })}
    <div class="actions">
      <button class="button" type="submit">${st.t('users.password.submit')}</button>
      <a class="button secondary" href="/staff/users">${st.t('users.password.cancel')}</a>
    </div>
  </form>
</section>`,
  });
}

import { html } from '@studylink/service-kit';
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
import type { StaffUserRow } from './staff.tables.js';
import type { StaffSession } from './staff-session.service.js';

const ROLES: ReadonlyArray<readonly [string, string]> = [
  ['staff', 'Staff'],
  ['admin', 'Administrator'],
];

const LABELS = { username: 'User name', role: 'Role', password: 'Password' };

function status(u: StaffUserRow) {
  if (u.disabled_at) return html`<span class="badge bad">Disabled</span>`;
  if (u.locked_until && u.locked_until.getTime() > Date.now())
    return html`<span class="badge warn">Locked</span><span class="sub">until ${formatUtc(u.locked_until)}</span>`;
  return html`<span class="badge ok">Active</span>`;
}

export function renderUsersPage(p: {
  session: StaffSession;
  users: StaffUserRow[];
  form?: { username: string; role: string };
  errors?: FieldErrors;
  flash?: string | null;
}): string {
  const csrf = p.session.csrfToken;
  return staffPage({
    title: 'Users',
    session: p.session,
    active: 'users',
    flash: p.flash,
    body: html`<h1>Users</h1>
<p class="lead">People who may sign in here. Staff find studies and manage their links; administrators also edit the setup, users and API keys.</p>
<div class="table-scroll" role="region" aria-labelledby="users-caption" tabindex="0">
  <table>
    <caption id="users-caption">${p.users.length} ${p.users.length === 1 ? 'user' : 'users'}</caption>
    <thead><tr>
      <th scope="col">User</th><th scope="col">Role</th><th scope="col">Status</th>
      <th scope="col">Last sign-in</th><th scope="col">Created</th><th scope="col">Actions</th>
    </tr></thead>
    <tbody>
      ${p.users.map(
        (u) => html`<tr>
        <td><strong>${u.username}</strong>${u.id === p.session.userId ? html` <span class="muted">(you)</span>` : ''}</td>
        <td>${u.role === 'admin' ? 'Administrator' : 'Staff'}</td>
        <td>${status(u)}</td>
        <td class="nowrap">${formatUtc(u.last_sign_in_at) || html`<span class="muted">never</span>`}</td>
        <td class="nowrap">${formatUtc(u.created_at)}<span class="sub">by ${u.created_by}</span></td>
        <td><div class="actions">
          <a class="button small secondary" href="/staff/users/${u.id}/password" aria-label="Reset password of ${u.username}">Reset password</a>
          ${
            u.id === p.session.userId
              ? ''
              : u.disabled_at
                ? postButton({
                    action: `/staff/users/${u.id}/enable`,
                    label: 'Enable',
                    csrf,
                    kind: 'secondary',
                    small: true,
                    ariaLabel: `Enable ${u.username}`,
                  })
                : postButton({
                    action: `/staff/users/${u.id}/disable`,
                    label: 'Disable',
                    csrf,
                    kind: 'danger',
                    small: true,
                    ariaLabel: `Disable ${u.username}`,
                  })
          }
        </div></td>
      </tr>`,
      )}
    </tbody>
  </table>
</div>
<section class="card" aria-labelledby="new-user-heading">
  <h2 id="new-user-heading">New user</h2>
  ${errorSummary(p.errors, LABELS)}
  <form class="stack" method="post" action="/staff/users" novalidate>
    ${csrfField(csrf)}
    <div class="fields">
      ${inputField({
        name: 'username',
        label: 'User name',
        value: p.form?.username ?? '',
        errors: p.errors,
        hint: 'Letters, digits, dots, hyphens, underscores.',
        autocomplete: 'off',
        required: true,
      })}
      ${selectField({
        name: 'role',
        label: 'Role',
        value: p.form?.role ?? 'staff',
        options: ROLES,
        errors: p.errors,
        hint: 'Staff find studies and manage links; administrators also the setup, users and API keys.',
      })}
      ${inputField({
        name: 'password',
        label: 'Password',
        type: 'password',
        errors: p.errors,
        hint: 'At least 12 characters. Tell it to the user in person.',
        autocomplete: 'new-password',
        required: true,
      })}
    </div>
    <div class="actions"><button class="button" type="submit">Create user</button></div>
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
    title: `New password for ${p.user.username}`,
    session: p.session,
    active: 'users',
    body: html`<p class="crumbs"><a href="/staff/users">← Users</a></p>
<section class="card" aria-labelledby="pw-heading">
  <h1 id="pw-heading">New password for ${p.user.username}</h1>
  <p>The user is signed out everywhere, and a lockout after failed sign-ins is lifted.</p>
  ${errorSummary(p.errors, LABELS)}
  <form class="stack" method="post" action="/staff/users/${p.user.id}/password" novalidate>
    ${csrfField(p.session.csrfToken)}
    <input type="text" name="username" value="${p.user.username}" autocomplete="username" hidden>
    ${inputField({
      name: 'password',
      label: 'New password',
      type: 'password',
      errors: p.errors,
      hint: 'At least 12 characters.',
      autocomplete: 'new-password',
      required: true,
    })}
    <div class="actions">
      <button class="button" type="submit">Set password</button>
      <a class="button secondary" href="/staff/users">Cancel</a>
    </div>
  </form>
</section>`,
  });
}

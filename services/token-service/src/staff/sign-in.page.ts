import { html } from '@studylink/service-kit';
import { errorSummary, inputField, staffPage } from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';

const REASONS: Record<string, string> = {
  expired: 'Your session has ended. Please sign in again.',
  'signed-out': 'You have signed out.',
};

export function renderSignInPage(p: {
  csrf: string;
  next: string;
  username?: string;
  reason?: string | undefined;
  errors?: FieldErrors;
}): string {
  const notice = p.reason ? REASONS[p.reason] : undefined;
  return staffPage({
    title: 'Sign in',
    session: null,
    body: html`<div class="card signin">
  <h1>Sign in</h1>
  <p class="muted">Staff interface for sharing imaging studies with patients.</p>
  ${notice ? html`<p class="flash" role="status">${notice}</p>` : ''}
  ${errorSummary(p.errors, { username: 'User name', password: 'Password' })}
  <form class="stack" method="post" action="/staff/sign-in" novalidate>
    <input type="hidden" name="_csrf" value="${p.csrf}">
    <input type="hidden" name="next" value="${p.next}">
    ${inputField({
      name: 'username',
      label: 'User name',
      value: p.username ?? '',
      errors: p.errors,
      required: true,
      autocomplete: 'username',
    })}
    ${inputField({
      name: 'password',
      label: 'Password',
      type: 'password',
      errors: p.errors,
      required: true,
      autocomplete: 'current-password',
    })}
    <div class="actions"><button class="button" type="submit">Sign in</button></div>
  </form>
</div>`,
  });
}

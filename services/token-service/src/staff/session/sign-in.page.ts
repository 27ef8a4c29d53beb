import { html } from '@studylink/service-kit';
import { st } from '../shared/staff.i18n.js';
import { errorSummary, inputField, staffPage } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';

const REASONS = { expired: 'signIn.reason.expired', 'signed-out': 'signIn.reason.signedOut' } as const;

export function renderSignInPage(p: {
  csrf: string;
  next: string;
  username?: string;
  reason?: string | undefined;
  errors?: FieldErrors;
}): string {
  const notice =
    p.reason && Object.hasOwn(REASONS, p.reason)
      ? st.t(REASONS[p.reason as keyof typeof REASONS])
      : undefined;
  return staffPage({
    title: st.t('signIn.title'),
    session: null,
    body: html`<div class="card signin">
  <h1>${st.t('signIn.title')}</h1>
  <p class="muted">${st.t('signIn.lead')}</p>
  ${notice ? html`<p class="flash" role="status">${notice}</p>` : ''}
  ${errorSummary(p.errors, { username: st.t('signIn.username'), password: st.t('signIn.password') })}
  <form class="stack" method="post" action="/staff/sign-in" novalidate>
    <input type="hidden" name="_csrf" value="${p.csrf}">
    <input type="hidden" name="next" value="${p.next}">
    ${inputField({
      name: 'username',
      label: st.t('signIn.username'),
      value: p.username ?? '',
      errors: p.errors,
      required: true,
      autocomplete: 'username',
    })}
    ${inputField({
      name: 'password',
      label: st.t('signIn.password'),
      type: 'password',
      errors: p.errors,
      required: true,
      autocomplete: 'current-password',
    })}
    <div class="actions"><button class="button" type="submit">${st.t('signIn.submit')}</button></div>
  </form>
</div>`,
  });
}

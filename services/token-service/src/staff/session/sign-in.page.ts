import { html, type SafeHtml } from '@studylink/service-kit';
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
  /** Sign-in with a local password is on (STAFF_LOCAL_SIGN_IN). */
  local: boolean;
  /** Single sign-on is configured: its button. */
  singleSignOn: boolean;
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
  ${
    p.singleSignOn
      ? html`<p class="actions"><a class="button" href="/staff/sign-in/oidc?${new URLSearchParams({ next: p.next }).toString()}">${st.t('signIn.singleSignOn')}</a></p>`
      : ''
  }
  ${p.local ? localForm(p) : ''}
</div>`,
  });
}

function localForm(p: Parameters<typeof renderSignInPage>[0]): SafeHtml {
  return html`${p.singleSignOn ? html`<h2>${st.t('signIn.localHeading')}</h2>` : ''}
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
    <div class="actions"><button class="button${p.singleSignOn ? ' secondary' : ''}" type="submit">${st.t('signIn.submit')}</button></div>
  </form>`;
}

/** After a sign-in through the provider: moves on to `next` (a same-site navigation, see oidc.routes.ts). */
export function renderSignedInPage(next: string): string {
  return staffPage({
    title: st.t('signIn.signedIn'),
    session: null,
    refreshTo: next,
    body: html`<div class="card signin">
  <h1>${st.t('signIn.signedIn')}</h1>
  <p><a class="button" href="${next}">${st.t('signIn.continue')}</a></p>
</div>`,
  });
}

/**
 * Signed out here; on to the provider's end-session endpoint by a meta refresh: a redirect of the
 * sign-out form's POST to another site would be stopped by the pages' CSP (form-action 'self').
 */
export function renderSignedOutPage(providerUrl: string): string {
  return staffPage({
    title: st.t('signIn.reason.signedOut'),
    session: null,
    refreshTo: providerUrl,
    body: html`<div class="card signin">
  <h1>${st.t('signIn.reason.signedOut')}</h1>
  <p><a class="button" href="${providerUrl}">${st.t('signIn.providerSignOut')}</a></p>
</div>`,
  });
}

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

/**
 * A page that moves on by itself (a meta refresh) with a link for the same: after a sign-in through
 * the provider, to `next` (a same-site navigation, see oidc.routes.ts); after signing out here, to
 * the provider's end-session endpoint (a redirect of the sign-out form's POST to another site would
 * be stopped by the pages' CSP, form-action 'self').
 */
function onwardPage(title: string, linkText: string, to: string): string {
  return staffPage({
    title,
    session: null,
    refreshTo: to,
    body: html`<div class="card signin">
  <h1>${title}</h1>
  <p><a class="button" href="${to}">${linkText}</a></p>
</div>`,
  });
}

export const renderSignedInPage = (next: string): string =>
  onwardPage(st.t('signIn.signedIn'), st.t('signIn.continue'), next);

export const renderSignedOutPage = (providerUrl: string): string =>
  onwardPage(st.t('signIn.reason.signedOut'), st.t('signIn.providerSignOut'), providerUrl);

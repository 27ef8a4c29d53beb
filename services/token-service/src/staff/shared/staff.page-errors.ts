import { html } from '@studylink/service-kit';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from './staff.i18n.js';
import { staffPage } from './staff.layout.js';

/**
 * An error page inside the staff layout. Its text is the catalogue's for the error's code (or, for
 * a code without one, for its status): never request data, never an English message from code.
 */
export function renderStaffErrorPage(
  status: number,
  code: string | null,
  session: StaffSession | null,
): string {
  const byStatus = (kind: 'title' | 'text') => {
    const key = `error.${kind}.${status}`;
    return st.has(key) ? st.t(key) : st.t(status >= 500 ? `error.${kind}.other` : `error.${kind}.400`);
  };
  const codeKey = `error.code.${code}`;
  const title = byStatus('title');
  const text =
    status >= 500 && status !== 503
      ? st.t('error.text.other')
      : st.has(codeKey)
        ? st.t(codeKey)
        : byStatus('text');
  return staffPage({
    title,
    session,
    body: html`<section class="card" aria-labelledby="error-heading">
  <h1 id="error-heading">${title}</h1>
  <p>${text}</p>
  <p><a class="button secondary" href="${session ? '/staff/studies' : '/staff/sign-in'}">${
    session ? st.t('error.backToStudies') : st.t('error.toSignIn')
  }</a></p>
</section>`,
  });
}

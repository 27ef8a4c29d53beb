import { html } from '@studylink/service-kit';
import { staffPage } from './staff.layout.js';
import type { StaffSession } from './staff-session.service.js';

const TITLES: Record<number, string> = {
  400: 'Request not understood',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Not allowed',
  409: 'Not possible',
  413: 'Too large',
  415: 'Not understood',
  429: 'Too many requests',
  503: 'Temporarily unavailable',
};

/** An error page inside the staff layout; the message is the error's fixed text, never request data. */
export function renderStaffErrorPage(status: number, message: string, session: StaffSession | null): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Request not understood');
  const text =
    status >= 500 && status !== 503
      ? 'Something went wrong on the server. Please try again; if it keeps happening, tell your administrator.'
      : `${message.charAt(0).toUpperCase()}${message.slice(1)}.`;
  return staffPage({
    title,
    session,
    body: html`<section class="card" aria-labelledby="error-heading">
  <h1 id="error-heading">${title}</h1>
  <p>${text}</p>
  <p><a class="button secondary" href="${session ? '/staff/studies' : '/staff/sign-in'}">${
    session ? 'Back to the studies' : 'Go to sign-in'
  }</a></p>
</section>`,
  });
}

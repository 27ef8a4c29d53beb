import { LANGUAGES, languageName } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import type { DeliveryService, DeliveryView } from '../../deliveries/delivery.service.js';
import type { ChildLink } from '../../sharing/share.service.js';
import { st } from '../shared/staff.i18n.js';
import { csrfField, formatTime } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';

/** "Send to the patient" (e-mail, mobile, language) and the link's deliveries with their status. */
export function deliveryCard(p: {
  base: string;
  csrf: string;
  channels: ReturnType<DeliveryService['channels']>;
  deliveries: DeliveryView[];
  defaultLanguage: string;
  /** The setup's zone: when each delivery happened. */
  timeZone: string;
  errors?: FieldErrors | undefined;
}): SafeHtml {
  const e = p.errors ?? {};
  const fieldOf = (
    name: 'email' | 'phone',
    type: string,
    label: string,
    hint: string | null,
    off: boolean,
  ) => {
    const id = `delivery-${name}`;
    return html`<div class="field">
    <label for="${id}">${label}</label>
    <input id="${id}" name="${name}" type="${type}" autocomplete="off"${off ? html` disabled` : ''}${e[name] ? html` aria-invalid="true" aria-describedby="${id}-error"` : ''}>
    ${e[name] ? html`<p class="error-text" id="${id}-error">${e[name]}</p>` : ''}
    ${hint ? html`<p class="hint">${hint}</p>` : ''}
  </div>`;
  };
  const notConfigured = (channel: 'email' | 'sms') =>
    p.channels[channel].configured
      ? ''
      : html`<p class="hint">${st.t('delivery.notConfigured', {
          channel: st.t(channel === 'email' ? 'delivery.channel.email' : 'delivery.channel.sms'),
          vars: p.channels[channel].missing.join(', '),
        })}</p>`;
  return html`<section class="card" aria-labelledby="delivery-heading" id="delivery">
  <h2 id="delivery-heading">${st.t('delivery.heading')}</h2>
  ${e.delivery ? html`<p class="error-text" role="alert">${e.delivery}</p>` : ''}
  <form class="stack" method="post" action="${p.base}/deliveries" novalidate>
    ${csrfField(p.csrf)}
    ${fieldOf('email', 'email', st.t('delivery.email'), null, !p.channels.email.configured)}
    ${notConfigured('email')}
    ${fieldOf('phone', 'tel', st.t('delivery.phone'), st.t('delivery.phoneHint'), !p.channels.sms.configured)}
    ${notConfigured('sms')}
    <div class="field">
      <label for="delivery-language">${st.t('delivery.language')}</label>
      <select id="delivery-language" name="language">${LANGUAGES.map(
        (l) =>
          html`<option value="${l}" lang="${l}"${l === p.defaultLanguage ? html` selected` : ''}>${languageName(l)}</option>`,
      )}</select>
    </div>
    <p class="hint">${st.t('delivery.pinNote')}</p>
    <div class="actions"><button class="button" type="submit"${
      p.channels.email.configured || p.channels.sms.configured ? '' : html` disabled`
    }>${st.t('delivery.send')}</button></div>
  </form>
  <h3>${st.t('delivery.statusHeading')}</h3>
  ${deliveryTable(p.deliveries, p.timeZone)}
</section>`;
}

export function deliveryTable(deliveries: DeliveryView[], timeZone: string): SafeHtml {
  if (deliveries.length === 0) return html`<p class="muted small">${st.t('delivery.none')}</p>`;
  const badge = (d: DeliveryView) => {
    const [cls, key] =
      d.status === 'sent'
        ? (['ok', 'delivery.status.sent'] as const)
        : d.status === 'failed'
          ? (['bad', 'delivery.status.failed'] as const)
          : d.error
            ? (['warn', 'delivery.status.retrying'] as const)
            : (['none', 'delivery.status.queued'] as const);
    return html`<span class="badge ${cls}">${st.t(key)}</span>`;
  };
  return html`<table class="deliveries">
  <thead><tr><th scope="col">${st.t('delivery.column.channel')}</th><th scope="col">${st.t('delivery.column.to')}</th><th scope="col">${st.t('delivery.column.status')}</th><th scope="col">${st.t('delivery.column.at')}</th></tr></thead>
  <tbody>${deliveries.map(
    (d) => html`<tr data-delivery="${d.id}" data-status="${d.status}">
    <td>${st.t(d.channel === 'email' ? 'delivery.channel.email' : 'delivery.channel.sms')}${d.content === 'pin' ? html` <span class="muted small">(${st.t('delivery.content.pin')})</span>` : ''}</td>
    <td class="mono">${d.to}</td>
    <td>${badge(d)}${d.error ? html`<br><span class="small muted">${d.error}</span>` : ''}</td>
    <td>${formatTime(new Date(d.at), timeZone)}</td>
  </tr>`,
  )}</tbody>
</table>`;
}

/** The links the patient shared onward from this link (issue 21), active or not. */
export function childrenCard(children: ChildLink[], timeZone: string): SafeHtml {
  return html`<section class="card" aria-labelledby="children-heading" id="children">
  <h2 id="children-heading">${st.t('study.children.heading')}</h2>
  ${
    children.length === 0
      ? html`<p class="muted small">${st.t('study.children.none')}</p>`
      : html`<ul class="children">${children.map(
          (c) =>
            html`<li data-child="${c.id}" data-active="${c.active ? 'yes' : 'no'}">${st.t(
              'study.children.row',
              {
                made: formatTime(new Date(c.createdAt), timeZone),
                until: c.expiresAt ? formatTime(new Date(c.expiresAt), timeZone) : '–',
              },
            )} · ${st.t(c.allowDownload ? 'study.children.download' : 'study.children.viewOnly')}${
              c.active ? '' : html` <span class="badge none">${st.t('study.children.revoked')}</span>`
            }</li>`,
        )}</ul>`
  }
</section>`;
}

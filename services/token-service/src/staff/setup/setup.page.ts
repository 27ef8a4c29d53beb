import { LANGUAGES, languageName } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import type { DeliverySetup } from '../../deliveries/delivery.service.js';
import { baseUrl, type ServerConfig } from '../../server-config/server-config.schema.js';
import type { StaffSession } from '../session/staff-session.service.js';
import { st } from '../shared/staff.i18n.js';
import { csrfField, errorSummary, inputField, staffPage } from '../shared/staff.layout.js';
import type { FieldErrors } from '../shared/staff.schemas.js';

/** The values as the form shows them: strings, as typed. */
export interface SetupForm {
  institution: string;
  department: string;
  publicAddress: string;
  localAddress: string;
  port: string;
  serverName: string;
  ssl: boolean;
  zipContent: string;
  viewerUrl: string;
  defaultExpiryDays: string;
  defaultVerification: string;
  defaultLanguage: string;
  contactPhone: string;
  contactEmail: string;
  timeZone: string;
  reportsOnPage: boolean;
  allowOnwardDownloads: boolean;
}

export function setupFormOf(c: ServerConfig): SetupForm {
  return {
    institution: c.institution,
    department: c.department,
    publicAddress: c.publicAddress,
    localAddress: c.localAddress,
    port: String(c.port),
    serverName: c.serverName,
    ssl: c.ssl,
    zipContent: c.zipContent,
    viewerUrl: c.viewerUrl,
    defaultExpiryDays: c.defaultExpiryDays === null ? '' : String(c.defaultExpiryDays),
    defaultVerification: c.defaultVerification,
    defaultLanguage: c.defaultLanguage,
    contactPhone: c.contactPhone,
    contactEmail: c.contactEmail,
    timeZone: c.timeZone,
    reportsOnPage: c.reportsOnPage,
    allowOnwardDownloads: c.allowOnwardDownloads,
  };
}

export const SETUP_LABELS: Record<keyof SetupForm, string> = {
  institution: st.t('setup.label.institution'),
  department: st.t('setup.label.department'),
  publicAddress: st.t('setup.label.publicAddress'),
  localAddress: st.t('setup.label.localAddress'),
  port: st.t('setup.label.port'),
  serverName: st.t('setup.label.serverName'),
  ssl: st.t('setup.label.ssl'),
  zipContent: st.t('setup.label.zipContent'),
  viewerUrl: st.t('setup.label.viewerUrl'),
  defaultExpiryDays: st.t('setup.label.defaultExpiryDays'),
  defaultVerification: st.t('setup.label.defaultVerification'),
  defaultLanguage: st.t('setup.label.defaultLanguage'),
  contactPhone: st.t('setup.label.contactPhone'),
  contactEmail: st.t('setup.label.contactEmail'),
  timeZone: st.t('setup.label.timeZone'),
  reportsOnPage: st.t('setup.label.reportsOnPage'),
  allowOnwardDownloads: st.t('setup.label.allowOnwardDownloads'),
};

/** Why a link looks the way it does; the page script says the same as fields change. */
export function linkExplanation(c: Pick<ServerConfig, 'serverName' | 'ssl' | 'port'>): string {
  const scheme = c.ssl ? 'https' : 'http';
  const defaultPort = c.ssl ? 443 : 80;
  return [
    c.serverName ? st.t('setup.preview.byName') : st.t('setup.preview.byAddress'),
    c.ssl ? st.t('setup.preview.sslOn') : st.t('setup.preview.sslOff'),
    c.port === defaultPort ? st.t('setup.preview.portOmitted') : st.t('setup.preview.portShown', { scheme }),
  ].join(' ');
}

function radio(
  name: string,
  value: string,
  current: string,
  label: SafeHtml | string,
  hint: string,
  locked = false,
): SafeHtml {
  const id = `f-${name}-${value}`;
  return html`<label class="choice" for="${id}"><input type="radio" id="${id}" name="${name}" value="${value}"${
    value === current ? html` checked` : ''
  }${locked ? html` disabled` : ''}><span>${label}<span class="hint">${hint}</span></span></label>`;
}

/** A field the environment sets: which variable to change instead. */
const setByEnvironment = (variable: string) => st.t('setup.setByEnvironment', { variable });

/** Fields the environment sets: read-only, saying which variable to change instead. */
export type EnvLocks = Readonly<Partial<Record<keyof SetupForm | 'logoUrl', string>>>;

function locked(locks: EnvLocks | undefined, name: keyof SetupForm, hint: string) {
  const variable = locks?.[name];
  if (!variable) return { hint };
  return {
    hint: `${setByEnvironment(variable)} ${hint}`,
    attrs: html` readonly data-set-by-environment="${variable}"`,
  };
}

export function renderSetupPage(p: {
  session: StaffSession;
  saved: ServerConfig;
  form: SetupForm;
  errors?: FieldErrors;
  flash?: string | null;
  /** Fields set in the environment, with their variable. */
  locks?: EnvLocks;
  /** Why the last logo was refused. */
  logoError?: string | null;
  /** E-mail and SMS delivery as the environment sets them (read-only here). */
  delivery?: DeliverySetup | null;
  /** How staff sign in, as the environment sets it (read-only here). */
  signIn?: SignInSetup | null;
}): string {
  const f = p.form;
  const e = p.errors;
  const l = p.locks;
  const preview = `${baseUrl(p.saved)}/token?…`;
  return staffPage({
    title: st.t('setup.title'),
    session: p.session,
    active: 'setup',
    flash: p.flash,
    body: html`<h1>${st.t('setup.heading')}</h1>
<p class="lead">${st.t('setup.lead')}</p>
${p.saved.institution ? '' : html`<p class="notice" role="alert" id="institution-missing">${st.t('setup.institutionMissing')}</p>`}
${errorSummary(e, SETUP_LABELS)}
<form class="stack" method="post" action="/staff/setup" data-link-preview novalidate>
  ${csrfField(p.session.csrfToken)}
  <section class="card" aria-labelledby="preview-heading">
    <h2 id="preview-heading">${st.t('setup.preview.heading')}</h2>
    <p class="preview mono"><output id="link-preview" for="f-serverName f-publicAddress f-port f-ssl">${preview}</output></p>
    <p id="link-reason" class="muted">${linkExplanation(p.saved)}</p>
  </section>
  <section class="card" aria-labelledby="address-heading">
    <h2 id="address-heading">${st.t('setup.address.heading')}</h2>
    <div class="fields">
      ${inputField({
        name: 'serverName',
        label: SETUP_LABELS.serverName,
        value: f.serverName,
        errors: e,
        ...locked(l, 'serverName', st.t('setup.hint.serverName')),
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'publicAddress',
        label: SETUP_LABELS.publicAddress,
        value: f.publicAddress,
        errors: e,
        ...locked(l, 'publicAddress', st.t('setup.hint.publicAddress')),
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'port',
        label: SETUP_LABELS.port,
        value: f.port,
        type: 'number',
        errors: e,
        ...locked(l, 'port', st.t('setup.hint.port')),
        attrs: html` min="1" max="65535" inputmode="numeric"${l?.port ? html` readonly data-set-by-environment="${l.port}"` : ''}`,
      })}
      ${inputField({
        name: 'localAddress',
        label: SETUP_LABELS.localAddress,
        value: f.localAddress,
        errors: e,
        ...locked(l, 'localAddress', st.t('setup.hint.localAddress')),
        autocomplete: 'off',
      })}
    </div>
    <label class="choice" for="f-ssl"><input type="checkbox" id="f-ssl" name="ssl" value="1"${
      f.ssl ? html` checked` : ''
    }${l?.ssl ? html` disabled data-set-by-environment="${l.ssl}"` : ''}><span>${st.t('setup.ssl.label')}<span class="hint">${
      l?.ssl ? `${setByEnvironment(l.ssl)} ` : ''
    }${st.t('setup.ssl.hint')}</span></span></label>
  </section>
  <section class="card" aria-labelledby="page-heading">
    <h2 id="page-heading">${st.t('setup.patientPage.heading')}</h2>
    <div class="fields">
      ${inputField({ name: 'institution', label: SETUP_LABELS.institution, value: f.institution, errors: e, autocomplete: 'organization', required: true, ...locked(l, 'institution', st.t('setup.hint.institution')) })}
      ${inputField({ name: 'department', label: SETUP_LABELS.department, value: f.department, errors: e, autocomplete: 'off', ...(l?.department ? locked(l, 'department', '') : {}) })}
      ${inputField({ name: 'contactPhone', label: SETUP_LABELS.contactPhone, value: f.contactPhone, type: 'tel', errors: e, autocomplete: 'off', ...locked(l, 'contactPhone', st.t('setup.hint.contactPhone')) })}
      ${inputField({ name: 'contactEmail', label: SETUP_LABELS.contactEmail, value: f.contactEmail, type: 'email', errors: e, autocomplete: 'off', ...locked(l, 'contactEmail', st.t('setup.hint.contactEmail')) })}
      ${inputField({
        name: 'timeZone',
        label: SETUP_LABELS.timeZone,
        value: f.timeZone,
        errors: e,
        autocomplete: 'off',
        ...locked(l, 'timeZone', st.t('setup.hint.timeZone')),
        attrs: html` list="time-zones" spellcheck="false"${l?.timeZone ? html` readonly data-set-by-environment="${l.timeZone}"` : ''}`,
      })}
      <datalist id="time-zones">${TIME_ZONES.map((z) => html`<option value="${z}">`)}</datalist>
      ${inputField({
        name: 'viewerUrl',
        label: SETUP_LABELS.viewerUrl,
        value: f.viewerUrl,
        type: 'url',
        errors: e,
        ...locked(l, 'viewerUrl', st.t('setup.hint.viewerUrl')),
        wide: true,
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'defaultExpiryDays',
        label: st.t('setup.defaultExpiryDays.label'),
        value: f.defaultExpiryDays,
        type: 'number',
        errors: e,
        ...locked(l, 'defaultExpiryDays', st.t('setup.hint.defaultExpiryDays')),
        attrs: html` min="1" max="36500" inputmode="numeric"${
          l?.defaultExpiryDays ? html` readonly data-set-by-environment="${l.defaultExpiryDays}"` : ''
        }`,
      })}
    </div>
    <fieldset${e?.zipContent ? html` aria-invalid="true"` : ''}>
      <legend>${st.t('setup.label.zipContent')}</legend>
      ${l?.zipContent ? html`<p class="hint" data-set-by-environment="${l.zipContent}">${setByEnvironment(l.zipContent)}</p>` : ''}
      ${radio('zipContent', 'as-stored', f.zipContent, st.t('setup.zip.asStored'), st.t('setup.zip.asStoredHint'), Boolean(l?.zipContent))}
      ${radio(
        'zipContent',
        'jpeg-lossless',
        f.zipContent,
        st.t('setup.zip.jpegLossless'),
        st.t('setup.zip.jpegLosslessHint', { transferSyntax: '1.2.840.10008.1.2.4.70' }),
        Boolean(l?.zipContent),
      )}
      ${e?.zipContent ? html`<p class="error-text">${e.zipContent}</p>` : ''}
    </fieldset>
    <fieldset${e?.defaultVerification ? html` aria-invalid="true"` : ''}>
      <legend>${st.t('setup.verification.legend')}</legend>
      ${l?.defaultVerification ? html`<p class="hint" data-set-by-environment="${l.defaultVerification}">${setByEnvironment(l.defaultVerification)}</p>` : ''}
      ${radio('defaultVerification', 'none', f.defaultVerification, st.t('setup.verification.none'), st.t('setup.verification.noneHint'), Boolean(l?.defaultVerification))}
      ${radio('defaultVerification', 'birth-date', f.defaultVerification, st.t('setup.verification.birthDate'), st.t('setup.verification.birthDateHint'), Boolean(l?.defaultVerification))}
      ${radio('defaultVerification', 'pin', f.defaultVerification, st.t('setup.verification.pin'), st.t('setup.verification.pinHint'), Boolean(l?.defaultVerification))}
      ${e?.defaultVerification ? html`<p class="error-text">${e.defaultVerification}</p>` : ''}
    </fieldset>
    <div class="field">
      <label for="f-defaultLanguage">${st.t('setup.label.defaultLanguage')}</label>
      <select id="f-defaultLanguage" name="defaultLanguage" aria-describedby="f-defaultLanguage-hint"${
        l?.defaultLanguage ? html` disabled data-set-by-environment="${l.defaultLanguage}"` : ''
      }>${LANGUAGES.map(
        (lang) =>
          html`<option value="${lang}" lang="${lang}"${lang === f.defaultLanguage ? html` selected` : ''}>${languageName(lang)}</option>`,
      )}</select>
      ${e?.defaultLanguage ? html`<p class="error-text">${e.defaultLanguage}</p>` : ''}
      <p class="hint" id="f-defaultLanguage-hint">${
        l?.defaultLanguage ? `${setByEnvironment(l.defaultLanguage)} ` : ''
      }${st.t('setup.hint.defaultLanguage')}</p>
    </div>
    <input type="hidden" name="reportsOnPageShown" value="1">
    <label class="choice" for="f-reportsOnPage"><input type="checkbox" id="f-reportsOnPage" name="reportsOnPage" value="1"${
      f.reportsOnPage ? html` checked` : ''
    }${l?.reportsOnPage ? html` disabled data-set-by-environment="${l.reportsOnPage}"` : ''}><span>${st.t('setup.reportsOnPage.label')}<span class="hint">${
      l?.reportsOnPage ? `${setByEnvironment(l.reportsOnPage)} ` : ''
    }${st.t('setup.reportsOnPage.hint')}</span></span></label>
    <input type="hidden" name="allowOnwardDownloadsShown" value="1">
    <label class="choice" for="f-allowOnwardDownloads"><input type="checkbox" id="f-allowOnwardDownloads" name="allowOnwardDownloads" value="1"${
      f.allowOnwardDownloads ? html` checked` : ''
    }${l?.allowOnwardDownloads ? html` disabled data-set-by-environment="${l.allowOnwardDownloads}"` : ''}><span>${st.t('setup.allowOnwardDownloads.label')}<span class="hint">${
      l?.allowOnwardDownloads ? `${setByEnvironment(l.allowOnwardDownloads)} ` : ''
    }${st.t('setup.allowOnwardDownloads.hint')}</span></span></label>
  </section>
  <div class="actions"><button class="button" type="submit">${st.t('setup.save')}</button> <a class="button secondary" href="/staff/setup">${st.t('setup.discard')}</a></div>
</form>
${logoForm(p.session, p.saved, p.logoError ?? null, l?.logoUrl)}
${p.delivery ? deliverySetupCard(p.delivery) : ''}
${p.signIn ? signInSetupCard(p.signIn) : ''}`,
  });
}

/** Staff sign-in as configured: local passwords, single sign-on (the secret is never shown). */
export interface SignInSetup {
  local: boolean;
  oidc: {
    issuer: string;
    clientId: string;
    adminGroup: string | null;
    groupsClaim: string;
    scopes: string;
    /** The redirect URI in use (configured, or the public address's). */
    redirectUri: string;
  } | null;
}

/** Sign-in settings come from the environment only (STAFF_LOCAL_SIGN_IN, STAFF_OIDC_*). */
function signInSetupCard(s: SignInSetup): SafeHtml {
  // The variables are named in the hint (text of the catalogue), not beside each row.
  const row = (label: string, value: SafeHtml | string) => html`<dt>${label}</dt><dd>${value}</dd>`;
  const state = (on: boolean) =>
    on
      ? html`<span class="badge ok">${st.t('setup.signIn.on')}</span>`
      : html`<span class="badge none">${st.t('setup.signIn.off')}</span>`;
  const o = s.oidc;
  return html`<section class="card" aria-labelledby="sign-in-heading" id="sign-in-setup">
  <h2 id="sign-in-heading">${st.t('setup.signIn.heading')}</h2>
  <p class="hint">${st.t('setup.signIn.hint')}</p>
  <dl class="facts">
    ${row(st.t('setup.signIn.local'), state(s.local))}
    ${row(st.t('setup.signIn.singleSignOn'), o ? html`<span class="mono">${o.issuer}</span>` : state(false))}
    ${
      o
        ? html`${row(st.t('setup.signIn.clientId'), html`<span class="mono">${o.clientId}</span>`)}
    ${row(st.t('setup.signIn.adminGroup'), o.adminGroup ? html`<span class="mono">${o.adminGroup}</span>` : st.t('setup.signIn.noAdminGroup'))}
    ${row(st.t('setup.signIn.groupsClaim'), html`<span class="mono">${o.groupsClaim}</span>`)}
    ${row(st.t('setup.signIn.scopes'), html`<span class="mono">${o.scopes}</span>`)}
    ${row(st.t('setup.signIn.redirectUri'), html`<span class="mono">${o.redirectUri}</span>`)}`
        : ''
    }
  </dl>
</section>`;
}

/** Delivery settings come from the environment only (SMTP_URL, SMS_*): shown, never edited here. */
function deliverySetupCard(d: DeliverySetup): SafeHtml {
  const row = (label: string, variable: string, value: string | null) =>
    html`<dt>${label} <span class="muted small mono">${variable}</span></dt><dd>${value ?? html`<span class="muted">${st.t('setup.delivery.unset')}</span>`}</dd>`;
  const state = (missing: readonly string[]) =>
    missing.length === 0
      ? html`<span class="badge ok">${st.t('setup.delivery.on')}</span>`
      : html`<span class="badge none">${st.t('setup.delivery.off', { vars: missing.join(', ') })}</span>`;
  return html`<section class="card" aria-labelledby="delivery-heading" id="delivery-setup">
  <h2 id="delivery-heading">${st.t('setup.delivery.heading')}</h2>
  <p class="hint">${st.t('setup.delivery.hint')}</p>
  <h3>${st.t('delivery.channel.email')} ${state(d.mail.missing)}</h3>
  <dl class="facts">
    ${row(st.t('setup.delivery.smtp'), 'SMTP_URL', d.mail.server)}
    ${row(st.t('setup.delivery.mailFrom'), 'MAIL_FROM', d.mail.from)}
  </dl>
  <h3>${st.t('delivery.channel.sms')} ${state(d.sms.missing)}</h3>
  <dl class="facts">
    ${row(st.t('setup.delivery.smsApi'), 'SMS_API_URL', d.sms.apiUrl)}
    ${row(st.t('setup.delivery.smsAccount'), 'SMS_ACCOUNT_SID', d.sms.accountSid)}
    ${row(st.t('setup.delivery.smsFrom'), 'SMS_FROM', d.sms.from)}
  </dl>
</section>`;
}

/** The logo has its own form: a file, sent as multipart/form-data. */
function logoForm(
  session: StaffSession,
  saved: ServerConfig,
  error: string | null,
  envVariable?: string,
): SafeHtml {
  return html`<section class="card" aria-labelledby="logo-heading" id="logo">
  <h2 id="logo-heading">${st.t('setup.logo.heading')}</h2>
  ${saved.logoUrl ? html`<p><img class="setup-logo" src="${saved.logoUrl}" alt="${st.t('setup.logo.current')}" height="48"></p>` : html`<p class="muted">${st.t('setup.logo.none')}</p>`}
  ${
    envVariable
      ? html`<p class="hint" data-set-by-environment="${envVariable}">${setByEnvironment(envVariable)}</p>`
      : html`<form class="stack" method="post" action="/staff/setup/logo" enctype="multipart/form-data">
    ${csrfField(session.csrfToken)}
    <div class="field">
      <label for="f-logo">${st.t('setup.logo.file')}</label>
      <input id="f-logo" name="logo" type="file" accept="image/png,image/jpeg" aria-describedby="f-logo-hint${error ? ' f-logo-error' : ''}"${error ? html` aria-invalid="true"` : ''}>
      ${error ? html`<p class="error-text" id="f-logo-error">${error}</p>` : ''}
      <p class="hint" id="f-logo-hint">${st.t('setup.logo.hint')}</p>
    </div>
    <div class="actions"><button class="button" type="submit" name="action" value="upload">${st.t('setup.logo.upload')}</button>${
      saved.logoUrl
        ? html` <button class="button secondary" type="submit" name="action" value="remove">${st.t('setup.logo.remove')}</button>`
        : ''
    }</div>
  </form>`
  }
</section>`;
}

/** The zone names this runtime knows, offered while typing (any IANA name is accepted). */
const TIME_ZONES: readonly string[] = (() => {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [];
  }
})();

import { LANGUAGES, languageName } from '@studylink/i18n';
import { html, type SafeHtml } from '@studylink/service-kit';
import { baseUrl, type ServerConfig } from '../server-config/server-config.schema.js';
import { st } from './staff.i18n.js';
import { csrfField, errorSummary, inputField, staffPage } from './staff.layout.js';
import type { FieldErrors } from './staff.schemas.js';
import type { StaffSession } from './staff-session.service.js';

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
  };
}

export const SETUP_LABELS: Record<string, string> = {
  institution: 'Institution',
  department: 'Department',
  publicAddress: 'Public (true) IP address',
  localAddress: 'Local IP address',
  port: 'Web port',
  serverName: 'Web server name',
  ssl: 'SSL',
  zipContent: 'Zip content',
  viewerUrl: 'Viewer link',
  defaultExpiryDays: 'Default expiry',
  defaultVerification: 'Default patient check',
  defaultLanguage: 'Default language',
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

/** Fields the environment sets: read-only, saying which variable to change instead. */
export type EnvLocks = Readonly<Partial<Record<keyof SetupForm, string>>>;

function locked(locks: EnvLocks | undefined, name: keyof SetupForm, hint: string) {
  const variable = locks?.[name];
  if (!variable) return { hint };
  return {
    hint: `Set by the environment (${variable}); change it there and restart. ${hint}`,
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
}): string {
  const f = p.form;
  const e = p.errors;
  const l = p.locks;
  const preview = `${baseUrl(p.saved)}/token?…`;
  return staffPage({
    title: 'Server setup',
    session: p.session,
    active: 'setup',
    flash: p.flash,
    body: html`<h1>HTTP server setup</h1>
<p class="lead">What patients see on their page and how their links are built. Changes apply to links shown from now on; links already given out keep working only if the address still reaches this server.</p>
${errorSummary(e, SETUP_LABELS)}
<form class="stack" method="post" action="/staff/setup" data-link-preview novalidate>
  ${csrfField(p.session.csrfToken)}
  <section class="card" aria-labelledby="preview-heading">
    <h2 id="preview-heading">A link with these values</h2>
    <p class="preview mono"><output id="link-preview" for="f-serverName f-publicAddress f-port f-ssl">${preview}</output></p>
    <p id="link-reason" class="muted">${linkExplanation(p.saved)}</p>
  </section>
  <section class="card" aria-labelledby="address-heading">
    <h2 id="address-heading">Address of the links</h2>
    <div class="fields">
      ${inputField({
        name: 'serverName',
        label: 'Web server name',
        value: f.serverName,
        errors: e,
        ...locked(
          l,
          'serverName',
          'DNS name such as pacs.example.org. Leave blank to use the public IP address.',
        ),
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'publicAddress',
        label: 'Public (true) IP address',
        value: f.publicAddress,
        errors: e,
        ...locked(
          l,
          'publicAddress',
          'The address patients reach from the internet; used when the server name is blank.',
        ),
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'port',
        label: 'Web port',
        value: f.port,
        type: 'number',
        errors: e,
        ...locked(l, 'port', '80 for http, 443 for https, or the port your firewall forwards.'),
        attrs: html` min="1" max="65535" inputmode="numeric"${l?.port ? html` readonly data-set-by-environment="${l.port}"` : ''}`,
      })}
      ${inputField({
        name: 'localAddress',
        label: 'Local IP address',
        value: f.localAddress,
        errors: e,
        ...locked(
          l,
          'localAddress',
          'This server on the hospital network, for reference; not used in links.',
        ),
        autocomplete: 'off',
      })}
    </div>
    <label class="choice" for="f-ssl"><input type="checkbox" id="f-ssl" name="ssl" value="1"${
      f.ssl ? html` checked` : ''
    }${l?.ssl ? html` disabled data-set-by-environment="${l.ssl}"` : ''}><span>Use SSL (https) in links<span class="hint">${
      l?.ssl ? `Set by the environment (${l.ssl}); change it there and restart. ` : ''
    }Only when nginx or a proxy in front serves https on this port.</span></span></label>
  </section>
  <section class="card" aria-labelledby="page-heading">
    <h2 id="page-heading">What the patient sees</h2>
    <div class="fields">
      ${inputField({ name: 'institution', label: 'Institution', value: f.institution, errors: e, autocomplete: 'organization', ...(l?.institution ? locked(l, 'institution', '') : {}) })}
      ${inputField({ name: 'department', label: 'Department', value: f.department, errors: e, autocomplete: 'off', ...(l?.department ? locked(l, 'department', '') : {}) })}
      ${inputField({
        name: 'viewerUrl',
        label: 'Viewer link',
        value: f.viewerUrl,
        type: 'url',
        errors: e,
        ...locked(l, 'viewerUrl', 'A free DICOM viewer the page recommends (http or https).'),
        wide: true,
        autocomplete: 'off',
      })}
      ${inputField({
        name: 'defaultExpiryDays',
        label: 'Default expiry (days)',
        value: f.defaultExpiryDays,
        type: 'number',
        errors: e,
        ...locked(
          l,
          'defaultExpiryDays',
          'New links stop working after this many days. Leave blank for links that do not expire.',
        ),
        attrs: html` min="1" max="36500" inputmode="numeric"${
          l?.defaultExpiryDays ? html` readonly data-set-by-environment="${l.defaultExpiryDays}"` : ''
        }`,
      })}
    </div>
    <fieldset${e?.zipContent ? html` aria-invalid="true"` : ''}>
      <legend>Zip content</legend>
      ${l?.zipContent ? html`<p class="hint" data-set-by-environment="${l.zipContent}">Set by the environment (${l.zipContent}); change it there and restart.</p>` : ''}
      ${radio('zipContent', 'as-stored', f.zipContent, 'DICOM files as stored', 'Byte for byte what the archive holds.', Boolean(l?.zipContent))}
      ${radio(
        'zipContent',
        'jpeg-lossless',
        f.zipContent,
        'DICOM files, JPEG lossless compressed',
        'Smaller downloads; the archive transcodes (transfer syntax 1.2.840.10008.1.2.4.70), which takes longer.',
        Boolean(l?.zipContent),
      )}
      ${e?.zipContent ? html`<p class="error-text">${e.zipContent}</p>` : ''}
    </fieldset>
    <fieldset${e?.defaultVerification ? html` aria-invalid="true"` : ''}>
      <legend>Default patient check of new links</legend>
      ${l?.defaultVerification ? html`<p class="hint" data-set-by-environment="${l.defaultVerification}">Set by the environment (${l.defaultVerification}); change it there and restart.</p>` : ''}
      ${radio('defaultVerification', 'none', f.defaultVerification, 'None', 'The link alone opens the page.', Boolean(l?.defaultVerification))}
      ${radio('defaultVerification', 'birth-date', f.defaultVerification, 'Date of birth', 'The patient types the date of birth the archive holds.', Boolean(l?.defaultVerification))}
      ${radio('defaultVerification', 'pin', f.defaultVerification, 'PIN', 'A 6-digit PIN, given to the patient apart from the link.', Boolean(l?.defaultVerification))}
      ${e?.defaultVerification ? html`<p class="error-text">${e.defaultVerification}</p>` : ''}
    </fieldset>
    <div class="field">
      <label for="f-defaultLanguage">Default language</label>
      <select id="f-defaultLanguage" name="defaultLanguage" aria-describedby="f-defaultLanguage-hint"${
        l?.defaultLanguage ? html` disabled data-set-by-environment="${l.defaultLanguage}"` : ''
      }>${LANGUAGES.map(
        (lang) =>
          html`<option value="${lang}"${lang === f.defaultLanguage ? html` selected` : ''}>${languageName(lang)}</option>`,
      )}</select>
      ${e?.defaultLanguage ? html`<p class="error-text">${e.defaultLanguage}</p>` : ''}
      <p class="hint" id="f-defaultLanguage-hint">${
        l?.defaultLanguage
          ? `Set by the environment (${l.defaultLanguage}); change it there and restart. `
          : ''
      }Patient pages, the zip's README and handouts use it when the browser asks for none of the languages offered.</p>
    </div>
  </section>
  <div class="actions"><button class="button" type="submit">Save setup</button> <a class="button secondary" href="/staff/setup">Discard changes</a></div>
</form>`,
  });
}

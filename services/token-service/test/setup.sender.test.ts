import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { readLogoFileOrThrow } from '../src/server-config/logo.js';
import { type StaffClient, type StaffHarness, startStaffHarness } from './staff.harness.js';

// Issue 20, "who sent it": contact, logo, institution on every page a patient can reach.
const UID = '1.2.826.0.1.3680043.8.498.20.1';
const FORM_UID = '1.2.826.0.1.3680043.8.498.20.2';

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A real PNG of w×h grey pixels (signature, IHDR, IDAT, IEND), `pad` bytes of tEXt to grow it. */
function png(w: number, h: number, pad = 0): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((w + 1) * h, 0x80);
  for (let y = 0; y < h; y++) raw[y * (w + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(pad > 0 ? [chunk('tEXt', Buffer.concat([Buffer.from('Comment\0'), Buffer.alloc(pad, 0x61)]))] : []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// The address part of the setup form, as the page sends it.
const ADDRESS = {
  department: '',
  publicAddress: '203.0.113.10',
  localAddress: '',
  port: '3000',
  serverName: '',
  zipContent: 'as-stored',
  viewerUrl: '',
  defaultExpiryDays: '',
};

let h: StaffHarness;
let admin: StaffClient;
const api = (method: string, path: string, body?: unknown, type = 'application/json') =>
  fetch(`${h.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${h.adminKey}`,
      ...(body !== undefined ? { 'content-type': type } : {}),
    },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  h = await startStaffHarness();
  h.source.add({ studyInstanceUid: UID, institutionName: 'JFK IMAGING CENTER' });
  h.source.add({ studyInstanceUid: FORM_UID });
  ({ admin } = await h.signedInPair());
});
afterAll(async () => {
  await h?.close();
});

describe('the setup carries the contact, the time zone, reportsOnPage and a logo', () => {
  it('GET has them; PUT validates the phone, the e-mail and the zone name, each refusal naming its field', async () => {
    const got = (await (await api('GET', '/api/v1/server-config')).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ contactPhone: '', contactEmail: '', reportsOnPage: true, logoUrl: null });
    expect(got.timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    for (const [field, value] of [
      ['contactPhone', 'call us'],
      ['contactPhone', '12'],
      ['contactEmail', 'radiology at example.org'],
      ['contactEmail', 'a@b'],
      ['timeZone', 'Mars/Olympus_Mons'],
      ['timeZone', '+01:00'],
    ] as const) {
      const res = await api('PUT', '/api/v1/server-config', { [field]: value });
      expect(res.status, `${field}=${value}`).toBe(400);
      const body = (await res.json()) as { error: { details: Array<{ path: string[] }> } };
      expect(body.error.details[0]?.path).toEqual([field]);
    }
    const ok = await api('PUT', '/api/v1/server-config', {
      contactPhone: '+33 1 23 45 67 89',
      contactEmail: 'radiologie@example.org',
      timeZone: 'Asia/Tokyo',
      reportsOnPage: false,
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ timeZone: 'Asia/Tokyo', reportsOnPage: false });
    // A client PUTting back what it GOT is accepted, logoUrl included; changing logoUrl is not.
    const back = await api('PUT', '/api/v1/server-config', {
      ...((await (await api('GET', '/api/v1/server-config')).json()) as object),
    });
    expect(back.status).toBe(200);
    expect(
      (await api('PUT', '/api/v1/server-config', { logoUrl: 'https://evil.example/x.png' })).status,
    ).toBe(400);
    await api('PUT', '/api/v1/server-config', { reportsOnPage: true });
  });

  it('a PNG logo is taken and served from our origin; SVG, a renamed text file, an empty and an oversized file are refused', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    expect((await api('PUT', '/api/v1/server-config/logo', svg, 'image/svg+xml')).status).toBe(415);
    expect((await api('PUT', '/api/v1/server-config/logo', svg, 'image/png')).status).toBe(415);
    expect((await api('PUT', '/api/v1/server-config/logo', Buffer.alloc(0), 'image/png')).status).toBe(400);
    const big = png(4, 4, 210 * 1024);
    expect((await api('PUT', '/api/v1/server-config/logo', big, 'image/png')).status).toBe(413);
    const logo = png(64, 32);
    const res = await api('PUT', '/api/v1/server-config/logo', logo, 'image/png');
    expect(res.status).toBe(200);
    const { logoUrl } = (await res.json()) as { logoUrl: string };
    expect(logoUrl).toMatch(/^\/assets\/logo\/[0-9a-f]{32}\.png$/);
    const served = await fetch(`${h.url}${logoUrl}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await served.arrayBuffer()).equals(logo)).toBe(true);
    // The same name with the other extension, or another digest: not found.
    expect((await fetch(`${h.url}${logoUrl.replace('.png', '.jpg')}`)).status).toBe(404);
    expect((await fetch(`${h.url}/assets/logo/${'0'.repeat(32)}.png`)).status).toBe(404);
  });
});

describe('every page a patient can reach names who sent the link', () => {
  beforeAll(async () => {
    const r = await api('PUT', '/api/v1/server-config', {
      institution: 'Hôpital Saint-Exemple',
      department: 'Imagerie',
      contactPhone: '+33 1 23 45 67 89',
      contactEmail: 'radiologie@example.org',
    });
    expect(r.status).toBe(200);
  });

  const expectSender = (text: string) => {
    expect(text).toContain('Hôpital Saint-Exemple · Imagerie');
    expect(text).toMatch(/<img class="logo" src="\/assets\/logo\/[0-9a-f]{32}\.png"/);
    expect(text).toContain('href="tel:+33123456789"');
    expect(text).toContain('href="mailto:radiologie@example.org"');
  };

  it('the study page, the second-factor form, the error page and the viewer', async () => {
    const issued = (await (await api('PUT', `/api/v1/studies/${UID}/token`)).json()) as { token: string };
    const page = await (await fetch(`${h.url}/token?${issued.token}`)).text();
    expectSender(page);
    // The setup's institution, not the study's own InstitutionName.
    expect(page).not.toContain('JFK IMAGING CENTER');

    const pin = (await (
      await api('PUT', `/api/v1/studies/${FORM_UID}/token`, { verification: 'pin' })
    ).json()) as { token: string };
    const form = await (await fetch(`${h.url}/token?${pin.token}`)).text();
    expect(form).toContain('name="pin"');
    expectSender(form);

    const missing = await fetch(`${h.url}/token?${'Z'.repeat(64)}`);
    expect(missing.status).toBe(404);
    expectSender(await missing.text());
    const french = await fetch(`${h.url}/token?${'Y'.repeat(64)}`, { headers: { 'accept-language': 'fr' } });
    expect(await french.text()).toContain('Des questions sur ce lien ? Contactez Hôpital Saint-Exemple.');

    const handout = await admin.get(`/staff/studies/${UID}/handout?lang=en`);
    expect(handout.status).toBe(200);
    expectSender(handout.text);
  });

  it('the handout shows the expiry date', async () => {
    await api('DELETE', `/api/v1/studies/${UID}/token`);
    await api('PUT', `/api/v1/studies/${UID}/token`, { expiresAt: '2031-03-04T12:00:00Z' });
    const handout = await admin.get(`/staff/studies/${UID}/handout?lang=en`);
    expect(handout.text).toMatch(/4 March 2031/);
  });
});

describe('the staff setup', () => {
  it('asks for the institution with a banner until it is set, and will not save it blank', async () => {
    await api('PUT', '/api/v1/server-config', { institution: '' });
    const page = await admin.get('/staff/setup');
    expect(page.text).toContain('id="institution-missing"');
    const studies = await admin.get('/staff/studies');
    expect(studies.status).toBe(200);
    const blank = await admin.post('/staff/setup', { ...ADDRESS, institution: ' ' });
    expect(blank.status).toBe(400);
    expect(blank.text).toMatch(/enter the institution(&#39;|')s name/);
    const badPhone = await admin.post('/staff/setup', {
      ...ADDRESS,
      institution: 'St. Example',
      contactPhone: 'not a phone',
      contactEmail: 'nobody',
    });
    expect(badPhone.status).toBe(400);
    expect(badPhone.text).toContain('enter a telephone number');
    expect(badPhone.text).toContain('enter an e-mail address');
    const saved = await admin.post('/staff/setup', {
      ...ADDRESS,
      institution: 'St. Example',
      contactPhone: '(212) 555-0100',
      contactEmail: 'imaging@example.org',
      timeZone: 'America/New_York',
      reportsOnPageShown: '1',
    });
    expect(saved.status).toBe(303);
    expect(await (await api('GET', '/api/v1/server-config')).json()).toMatchObject({
      institution: 'St. Example',
      contactPhone: '(212) 555-0100',
      contactEmail: 'imaging@example.org',
      timeZone: 'America/New_York',
      // The box was on the form and left unticked.
      reportsOnPage: false,
    });
    expect((await admin.get('/staff/setup')).text).not.toContain('id="institution-missing"');
  });

  it('takes a logo from its multipart form and refuses an SVG with the reason', async () => {
    await admin.get('/staff/setup');
    const send = async (bytes: Buffer, name: string, type: string) => {
      const form = new FormData();
      form.set('_csrf', admin.csrf ?? '');
      form.set('action', 'upload');
      form.set('logo', new Blob([bytes], { type }), name);
      return fetch(`${h.url}/staff/setup/logo`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        body: form,
      });
    };
    const svg = await send(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'logo.png', 'image/png');
    expect(svg.status).toBe(400);
    expect(await svg.text()).toContain('the logo must be a PNG or JPEG image');
    const logo = png(10, 10);
    const ok = await send(logo, 'logo.png', 'image/png');
    expect(ok.status).toBe(303);
    const { logoUrl } = (await (await api('GET', '/api/v1/server-config')).json()) as { logoUrl: string };
    expect(Buffer.from(await (await fetch(`${h.url}${logoUrl}`)).arrayBuffer()).equals(logo)).toBe(true);
  });
});

describe('the environment sets them as it sets the others', () => {
  it('CONTACT_PHONE, CONTACT_EMAIL, TIME_ZONE, REPORTS_ON_PAGE win; a bad TIME_ZONE or LOGO_FILE stops the start', async () => {
    const env = {
      DATABASE_URL: 'postgres://app@127.0.0.1/x',
      DICOMWEB_URL: 'http://127.0.0.1:8042/dicom-web',
      TOKEN_ENCRYPTION_KEY: 'a'.repeat(64),
      INTERNAL_SECRET: 'b'.repeat(32),
    };
    const c = loadConfig({
      ...env,
      CONTACT_PHONE: '+1 212 555 0100',
      CONTACT_EMAIL: 'x@example.org',
      TIME_ZONE: 'America/New_York',
      REPORTS_ON_PAGE: 'false',
    });
    expect(c.setupFromEnv).toEqual({
      contactPhone: '+1 212 555 0100',
      contactEmail: 'x@example.org',
      timeZone: 'America/New_York',
      reportsOnPage: false,
    });
    expect(() => loadConfig({ ...env, TIME_ZONE: 'Nowhere/Land' })).toThrow(/TIME_ZONE/);
    expect(() => readLogoFileOrThrow('/nonexistent/logo.png')).toThrow(/LOGO_FILE/);
    expect(() => readLogoFileOrThrow('/etc/hostname')).toThrow(/PNG or JPEG/);
  });
});

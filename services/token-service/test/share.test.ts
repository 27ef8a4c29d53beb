import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../e2e/support/browser.js';
import { FakeStudySource, type Harness, type Json, readJson, startHarness } from './harness.js';

// Issue 21, share onward: the patient makes child links for a doctor from the page (after the
// second factor). A child shows the study, has no second factor, is view-only unless the setup
// allows downloads, cannot share further, expires no later than its parent, and ends the moment
// its parent does; at most 5 active children per link.
const STUDY = '1.2.826.0.1.3680043.8.498.21.31';
const OTHER = '1.2.826.0.1.3680043.8.498.21.32';
const COPIED = '1.2.826.0.1.3680043.8.498.21.33';
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded' };

let h: Harness;
const secrets: string[] = [];

beforeAll(async () => {
  const source = new FakeStudySource();
  source.add({ studyInstanceUid: STUDY, patientName: 'SHARE^PATIENT' });
  source.add({ studyInstanceUid: OTHER, patientName: 'OTHER^PATIENT' });
  source.add({ studyInstanceUid: COPIED, patientName: 'COPY^PATIENT' });
  h = await startHarness(source, { invalidTokenLimit: { limit: 100, windowSeconds: 600 } });
});

afterAll(async () => {
  const logs = h.logs.join('\n');
  for (const s of secrets) expect(logs).not.toContain(s);
  await h.close();
});

async function issue(uid: string, body: Json): Promise<Json> {
  const json = await readJson(await h.api('PUT', `/api/v1/studies/${uid}/token`, body));
  secrets.push(json.token, ...(json.pin ? [json.pin] : []));
  return json;
}

/** The patient answers the PIN; the cookie their browser then holds. */
async function verify(token: string, pin: string): Promise<string> {
  const res = await fetch(`${h.url}/token?${token}`, {
    method: 'POST',
    redirect: 'manual',
    headers: SAME_ORIGIN,
    body: new URLSearchParams({ pin }).toString(),
  });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

function share(token: string, cookie: string, fields: Record<string, string> = {}, headers = SAME_ORIGIN) {
  return fetch(`${h.url}/token/share?${token}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Makes a child and returns its token, read from the page that shows it once. */
async function makeChild(token: string, cookie: string, days = '3'): Promise<string> {
  const res = await share(token, cookie, { expiresInDays: days });
  expect(res.status).toBe(200);
  const html = await res.text();
  const child = /value="http:\/\/[^"]+\/token\?([A-Za-z0-9]{64})"/.exec(html)?.[1];
  expect(child).toBeDefined();
  secrets.push(child as string);
  expect(html).toContain(`href="mailto:?subject=`);
  expect(html).toContain('<svg class="qr"');
  return child as string;
}

const page = (token: string, cookie?: string) =>
  fetch(`${h.url}/token?${token}`, { headers: cookie ? { cookie } : {} });
const grant = (token: string, purpose: 'download' | 'view') =>
  fetch(`${h.internalUrl}/internal/v1/grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': h.internalSecret },
    body: JSON.stringify({ token, purpose, reserve: false }),
  });

describe('share with a doctor', () => {
  let parent: Json;
  let cookie: string;
  let child: string;

  it('the page offers sharing only after the second factor; the form is refused without it or from another site', async () => {
    parent = await issue(STUDY, { verification: 'pin', expiresInDays: 10 });
    const form = await (await page(parent.token)).text();
    expect(form).not.toContain('/token/share?');
    expect((await share(parent.token, '', { expiresInDays: '3' })).status).toBe(403);
    cookie = await verify(parent.token, parent.pin);
    const html = await (await page(parent.token, cookie)).text();
    expect(html).toContain('Share with a doctor');
    expect(html).toContain(`action="/token/share?${parent.token}"`);
    const crossSite = await share(
      parent.token,
      cookie,
      { expiresInDays: '3' },
      {
        ...SAME_ORIGIN,
        'sec-fetch-site': 'cross-site',
      },
    );
    expect(crossSite.status).toBe(403);
    for (const bad of ['0', '31', 'x', '-1', '1.5'])
      expect((await share(parent.token, cookie, { expiresInDays: bad })).status, bad).toBe(400);
  });

  it('a child shows the study without a second factor, says it was shared, and cannot share', async () => {
    child = await makeChild(parent.token, cookie, '3');
    const res = await page(child);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html.toUpperCase()).toContain('SHARE');
    expect(html).toContain('CT CHEST');
    expect(html).toContain('This link was shared with you by the patient');
    expect(html).not.toContain('name="pin"');
    expect(html).not.toContain('/token/share?');
    const refused = await share(child, '', { expiresInDays: '3' });
    expect(refused.status).toBe(403);
    expect((await readJson(await grant(child, 'view'))).may?.share ?? false).toBe(false);
  });

  it('a view-only child: the viewer yes, the zip no', async () => {
    expect((await grant(child, 'view')).status).toBe(200);
    const zip = await grant(child, 'download');
    expect(zip.status).toBe(410);
    expect((await readJson(zip)).error.code).toBe('download_not_allowed');
  });

  it('expires no later than its parent', async () => {
    const long = await makeChild(parent.token, cookie, '30');
    const row = await h.database.db
      .selectFrom('tokens')
      .select(['expires_at', 'parent_id'])
      .where('study_instance_uid', '=', STUDY)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(row.expires_at?.toISOString()).toBe(parent.expiresAt);
    expect(long).not.toBe(child);
  });

  it('at most 5 active children: the sixth is refused; revoking one frees a place', async () => {
    for (let i = 0; i < 3; i++) await makeChild(parent.token, cookie);
    const html = await (await page(parent.token, cookie)).text();
    expect(html).toContain('You already have 5 active shared links');
    const sixth = await share(parent.token, cookie, { expiresInDays: '3' });
    expect(sixth.status).toBe(409);
    const shown = await readJson(await h.api('GET', `/api/v1/studies/${STUDY}/token`));
    expect(shown.children).toHaveLength(5);
    expect(shown.children.every((c: Json) => c.active && c.allowDownload === false)).toBe(true);

    const firstId = shown.children.at(-1).id;
    const revoke = await fetch(`${h.url}/token/share/revoke?${parent.token}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...SAME_ORIGIN, cookie },
      body: new URLSearchParams({ child: String(firstId) }).toString(),
    });
    expect(revoke.status).toBe(303);
    expect((await page(child)).status).toBe(404);
    await makeChild(parent.token, cookie);
    // The link's own history shows the sharing (not the refused attempts).
    const history = await (await page(parent.token, cookie)).text();
    expect(history.match(/Link shared with a doctor/g)).toHaveLength(6);
    const log = await readJson(await h.api('GET', `/api/v1/access-log?study=${STUDY}&event=link_shared`));
    expect(log.items.map((e: Json) => e.outcome).sort()).toEqual([
      'child_cannot_share',
      'cross_origin',
      'limit',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
      'ok',
    ]);
  });

  it('revoking the parent ends every child at once (404), for the page and the grants', async () => {
    const children = (await readJson(await h.api('GET', `/api/v1/studies/${STUDY}/token`))).children;
    const live = await makeChildOf(OTHER);
    expect((await page(live.child)).status).toBe(200);
    expect((await h.api('DELETE', `/api/v1/studies/${OTHER}/token`)).status).toBe(204);
    expect((await page(live.child)).status).toBe(404);
    expect((await grant(live.child, 'view')).status).toBe(404);
    expect(children.filter((c: Json) => c.active)).toHaveLength(5);
  });

  it("the parent's expiry ends its children too; downloads follow the setup", async () => {
    expect((await h.api('PUT', '/api/v1/server-config', { allowOnwardDownloads: true })).status).toBe(200);
    const made = await makeChildOf(OTHER);
    expect((await grant(made.child, 'download')).status).toBe(200);
    await h.database.db
      .updateTable('tokens')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('study_instance_uid', '=', OTHER)
      .where('parent_id', 'is', null)
      .where('revoked_at', 'is', null)
      .execute();
    expect((await page(made.child)).status).toBe(404);
    expect((await grant(made.child, 'download')).status).toBe(404);
  });
});

/** A fresh link for `uid` (a link without a second factor) and one child of it. */
async function makeChildOf(uid: string): Promise<{ parent: Json; child: string }> {
  const parent = await issue(uid, { verification: 'none' });
  return { parent, child: await makeChild(parent.token, '') };
}

describe('the shared link in a browser', () => {
  it('the copy button puts the new link on the clipboard and says so; without the script it stays hidden', async () => {
    const parent = await issue(COPIED, { verification: 'none' });
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({
        locale: 'fr',
        extraHTTPHeaders: { 'accept-language': 'fr' },
      });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.url });
      const tab = await context.newPage();
      await tab.goto(`${h.url}/token?${parent.token}`);
      await tab.locator('form.share-form button[type="submit"]').click();
      await tab.waitForURL('**/token/share?*');
      const link = await tab.locator('#shared-link').inputValue();
      expect(link).toMatch(/\/token\?[A-Za-z0-9]{64}$/);
      secrets.push(link.slice(-64));
      const copy = tab.getByRole('button', { name: 'Copier le lien' });
      await copy.click();
      await expect.poll(() => tab.locator('#copy-status').textContent()).toBe('Lien copié');
      expect(await tab.evaluate('navigator.clipboard.readText()')).toBe(link);
      await context.close();

      const noScript = await browser.newContext({ javaScriptEnabled: false });
      const bare = await noScript.newPage();
      await bare.goto(`${h.url}/token?${parent.token}`);
      await bare.locator('form.share-form button[type="submit"]').click();
      await bare.waitForURL('**/token/share?*');
      secrets.push((await bare.locator('#shared-link').inputValue()).slice(-64));
      expect(await bare.locator('button[data-copy]').isHidden()).toBe(true);
      await noScript.close();
    } finally {
      await browser.close();
    }
  });
});

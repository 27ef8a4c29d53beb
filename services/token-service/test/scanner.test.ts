import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../e2e/support/browser.js';
import { appendAccessEvent } from '../src/access-log/access-log.repository.js';
import { listActiveLinks } from '../src/tokens/active-links.repository.js';
import { FakeStudySource, type Harness, type Json, readJson, startHarness } from './harness.js';

// Issue 21: a mail system's link scanner fetches links before the patient does. Its bare GET of the
// page is `fetched`, not opened; the page's own script (in a real browser) records the opening;
// no GET counts as a second-factor attempt, and a scanner's GET of a limited link's zip is sent to
// the page without spending a download.
const PLAIN = '1.2.826.0.1.3680043.8.498.21.21';
const PIN = '1.2.826.0.1.3680043.8.498.21.22';
const LIMITED = '1.2.826.0.1.3680043.8.498.21.23';
const UNLIMITED = '1.2.826.0.1.3680043.8.498.21.24';
const OPENER = '1.2.826.0.1.3680043.8.498.21.25';

let h: Harness;
let browser: Browser;

beforeAll(async () => {
  const source = new FakeStudySource();
  for (const uid of [PLAIN, PIN, LIMITED, UNLIMITED, OPENER]) source.add({ studyInstanceUid: uid });
  h = await startHarness(source, { invalidTokenLimit: { limit: 50, windowSeconds: 600 } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const issue = async (uid: string, body: Json = {}) =>
  readJson(await h.api('PUT', `/api/v1/studies/${uid}/token`, body));
/** The id of the study's link (the access log's token_id). */
const tokenIdOf = async (uid: string) =>
  (
    await h.database.db
      .selectFrom('tokens')
      .select('id')
      .where('study_instance_uid', '=', uid)
      .executeTakeFirstOrThrow()
  ).id;
const events = async (uid: string) =>
  ((await readJson(await h.api('GET', `/api/v1/access-log?study=${uid}&limit=500`))).items as Json[])
    .filter((e) => !['token_issued', 'token_displayed', 'pin_displayed'].includes(e.event))
    .map((e) => `${e.event}:${e.outcome}`)
    .reverse();

/** A scanner: no cookies, no script, no Fetch Metadata, a crawler's user agent. */
const scanner = (url: string, method = 'GET') =>
  fetch(url, { method, headers: { 'user-agent': 'LinkScanner/2.0' }, redirect: 'manual' });

function grant(token: string, body: Json) {
  return fetch(`${h.internalUrl}/internal/v1/grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-secret': h.internalSecret },
    body: JSON.stringify({ token, purpose: 'download', reserve: true, ...body }),
  });
}

describe('a link scanner', () => {
  it("a bare GET and a HEAD of the page are `fetched`, never opened; the browser's own script opens it", async () => {
    const link = await issue(PLAIN);
    const page = await scanner(link.url.replace(/^http:\/\/[^/]+/, h.url));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/assets/patient-opened.js" defer></script>');
    expect(html).not.toMatch(/<script>|<script [^s]/);
    await scanner(`${h.url}/token?${link.token}`, 'HEAD');
    expect(await events(PLAIN)).toEqual(['page_view:fetched', 'page_view:head']);

    // The opening reported from another site is refused and counts for nothing.
    const forged = await fetch(`${h.url}/token/opened?${link.token}`, {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);

    const context = await browser.newContext();
    const tab = await context.newPage();
    const opened = tab.waitForResponse((r) => r.url().includes('/token/opened?'));
    await tab.goto(`${h.url}/token?${link.token}`);
    expect((await opened).status()).toBe(204);
    expect((await context.cookies()).find((c) => c.name === 'studylink_browser')).toMatchObject({
      value: '1',
      httpOnly: true,
      path: '/token',
    });
    await context.close();
    expect(await events(PLAIN)).toEqual([
      'page_view:fetched',
      'page_view:head',
      'link_opened:cross_origin',
      'page_view:fetched',
      'link_opened:ok',
    ]);
  });

  it('GETs of a second-factor link count no attempt and lock nothing', async () => {
    const link = await issue(PIN, { verification: 'pin' });
    for (let i = 0; i < 10; i++) expect((await scanner(`${h.url}/token?${link.token}`)).status).toBe(200);
    const row = await h.database.db
      .selectFrom('tokens')
      .select(['failed_streak', 'failed_total', 'locked_until', 'locked_at'])
      .where('study_instance_uid', '=', PIN)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_streak: 0, failed_total: 0, locked_until: null, locked_at: null });
    expect((await events(PIN)).every((e) => e === 'page_view:form')).toBe(true);
  });

  it("a scanner's GET of a limited link's zip is sent to the page and spends no download; a browser's reserves one", async () => {
    const link = await issue(LIMITED, { maxDownloads: 1 });
    const refused = await grant(link.token, { browser: false });
    expect(refused.status).toBe(403);
    expect((await readJson(refused)).error.code).toBe('browser_required');
    const leases = () =>
      h.database.db
        .selectFrom('download_leases')
        .select('id')
        .execute()
        .then((r) => r.length);
    expect(await leases()).toBe(0);
    // A HEAD (no reservation) and an older export service that cannot tell are not held to it.
    expect((await grant(link.token, { browser: false, reserve: false })).status).toBe(200);
    const granted = await grant(link.token, { browser: true });
    expect(granted.status).toBe(200);
    expect((await readJson(granted)).downloadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await leases()).toBe(1);
    expect(await events(LIMITED)).toEqual(['download_refused:not_a_browser']);
    const shown = await readJson(await h.api('GET', `/api/v1/studies/${LIMITED}/token`));
    expect(shown.downloadsUsed).toBe(0);
  });

  it("a scanner's download of a link with no limit is served but is not the link opened; a browser's is", async () => {
    const link = await issue(UNLIMITED);
    const tokenId = await tokenIdOf(UNLIMITED);
    // Served: no reservation to spend, so the scanner is not refused.
    expect((await grant(link.token, { browser: false })).status).toBe(200);
    const unopened = async () =>
      (await listActiveLinks(h.database.db, new Date(), { unopened: true, limit: 100 })).some(
        (l) => l.id === tokenId,
      );
    const started = (browser: boolean | undefined, outcome = 'ok') =>
      appendAccessEvent(h.database.db, {
        event: 'download_started',
        outcome,
        tokenId,
        studyInstanceUid: UNLIMITED,
        detail: { downloadId: crypto.randomUUID(), ...(browser === undefined ? {} : { browser }) },
      });
    // The export service reports the scanner's download with detail.browser false; a HEAD of the
    // viewer and a viewer open sent to the form first are no opening either.
    await started(false);
    for (const outcome of ['head', 'verification_required'])
      await appendAccessEvent(h.database.db, { event: 'viewer_opened', outcome, tokenId });
    await appendAccessEvent(h.database.db, { event: 'link_opened', outcome: 'cross_origin', tokenId });
    expect(await unopened()).toBe(true);
    // An older export service's event (no detail.browser) counts, as it did.
    await started(undefined);
    expect(await unopened()).toBe(false);
  });

  it("a browser's download of a link with no limit opens it", async () => {
    const uid = OPENER;
    await issue(uid);
    const tokenId = await tokenIdOf(uid);
    const opened = async () =>
      (await listActiveLinks(h.database.db, new Date(), { limit: 100 })).find((l) => l.id === tokenId)
        ?.opened_at;
    expect(await opened()).toBeNull();
    await appendAccessEvent(h.database.db, {
      event: 'download_started',
      outcome: 'ok',
      tokenId,
      detail: { downloadId: crypto.randomUUID(), browser: true },
    });
    expect(await opened()).toBeInstanceOf(Date);
  });
});

// The viewer's gateway as a standard DICOMweb service: dicomweb-client (the library OHIF uses, from
// npm, not written here) runs in Chromium against the token-scoped gateway through nginx, on the CT
// stack and the multi-syntax study (instances searched within a series and across the study). Every
// call answers, or a 4xx with a reason where the store cannot produce the object; never a 5xx. The
// token goes in the Authorization header only.
import { createRequire } from 'node:module';
import { newUid } from '@studylink/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';
import { uploadCtStack, uploadMultiSyntaxStudy } from './support/viewer-samples.js';

// biome-ignore lint/suspicious/noExplicitAny: the e2e project is compiled without DOM types
type Dom = any;

const require = createRequire(import.meta.url);
const CLIENT_BUNDLE = require.resolve('dicomweb-client/build/dicomweb-client.js');

let s: E2EStack;
let browser: Browser;
const studies: Record<'ct' | 'multi', { uid: string; token: string }> = {
  ct: { uid: '', token: '' },
  multi: { uid: '', token: '' },
};

beforeAll(async () => {
  [s, browser] = await Promise.all([startE2EStack('dicomweb-client'), launchChromium()]);
  const ct = await uploadCtStack(s.orthanc, 4, 2);
  const multi = await uploadMultiSyntaxStudy(s.orthanc);
  studies.ct = { uid: ct.studyInstanceUid, token: (await s.issueToken(ct.studyInstanceUid)).token };
  studies.multi = { uid: multi, token: (await s.issueToken(multi)).token };
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

/** A same-origin page with no CSP of its own (answered by the test, never by the stack) holding dicomweb-client. */
async function clientPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.route(`${s.url}/__dicomweb-client__`, (route) =>
    route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><title>dicomweb-client</title>',
    }),
  );
  await page.goto(`${s.url}/__dicomweb-client__`);
  await page.addScriptTag({ path: CLIENT_BUNDLE });
  return page;
}

interface CallResult {
  call: string;
  status: number;
  detail: string;
}

/** Runs every dicomweb-client call of the brief on one study, in the page; what each answered. */
function runClient(page: Page, study: { uid: string; token: string }): Promise<CallResult[]> {
  return page.evaluate(
    async ({ uid, token }) => {
      const g = globalThis as Dom;
      const client = new g.DICOMwebClient.api.DICOMwebClient({
        url: `${g.location.origin}/token/dicomweb`,
        headers: { Authorization: `Bearer ${token}` },
      });
      const results: Array<{ call: string; status: number; detail: string }> = [];
      const value = (ds: Dom, tag: string) => ds?.[tag]?.Value?.[0];
      const run = async (call: string, fn: () => Promise<Dom>, describe: (v: Dom) => string) => {
        try {
          const v = await fn();
          results.push({ call, status: 200, detail: describe(v) });
          return v;
        } catch (e) {
          const err = e as Dom;
          const body = err.response ? new TextDecoder().decode(err.response) : '';
          results.push({ call, status: err.status ?? 0, detail: body.slice(0, 300) });
          return null;
        }
      };
      const count = (v: Dom) => `${v.length}`;
      const bytes = (v: Dom) => {
        const parts = Array.isArray(v) ? v : [v];
        const first = new Uint8Array(parts[0] ?? new ArrayBuffer(0));
        return `${parts.length} part(s), ${first.byteLength} bytes, starts ${[...first.slice(0, 2)].map((b) => b.toString(16)).join('')}`;
      };
      const series =
        (await run('searchForSeries', () => client.searchForSeries({ studyInstanceUID: uid }), count)) ?? [];
      const studyMetadata = await run(
        'retrieveStudyMetadata',
        () => client.retrieveStudyMetadata({ studyInstanceUID: uid }),
        count,
      );
      for (const se of series) {
        const seriesUid = value(se, '0020000E');
        const ids = { studyInstanceUID: uid, seriesInstanceUID: seriesUid };
        const instances =
          (await run(`searchForInstances ${seriesUid}`, () => client.searchForInstances(ids), count)) ?? [];
        const metadata =
          (await run(
            `retrieveSeriesMetadata ${seriesUid}`,
            () => client.retrieveSeriesMetadata(ids),
            count,
          )) ?? [];
        // The same instances by search as in the metadata.
        results.push({
          call: `instances match ${seriesUid}`,
          status: 200,
          detail: String(
            JSON.stringify(instances.map((i: Dom) => value(i, '00080018')).sort()) ===
              JSON.stringify(metadata.map((i: Dom) => value(i, '00080018')).sort()),
          ),
        });
        const sop = value(metadata[0], '00080018');
        if (!sop || !metadata[0]['7FE00010']) continue;
        const one = { ...ids, sopInstanceUID: sop };
        await run(
          `retrieveInstanceFrames ${sop}`,
          () => client.retrieveInstanceFrames({ ...one, frameNumbers: [1] }),
          bytes,
        );
        await run(
          `retrieveInstanceRendered ${sop}`,
          () => client.retrieveInstanceRendered({ ...one, mediaTypes: [{ mediaType: 'image/jpeg' }] }),
          bytes,
        );
        // PS3.18's accept query parameter, for a client that cannot set headers.
        await run(
          `retrieveInstanceRendered?accept ${sop}`,
          () => client.retrieveInstanceRendered({ ...one, queryParams: { accept: 'image/png' } }),
          bytes,
        );
      }
      results.push({
        call: 'study metadata instances',
        status: 200,
        detail: String(studyMetadata?.length ?? 0),
      });
      // QIDO-RS at study level: every instance of the study, each with its series; the same as the
      // study's metadata; and a page of them.
      const sops = (list: Dom[]) => JSON.stringify(list.map((i: Dom) => value(i, '00080018')).sort());
      const studyInstances =
        (await run(
          'study searchForInstances',
          () => client.searchForInstances({ studyInstanceUID: uid }),
          (v) => `${v.length} in ${new Set(v.map((i: Dom) => value(i, '0020000E'))).size} series`,
        )) ?? [];
      results.push({
        call: 'study instances match metadata',
        status: 200,
        detail: String(sops(studyInstances) === sops(studyMetadata ?? [])),
      });
      await run(
        'study searchForInstances paged',
        () => client.searchForInstances({ studyInstanceUID: uid, queryParams: { limit: '3', offset: '2' } }),
        count,
      );
      return results;
    },
    { uid: study.uid, token: study.token },
  );
}

describe('dicomweb-client against the gateway through nginx', () => {
  it('the CT stack: every call answers', async () => {
    const page = await clientPage();
    const results = await runClient(page, studies.ct);
    const by = (prefix: string) => results.filter((r) => r.call.startsWith(prefix));
    expect(by('searchForSeries')).toEqual([{ call: 'searchForSeries', status: 200, detail: '2' }]);
    expect(by('searchForInstances').map((r) => [r.status, r.detail])).toEqual([
      [200, '4'],
      [200, '4'],
    ]);
    expect(by('instances match').every((r) => r.detail === 'true')).toBe(true);
    expect(by('retrieveSeriesMetadata').map((r) => r.detail)).toEqual(['4', '4']);
    expect(by('study metadata instances')[0]?.detail).toBe('8');
    expect(by('study searchForInstances').map((r) => r.detail)).toEqual(['8 in 2 series', '3']);
    expect(by('study instances match metadata')[0]?.detail).toBe('true');
    for (const r of by('retrieveInstanceFrames'))
      expect(r.detail, r.call).toMatch(/^1 part\(s\), 32768 bytes/);
    for (const r of by('retrieveInstanceRendered ')) expect(r.detail, r.call).toMatch(/starts ffd8$/);
    for (const r of by('retrieveInstanceRendered?accept')) expect(r.detail, r.call).toMatch(/starts 8950$/);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    await page.close();
  });

  it('the multi-syntax study: every call answers, or a 4xx with a reason where the store cannot produce the object', async () => {
    const page = await clientPage();
    const results = await runClient(page, studies.multi);
    expect(results.filter((r) => r.call.startsWith('searchForSeries'))[0]?.status).toBe(200);
    expect(results.filter((r) => r.call.startsWith('searchForInstances')).length).toBeGreaterThanOrEqual(3);
    for (const r of results) {
      expect(r.status, `${r.call}: ${r.detail}`).not.toBeGreaterThanOrEqual(500);
      expect([200, 404, 406], `${r.call}: ${r.detail}`).toContain(r.status);
      if (r.status !== 200) expect(r.detail, r.call).toMatch(/"message":"[^"]{10,}/);
      if (r.call.startsWith('instances match')) expect(r.detail, r.call).toBe('true');
    }
    expect(results.find((r) => r.call === 'study searchForInstances')?.status).toBe(200);
    expect(results.find((r) => r.call === 'study instances match metadata')?.detail).toBe('true');
    // Most of it answers (the store renders and transcodes all but JPEG 2000 here).
    expect(results.filter((r) => r.status === 200).length).toBeGreaterThan(results.length * 0.8);
    await page.close();
  });

  it('refuses what PS3.18 does not allow or the link does not grant: 406 for a type it cannot send, 400 for a foreign query, 404 outside the study', async () => {
    const bearer = { authorization: `Bearer ${studies.ct.token}` };
    const base = `${s.url}/token/dicomweb/studies/${studies.ct.uid}`;
    const series = (await (await fetch(`${base}/series`, { headers: bearer })).json()) as Dom[];
    const seriesUid = series[0]['0020000E'].Value[0];
    const instances = (await (
      await fetch(`${base}/series/${seriesUid}/instances`, { headers: bearer })
    ).json()) as Dom[];
    const sop = instances[0]['00080018'].Value[0];
    const rendered = `${base}/series/${seriesUid}/instances/${sop}/rendered`;
    const answers = await Promise.all([
      fetch(rendered, { headers: { ...bearer, accept: 'application/pdf' } }),
      fetch(`${rendered}?accept=${encodeURIComponent('image/jpeg')}`, { headers: bearer }),
      fetch(`${rendered}?quality=5`, { headers: bearer }),
      fetch(`${base}/series/${seriesUid}/instances?PatientID=x`, { headers: bearer }),
      fetch(`${base}/series/${seriesUid}/instances?limit=1`, { headers: bearer }),
      fetch(`${base}/series/${newUid()}/instances`, { headers: bearer }),
      fetch(`${base}/series/${seriesUid}/metadata`, { headers: { ...bearer, accept: 'image/png' } }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([406, 200, 400, 400, 200, 404, 406]);
    expect(answers[1]?.headers.get('content-type')).toBe('image/jpeg');
    expect(((await (answers[4] as Response).json()) as Dom[]).length).toBe(1);
    expect(((await (answers[0] as Response).json()) as Dom).error.code).toBe('not_acceptable');
  });
});

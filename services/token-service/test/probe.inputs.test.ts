// Inputs the black-box probe sent that answered 500 or were taken: each is now a clear 4xx, and
// nothing is logged at error level for them.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson } from './harness.js';
import { type StaffHarness, startStaffHarness } from './staff.harness.js';

let h: StaffHarness;
beforeAll(async () => {
  h = await startStaffHarness();
});
afterAll(async () => {
  await h?.close();
});

const errorLines = () => h.logs.filter((l) => /"level":(50|60)/.test(l));

describe('a body that does not match its Content-Encoding', () => {
  const junk = Buffer.from('this is not compressed at all');
  const targets: [string, string, string][] = [
    ['GET', `/token?${'A'.repeat(64)}`, 'application/json'],
    ['PUT', '/api/v1/server-config', 'application/json'],
    ['PUT', '/api/v1/studies/1.2.3/token', 'application/json'],
    ['POST', '/staff/sign-in', 'application/json'],
    ['POST', '/staff/sign-in', 'application/x-www-form-urlencoded'],
    ['GET', '/assets/patient.css', 'application/json'],
  ];
  for (const encoding of ['gzip', 'deflate', 'br']) {
    for (const [method, path, type] of targets) {
      it(`${encoding} ${method} ${path} (${type}): 400 or 415, no error logged`, async () => {
        const before = errorLines().length;
        const res = await fetch(`${h.url}${path}`, {
          method,
          headers: {
            'content-type': type,
            'content-encoding': encoding,
            authorization: `Bearer ${h.adminKey}`,
          },
          body: junk,
          // fetch refuses a GET with a body; the probe used curl.
          ...(method === 'GET' ? { method: 'POST' } : {}),
        });
        await res.arrayBuffer();
        expect([400, 405, 415]).toContain(res.status);
        expect(errorLines().length).toBe(before);
      });
    }
  }

  it('a GET with a gzip body that is not gzip: 400 on the page, the API and the assets', async () => {
    const { sendExact } = await import('@studylink/testkit');
    for (const path of [`/token?${'A'.repeat(64)}`, '/api/v1/openapi.json', '/assets/patient.css']) {
      const before = errorLines().length;
      const res = await sendExact(h.url, 'GET', path, {
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: junk,
      });
      expect(res.status, path).toBe(400);
      expect(errorLines().length).toBe(before);
    }
  });

  it('a well-formed gzip JSON body is still read', async () => {
    const res = await fetch(`${h.url}/api/v1/server-config`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        authorization: `Bearer ${h.adminKey}`,
      },
      body: gzipSync(JSON.stringify({ department: 'Imaging' })),
    });
    expect(res.status).toBe(200);
    expect((await readJson(res)).department).toBe('Imaging');
  });
});

describe('setup text PostgreSQL cannot store', () => {
  for (const field of ['institution', 'department', 'viewerUrl']) {
    it(`NUL in ${field} through the API: 400 naming the field, nothing changed`, async () => {
      const before = await readJson(
        await fetch(`${h.url}/api/v1/server-config`, { headers: { authorization: `Bearer ${h.adminKey}` } }),
      );
      const res = await fetch(`${h.url}/api/v1/server-config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` },
        body: JSON.stringify({ [field]: `x\u0000y` }),
      });
      expect(res.status).toBe(400);
      const body = await readJson(res);
      expect(JSON.stringify(body.error.details)).toContain(field);
      const after = await readJson(
        await fetch(`${h.url}/api/v1/server-config`, { headers: { authorization: `Bearer ${h.adminKey}` } }),
      );
      expect(after).toEqual(before);
    });
  }

  it('NUL in the staff setup form: the form again (400) with the field marked, no 500', async () => {
    await h.addUser('setup-admin', 'admin');
    const admin = h.client();
    await admin.signInOrThrow('setup-admin');
    const form = await admin.get('/staff/setup');
    expect(form.status).toBe(200);
    const res = await admin.post('/staff/setup', {
      institution: 'St.\u0000Example',
      department: 'Radiology',
      publicAddress: '203.0.113.10',
      localAddress: '',
      port: '3000',
      serverName: '',
      zipContent: 'as-stored',
      viewerUrl: '',
      defaultExpiryDays: '',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('control characters');
  });

  it('a zone id in publicAddress: 400, so no link is built with it', async () => {
    const res = await fetch(`${h.url}/api/v1/server-config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` },
      body: JSON.stringify({ publicAddress: 'fe80::1%eth0', serverName: '' }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify((await readJson(res)).error.details)).toContain('publicAddress');
  });
});

describe('a link that would be dead on arrival', () => {
  it('expiresAt in the past: 400, and no token made', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.77';
    h.source.add({ studyInstanceUid: uid });
    const res = await fetch(`${h.url}/api/v1/studies/${uid}/token`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.adminKey}` },
      body: JSON.stringify({ expiresAt: new Date(Date.now() - 60_000).toISOString() }),
    });
    expect(res.status).toBe(400);
    const get = await fetch(`${h.url}/api/v1/studies/${uid}/token`, {
      headers: { authorization: `Bearer ${h.adminKey}` },
    });
    expect(get.status).toBe(404);
  });
});

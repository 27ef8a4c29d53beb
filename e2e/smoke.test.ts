import { loadSamples } from '@studylink/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type E2EStack, startE2EStack } from './support/e2e-stack.js';

let s: E2EStack;
beforeAll(async () => {
  s = await startE2EStack('smoke');
});
afterAll(async () => {
  await s?.stop();
});

it('a patient opens the link through nginx and downloads a zip', async () => {
  const [ct] = await loadSamples(s.orthanc, ['CT_small.dcm']);
  const { token, url } = await s.issueToken(ct?.studyInstanceUid as string);
  const link = url.replace(/^http:\/\/[^/]+/, s.url);
  const page = await fetch(link);
  expect(page.status).toBe(200);
  const zip = await fetch(`${s.url}/token/study.zip?${token}`);
  expect(zip.status).toBe(200);
  expect(zip.headers.get('content-type')).toBe('application/zip');
  const bytes = Buffer.from(await zip.arrayBuffer());
  expect(bytes.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
});

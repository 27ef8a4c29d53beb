import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type LoadedSample,
  loadSamples,
  replaceUids,
  SAMPLE_STUDIES,
  samplePathOrThrow,
} from './dicom-samples.js';
import { type OrthancInstance, startOrthanc } from './orthanc.fixture.js';

const WADO_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** The bodies of a multipart/related response (enough for Orthanc's answers). */
function multipartBodies(contentType: string, body: Buffer): Buffer[] {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    parts.push(part.subarray(headerEnd + 4, part.length - 2)); // drop the CRLF before the delimiter
    at = next;
  }
  return parts;
}

async function wadoStudy(orthanc: OrthancInstance, studyInstanceUid: string): Promise<Buffer[]> {
  const res = await fetch(`${orthanc.dicomwebUrl}/studies/${studyInstanceUid}`, {
    headers: { accept: WADO_ACCEPT },
  });
  expect(res.status).toBe(200);
  return multipartBodies(res.headers.get('content-type') ?? '', Buffer.from(await res.arrayBuffer()));
}

async function orthancJson<T>(orthanc: OrthancInstance, path: string): Promise<T> {
  const res = await fetch(`${orthanc.httpUrl}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('pydicom samples in Orthanc', () => {
  let orthanc: OrthancInstance;
  let loaded: LoadedSample[];

  beforeAll(async () => {
    orthanc = await startOrthanc();
    loaded = await loadSamples(orthanc);
  });
  afterAll(async () => {
    await orthanc?.stop();
  });

  it('stores every catalog sample; samples sharing UIDs with an earlier one are AlreadyStored', () => {
    expect(loaded.map((l) => l.name)).toEqual(SAMPLE_STUDIES.map((s) => s.name));
    for (const [i, sample] of SAMPLE_STUDIES.entries()) {
      expect(loaded[i]).toMatchObject({
        name: sample.name,
        status: sample.sameUidsAs ? 'AlreadyStored' : 'Success',
        studyInstanceUid: sample.studyInstanceUid,
      });
    }
  });

  it('has the right UIDs, modality and transfer syntax in the catalog', async () => {
    for (const [i, sample] of SAMPLE_STUDIES.entries()) {
      if (sample.sameUidsAs) continue; // Orthanc holds the first file with these UIDs
      const id = loaded[i]?.orthancId;
      const instance = await orthancJson<{ MainDicomTags: Record<string, string>; ParentSeries: string }>(
        orthanc,
        `/instances/${id}`,
      );
      const series = await orthancJson<{ MainDicomTags: Record<string, string> }>(
        orthanc,
        `/series/${instance.ParentSeries}`,
      );
      const syntax = await (await fetch(`${orthanc.httpUrl}/instances/${id}/metadata/TransferSyntax`)).text();
      expect({
        sop: instance.MainDicomTags.SOPInstanceUID,
        series: series.MainDicomTags.SeriesInstanceUID,
        modality: series.MainDicomTags.Modality,
        syntax,
      }).toEqual({
        sop: sample.sopInstanceUid,
        series: sample.seriesInstanceUid,
        modality: sample.modality,
        syntax: sample.transferSyntaxUid,
      });
    }
  });

  it('QIDO-RS lists each sample study with its patient name in UTF-8', async () => {
    for (const sample of SAMPLE_STUDIES) {
      const res = await fetch(`${orthanc.dicomwebUrl}/studies?StudyInstanceUID=${sample.studyInstanceUid}`, {
        headers: { accept: 'application/dicom+json' },
      });
      expect(res.status).toBe(200);
      const studies = (await res.json()) as Record<string, { Value?: unknown[] }>[];
      expect(studies).toHaveLength(1);
      expect({ name: sample.name, pn: studies[0]?.['00100010']?.Value?.[0] }).toEqual({
        name: sample.name,
        pn: sample.qidoPatientName,
      });
      expect(studies[0]?.['00080005']?.Value).toEqual(['ISO_IR 192']);
    }
  });

  it('WADO-RS returns each stored file byte for byte', async () => {
    for (const sample of loaded.filter((l) => l.status === 'Success')) {
      const parts = await wadoStudy(orthanc, sample.studyInstanceUid);
      expect(parts, sample.name).toHaveLength(1);
      expect(parts[0]?.equals(readFileSync(sample.path)), sample.name).toBe(true);
    }
  });

  it("with uids: 'unique' makes each variant its own study, kept in its transfer syntax", async () => {
    const variants = SAMPLE_STUDIES.filter((s) => s.name.startsWith('MR_small'));
    expect(variants.length).toBeGreaterThanOrEqual(5);
    const fresh = await loadSamples(
      orthanc,
      variants.map((v) => v.name),
      { uids: 'unique' },
    );
    expect(fresh.map((f) => f.status)).toEqual(variants.map(() => 'Success'));
    expect(new Set(fresh.map((f) => f.studyInstanceUid)).size).toBe(variants.length);
    for (const [i, f] of fresh.entries()) {
      const variant = variants[i];
      expect(f.studyInstanceUid).not.toBe(variant?.studyInstanceUid);
      expect(f.studyInstanceUid).toHaveLength(variant?.studyInstanceUid.length ?? 0);
      expect(f.bytes.length).toBe(readFileSync(f.path).length);
      const syntax = await (
        await fetch(`${orthanc.httpUrl}/instances/${f.orthancId}/metadata/TransferSyntax`)
      ).text();
      expect(syntax).toBe(variant?.transferSyntaxUid);
      const [part] = await wadoStudy(orthanc, f.studyInstanceUid);
      expect(part?.equals(f.bytes), f.name).toBe(true);
    }
  });

  it('replaceUids changes whole UID values only and refuses other lengths', () => {
    const bytes = Buffer.from('\0UI1.2.3\0UI1.2.34\0UI11.2.3\0');
    expect(replaceUids(bytes, { '1.2.3': '9.8.7' }).toString()).toBe('\0UI9.8.7\0UI1.2.34\0UI11.2.3\0');
    expect(() => replaceUids(bytes, { '1.2.3': '9.8' })).toThrow(/not as long/);
    expect(() => replaceUids(bytes, { '5.5.5': '6.6.6' })).toThrow(/does not occur/);
  });

  it('finds samples by name in both directories and explains unknown names', () => {
    expect(samplePathOrThrow('chrFren.dcm')).toMatch(/charset_files\/chrFren\.dcm$/);
    expect(samplePathOrThrow('rtplan.dcm')).toMatch(/test_files\/rtplan\.dcm$/);
    expect(() => samplePathOrThrow('nope.dcm')).toThrow(/no pydicom sample named nope\.dcm/);
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { samplePdf, writeReportFiles } from '@studylink/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEncapsulatedDocument } from './encapsulated-document.js';
import { InvalidDicomError } from './part10-meta.parser.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encdoc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function written(pdf: Buffer, implicit: boolean) {
  const sub = await mkdtemp(join(dir, 'x-'));
  const files = await writeReportFiles({
    dir: sub,
    studyInstanceUid: '1.2.3',
    patientName: 'Doe^Jane',
    patientId: 'P1',
    findings: 'f',
    impression: 'i',
    pdf,
    implicitPdf: implicit,
  });
  return { bytes: await readFile(files.pdf.path), pdf: files.pdf.document };
}

describe('the encapsulated document of a PS3.10 file written by pydicom', () => {
  it('is the PDF byte for byte: the pad byte of an odd-length PDF removed (explicit VR)', async () => {
    const pdf = samplePdf('odd');
    expect(pdf.length % 2).toBe(1);
    const { bytes } = await written(pdf, false);
    const doc = readEncapsulatedDocument(bytes);
    expect(doc.mimeType).toBe('application/pdf');
    expect(Buffer.from(doc.document).equals(pdf)).toBe(true);
  });

  it('keeps an even-length PDF whole, and reads implicit VR files (after a sequence)', async () => {
    const pdf = Buffer.concat([samplePdf('even'), Buffer.from('\n')]);
    expect(pdf.length % 2).toBe(0);
    const { bytes } = await written(pdf, true);
    expect(Buffer.from(readEncapsulatedDocument(bytes).document).equals(pdf)).toBe(true);
  });

  it('refuses what is no encapsulated document with InvalidDicomError, never anything else', async () => {
    const { bytes } = await written(samplePdf(), false);
    expect(() => readEncapsulatedDocument(new Uint8Array(10))).toThrow(InvalidDicomError);
    // Cut inside the document's value.
    expect(() => readEncapsulatedDocument(bytes.subarray(0, bytes.length - 40))).toThrow(InvalidDicomError);
    // A file that ends before 0042,0011 (its explicit OB header is 12 bytes).
    const noDoc = bytes.subarray(0, bytes.indexOf(Buffer.from('%PDF-')) - 12);
    expect(() => readEncapsulatedDocument(noDoc)).toThrow(InvalidDicomError);
  });
});

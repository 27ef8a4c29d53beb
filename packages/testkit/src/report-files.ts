import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newUid } from './uid.js';

const PYTHON = process.env.PYDICOM_PYTHON ?? '/usr/bin/python3';

export interface ReportFilesOptions {
  dir: string;
  studyInstanceUid: string;
  /** As the study's other instances have them, so the store files the reports under the same study. */
  patientName: string;
  patientId: string;
  /** Specific Character Set of the SR, e.g. `ISO_IR 100`, `ISO_IR 192`, `\\ISO 2022 IR 87` (default ISO_IR 192). */
  charset?: string;
  /** The SR's sections: the texts under Findings and Impression. */
  findings: string;
  impression: string;
  /** The report title (the root container's concept name meaning). */
  title?: string;
  /** The PDF to encapsulate (default: a small PDF of odd length). */
  pdf?: Uint8Array;
  /** Write the encapsulated PDF in implicit VR little endian (default explicit). */
  implicitPdf?: boolean;
}

export interface ReportFile {
  path: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
}

export interface ReportFiles {
  sr: ReportFile;
  pdf: ReportFile & { document: Buffer };
}

/** A minimal valid PDF of odd length (so the encapsulated value carries one pad byte). */
export function samplePdf(text = 'Radiology report'): Buffer {
  const body = `%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R>>endobj\n4 0 obj<</Length ${text.length + 24}>>stream\nBT /F1 12 Tf 20 100 Td (${text}) Tj ET\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n`;
  const bytes = Buffer.from(body, 'latin1');
  return bytes.length % 2 === 1 ? bytes : Buffer.concat([bytes, Buffer.from(' ')]);
}

const SCRIPT = `
import json, sys
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
a = json.loads(sys.argv[1])

def code(value, scheme, meaning):
    c = Dataset(); c.CodeValue = value; c.CodingSchemeDesignator = scheme; c.CodeMeaning = meaning
    return Sequence([c])

def base(ds, sop_class, sop, series, modality, number):
    ds.SpecificCharacterSet = a['charset']
    ds.SOPClassUID = sop_class; ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = a['study']; ds.SeriesInstanceUID = series
    ds.PatientName = a['patientName']; ds.PatientID = a['patientId']
    ds.PatientBirthDate = ''; ds.PatientSex = ''
    ds.StudyDate = '20240131'; ds.StudyTime = '101500'; ds.ReferringPhysicianName = ''
    ds.StudyID = '1'; ds.AccessionNumber = ''
    ds.Modality = modality; ds.SeriesNumber = number; ds.InstanceNumber = 1
    ds.Manufacturer = ''
    ds.ContentDate = '20240131'; ds.ContentTime = '120000'

def save(ds, path, sop_class, sop, ts):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class; meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = ts
    ds.file_meta = meta
    ds.is_little_endian = True; ds.is_implicit_VR = ts == ImplicitVRLittleEndian
    ds.preamble = b'\\0' * 128
    ds.save_as(path, write_like_original=False)

sr = Dataset()
base(sr, '1.2.840.10008.5.1.4.1.1.88.11', a['srUid'], a['srSeries'], 'SR', 901)
sr.SeriesDescription = 'Report'
sr.ReferencedPerformedProcedureStepSequence = Sequence([])
sr.PerformedProcedureCodeSequence = Sequence([])
sr.CompletionFlag = 'COMPLETE'; sr.VerificationFlag = 'UNVERIFIED'
sr.ValueType = 'CONTAINER'; sr.ContinuityOfContent = 'SEPARATE'
sr.ConceptNameCodeSequence = code('18748-4', 'LN', a['title'])
def text_item(meaning, value):
    i = Dataset(); i.RelationshipType = 'CONTAINS'; i.ValueType = 'TEXT'
    i.ConceptNameCodeSequence = code('121071' if meaning == 'Finding' else '121073', 'DCM', meaning)
    i.TextValue = value
    return i
def container(value, meaning, children):
    c = Dataset(); c.RelationshipType = 'CONTAINS'; c.ValueType = 'CONTAINER'; c.ContinuityOfContent = 'SEPARATE'
    c.ConceptNameCodeSequence = code(value, 'DCM', meaning)
    c.ContentSequence = Sequence(children)
    return c
sr.ContentSequence = Sequence([
    container('121070', 'Findings', [text_item('Finding', a['findings'])]),
    container('121072', 'Impression', [text_item('Impression', a['impression'])]),
])
save(sr, a['srPath'], sr.SOPClassUID, sr.SOPInstanceUID, ExplicitVRLittleEndian)

doc = Dataset()
base(doc, '1.2.840.10008.5.1.4.1.1.104.1', a['pdfUid'], a['pdfSeries'], 'DOC', 902)
doc.SpecificCharacterSet = 'ISO_IR 192'
doc.ConversionType = 'WSD'; doc.BurnedInAnnotation = 'YES'
doc.DocumentTitle = 'Report (PDF)'
doc.ConceptNameCodeSequence = Sequence([])
doc.AcquisitionDateTime = ''
pdf = open(a['pdfSource'], 'rb').read()
doc.MIMETypeOfEncapsulatedDocument = 'application/pdf'
doc.EncapsulatedDocument = pdf
doc.EncapsulatedDocumentLength = len(pdf)
save(doc, a['pdfPath'], doc.SOPClassUID, doc.SOPInstanceUID,
     ImplicitVRLittleEndian if a['implicitPdf'] else ExplicitVRLittleEndian)
print('ok')
`;

/**
 * Writes, with pydicom, a Basic Text SR (title; Findings and Impression containers holding TEXT items;
 * in the given character set) and an Encapsulated PDF (with Encapsulated Document Length) into the
 * study: the report objects a PACS holds beside the images.
 * @example const { sr, pdf } = await writeReportFiles({ dir, studyInstanceUid, patientName: 'Doe^Jane', patientId: 'P1', findings: '...', impression: 'No acute finding.' });
 */
export async function writeReportFiles(options: ReportFilesOptions): Promise<ReportFiles> {
  await mkdir(options.dir, { recursive: true });
  const pdf = Buffer.from(options.pdf ?? samplePdf());
  const pdfSource = join(options.dir, 'source.pdf');
  await writeFile(pdfSource, pdf);
  const sr = {
    path: join(options.dir, 'report-sr.dcm'),
    sopInstanceUid: newUid(),
    seriesInstanceUid: newUid(),
  };
  const doc = {
    path: join(options.dir, 'report-pdf.dcm'),
    sopInstanceUid: newUid(),
    seriesInstanceUid: newUid(),
  };
  const args = {
    study: options.studyInstanceUid,
    patientName: options.patientName,
    patientId: options.patientId,
    charset: options.charset ?? 'ISO_IR 192',
    title: options.title ?? 'Radiology Report',
    findings: options.findings,
    impression: options.impression,
    srUid: sr.sopInstanceUid,
    srSeries: sr.seriesInstanceUid,
    srPath: sr.path,
    pdfUid: doc.sopInstanceUid,
    pdfSeries: doc.seriesInstanceUid,
    pdfPath: doc.path,
    pdfSource,
    implicitPdf: options.implicitPdf === true,
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`pydicom could not write the reports: ${stderr}`)),
    );
  });
  // Read back so callers compare with exactly what was encapsulated.
  return { sr, pdf: { ...doc, document: await readFile(pdfSource) } };
}

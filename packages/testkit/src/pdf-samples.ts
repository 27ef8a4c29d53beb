import { deflateSync } from 'node:zlib';

/**
 * A PDF of these objects (bodies without `N 0 obj`), with a classic xref table and trailer; `header`
 * replaces the usual first lines, `tail` follows `%%EOF`, `trailer` goes into the trailer dictionary.
 * @example pdfOf(['<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [] /Count 0 >>'])
 */
export function pdfOf(
  objects: (string | Buffer)[],
  { header: first = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', tail = '', trailer = '' } = {},
): Buffer {
  const header = Buffer.from(first, 'latin1');
  const parts: Buffer[] = [header];
  const offsets: number[] = [];
  let at = header.length;
  objects.forEach((body, i) => {
    offsets.push(at);
    const obj = Buffer.concat([
      Buffer.from(`${i + 1} 0 obj\n`, 'latin1'),
      Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'),
      Buffer.from('\nendobj\n', 'latin1'),
    ]);
    parts.push(obj);
    at += obj.length;
  });
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f ',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n `),
    'trailer',
    `<< /Size ${objects.length + 1} /Root 1 0 R${trailer} >>`,
    'startxref',
    String(at),
    '%%EOF',
    '',
  ].join('\n');
  parts.push(Buffer.from(xref + tail, 'latin1'));
  return Buffer.concat(parts);
}

/** A stream object's body: `dict` and the data's /Length, then the data. */
export const stream = (dict: string, data: Buffer) =>
  Buffer.concat([
    Buffer.from(`<< ${dict} /Length ${data.length} >>\nstream\n`, 'latin1'),
    data,
    Buffer.from('\nendstream', 'latin1'),
  ]);

/**
 * A one-page PDF report as a RIS writes one: compressed text, a standard font, a link annotation,
 * an object stream holding the document info (FlateDecode). `extra` goes into that object stream
 * (e.g. `/S /JavaScript /JS (app.alert(1))` to hide script where a plain byte search misses it).
 * @example const pdf = samplePdfReport('Impression: no acute findings.');
 */
export function samplePdfReport(text = 'Impression: no acute findings.', { extra = '' } = {}): Buffer {
  const safe = text.replace(/[\\()]/g, (c) => `\\${c}`);
  const content = deflateSync(Buffer.from(`BT /F1 12 Tf 72 720 Td (${safe}) Tj ET`, 'latin1'));
  const info = `<< /Producer (Sample RIS 4.2) /Title (Radiology report) ${extra} >>`;
  const objStm = deflateSync(Buffer.from(`7 0 ${info}`, 'latin1'));
  return pdfOf(
    [
      '<< /Type /Catalog /Pages 2 0 R /OpenAction [3 0 R /Fit] >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [<< /Type /Annot /Subtype /Link /Rect [72 700 300 712] /A << /S /URI /URI (https://hospital.example/) >> >>] >>',
      stream('/Filter /FlateDecode', content),
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      stream('/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode', objStm),
    ],
    { trailer: ' /Info 7 0 R' },
  );
}

/** The same report with JavaScript that runs on opening, in plain sight. */
export function samplePdfWithJavaScript(): Buffer {
  return pdfOf(
    [
      '<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >>',
      '<< /Type /Pages /Kids [] /Count 0 >>',
    ],
    { trailer: ' /Info 7 0 R' },
  );
}

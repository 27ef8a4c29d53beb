import { deflateSync } from 'node:zlib';
import { pdfOf, pdfStream } from '@studylink/testkit';
import { describe, expect, it } from 'vitest';
import { checkPdf, pdfNames } from './pdf.check.js';

const stream = pdfStream;

/** A report as a RIS writes one: a page of compressed text, a font, an info dictionary, an object stream. */
function normalReport(extraObjStm = ''): Buffer {
  const content = deflateSync(
    Buffer.from('BT /F1 12 Tf 72 720 Td (CT CHEST: no acute findings. Impression: normal.) Tj ET', 'latin1'),
  );
  const objStm = deflateSync(
    Buffer.from(
      `7 0 8 60 << /Producer (RIS 4.2) /Title (Report) >> << /Marked true ${extraObjStm} >>`,
      'latin1',
    ),
  );
  return pdfOf([
    '<< /Type /Catalog /Pages 2 0 R /MarkInfo 8 0 R /OpenAction [3 0 R /Fit] >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> /Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /URI /URI (https://hospital.example/) >> >>] >>',
    stream('/Filter /FlateDecode', content),
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    stream('/Type /ObjStm /N 2 /First 9 /Filter /FlateDecode', objStm),
  ]);
}

describe('checkPdf', () => {
  it('passes a normal report: text, fonts, a link, compressed content and object streams', () => {
    expect(checkPdf(normalReport())).toBeNull();
  });

  it('passes a name that merely starts like a forbidden one (/JSON, /Launcher) and %%EOF followed by padding', () => {
    const pdf = pdfOf(['<< /Type /Catalog /JSON 1 /Launcher 2 /XFAX 3 >>'], { tail: '\r\n\0\0\0   \n' });
    expect(checkPdf(pdf)).toBeNull();
  });

  it.each([
    ['not a PDF', Buffer.from('<html><body>report</body></html>'), 'not_a_pdf'],
    ['a PNG', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'not_a_pdf'],
    ['a PDF header with junk before it', Buffer.concat([Buffer.from('junk'), normalReport()]), 'not_a_pdf'],
    ['a truncated PDF (no %%EOF at the end)', normalReport().subarray(0, 400), 'not_a_pdf'],
    ['an empty file', Buffer.alloc(0), 'not_a_pdf'],
  ])('refuses %s', (_name, bytes, code) => {
    expect(checkPdf(bytes)?.code).toBe(code);
  });

  it.each([
    ['/JavaScript', '<< /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>'],
    ['/JS alone', '<< /Type /Catalog /AA << /O << /JS 9 0 R >> >> >>'],
    ['/Launch', '<< /Type /Catalog /OpenAction << /S /Launch /F (cmd.exe) >> >>'],
    ['/EmbeddedFiles', '<< /Type /Catalog /Names << /EmbeddedFiles << /Names [(a.exe) 2 0 R] >> >> >>'],
    ['/EmbeddedFile', '<< /Type /EmbeddedFile /Length 0 >>'],
    ['/RichMedia', '<< /Type /Annot /Subtype /RichMedia >>'],
    ['/XFA', '<< /Type /Catalog /AcroForm << /XFA 3 0 R >> >>'],
    ['a #-escaped /JavaScript', '<< /S /J#61va#53cript /J#53 (x) >>'],
    ['a name right after another', '<< /S/JavaScript>>'],
  ])('refuses %s', (_name, catalog) => {
    const refusal = checkPdf(pdfOf([catalog]));
    expect(refusal?.code).toBe('pdf_active_content');
    expect(refusal?.reason).toMatch(/^the PDF carries \/(JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA)/);
  });

  it('refuses JavaScript hidden in a compressed object stream, even with an escaped /ObjStm type', () => {
    const hidden = checkPdf(normalReport('/S /JavaScript /JS (app.alert(1))'));
    expect(hidden).toMatchObject({ code: 'pdf_active_content' });
    expect(hidden?.reason).toContain('in an object stream');
    const js = deflateSync(Buffer.from('9 0 << /S /Launch /F (x.exe) >>', 'latin1'));
    const escaped = pdfOf([
      '<< /Type /Catalog >>',
      stream('/Type /Obj#53tm /N 1 /First 4 /Filter [/FlateDecode]', js),
    ]);
    expect(checkPdf(escaped)?.code).toBe('pdf_active_content');
  });

  it('finds an object stream whose dictionary holds strings with >> or obj in them', () => {
    const js = deflateSync(Buffer.from('9 0 << /S /JavaScript /JS (x) >>', 'latin1'));
    const pdf = pdfOf([
      '<< /Type /Catalog >>',
      stream('/Title (a >> b obj) /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode', js),
    ]);
    expect(checkPdf(pdf)?.code).toBe('pdf_active_content');
  });

  it('refuses an object stream it cannot read: another filter, broken data', () => {
    const lzw = pdfOf([
      '<< /Type /Catalog >>',
      stream('/Type /ObjStm /N 1 /First 4 /Filter /LZWDecode', Buffer.from('xx')),
    ]);
    expect(checkPdf(lzw)?.code).toBe('pdf_unreadable');
    const broken = pdfOf([
      '<< /Type /Catalog >>',
      stream('/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode', Buffer.from('not zlib at all')),
    ]);
    expect(checkPdf(broken)?.code).toBe('pdf_unreadable');
  });

  it('refuses an object stream that inflates past 64 MB (a zip bomb)', () => {
    const bomb = deflateSync(Buffer.alloc(65 * 1024 * 1024, 0x20));
    const pdf = pdfOf([
      '<< /Type /Catalog >>',
      stream('/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode', bomb),
    ]);
    expect(checkPdf(pdf)?.code).toBe('pdf_unreadable');
  });
});

describe('pdfNames', () => {
  it('reads names as a PDF reader does: delimiters end them, #xx escapes decode', () => {
    expect([...pdfNames(Buffer.from('<</Type/Catalog /J#53 (x)/A[/B]/#41b>>'))]).toEqual([
      'Type',
      'Catalog',
      'JS',
      'A',
      'B',
      'Ab',
    ]);
  });
});

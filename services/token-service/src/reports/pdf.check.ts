import { constants, inflateSync } from 'node:zlib';

/**
 * What the RIS may push as a report (issue 20): a PDF that a viewer shows and nothing more. It must
 * look like a PDF (`%PDF-` at its start, `%%EOF` near its end) and carry nothing a PDF reader would
 * run or unpack: JavaScript (`/JavaScript`, `/JS`), `/Launch` actions, embedded files
 * (`/EmbeddedFile`, `/EmbeddedFiles`), `/RichMedia` (Flash, video) and XFA forms (`/XFA`). Names are
 * read as a PDF reader reads them (`/J#53` is `/JS`), in the file and inside its object streams
 * (`/ObjStm`, inflated with zlib), where objects can hide from a plain byte search. An object
 * stream that cannot be read (another filter, encryption, a broken or oversized stream) is refused
 * too: what cannot be checked is not passed.
 */

export const FORBIDDEN_PDF_NAMES = [
  'JavaScript',
  'JS',
  'Launch',
  'EmbeddedFile',
  'EmbeddedFiles',
  'RichMedia',
  'XFA',
] as const;
const FORBIDDEN: ReadonlySet<string> = new Set(FORBIDDEN_PDF_NAMES);

/** Why a pushed file is refused: not a PDF at all, or one with content that runs or unpacks. */
export interface PdfRefusal {
  code: 'not_a_pdf' | 'pdf_active_content' | 'pdf_unreadable';
  reason: string;
}

/** `%%EOF` must be within this many bytes of the end (writers add a line end or a little padding). */
const EOF_WINDOW = 1024;
/** All object streams of one file together inflate to at most this (a zip bomb is refused). */
const MAX_INFLATED_BYTES = 64 * 1024 * 1024;

// PDF white-space and delimiters (ISO 32000-1 7.2.2): a name runs until one of them.
const ENDS_NAME = new Set([
  0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25,
]);
const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Every name in `bytes` (`/Type` → `Type`), with `#xx` escapes decoded as a PDF reader decodes them.
 * @example [...pdfNames(Buffer.from('<< /J#53 (x) >>'))] // ['JS']
 */
export function* pdfNames(bytes: Buffer): Generator<string> {
  let i = bytes.indexOf(0x2f);
  while (i !== -1) {
    let j = i + 1;
    let name = '';
    while (j < bytes.length && !ENDS_NAME.has(bytes[j] as number)) {
      const c = bytes[j] as number;
      const hex = bytes.toString('latin1', j + 1, j + 3);
      if (c === 0x23 && HEX.test(hex)) {
        name += String.fromCharCode(Number.parseInt(hex, 16));
        j += 3;
      } else {
        name += String.fromCharCode(c);
        j += 1;
      }
    }
    yield name;
    // j > i always: the next name starts at or after the delimiter that ended this one.
    i = bytes.indexOf(0x2f, j);
  }
}

function forbiddenIn(bytes: Buffer): string | null {
  for (const name of pdfNames(bytes)) if (FORBIDDEN.has(name)) return name;
  return null;
}

/**
 * The end of the dictionary that starts at `at` (`<<`), read as a PDF reader reads it: nested
 * dictionaries, literal strings (balanced parentheses, backslash escapes), hex strings and comments
 * are skipped, so nothing inside a string can end it early. -1 when it does not end.
 */
function dictionaryEnd(pdf: Buffer, at: number): number {
  let depth = 0;
  let i = at;
  while (i < pdf.length) {
    const c = pdf[i] as number;
    if (c === 0x3c && pdf[i + 1] === 0x3c) {
      depth += 1;
      i += 2;
    } else if (c === 0x3e && pdf[i + 1] === 0x3e) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else if (c === 0x3c) {
      const close = pdf.indexOf(0x3e, i + 1);
      if (close === -1) return -1;
      i = close + 1;
    } else if (c === 0x28) {
      let nest = 0;
      for (; i < pdf.length; i += 1) {
        const d = pdf[i] as number;
        if (d === 0x5c) i += 1;
        else if (d === 0x28) nest += 1;
        else if (d === 0x29 && --nest === 0) break;
      }
      i += 1;
    } else if (c === 0x25) {
      while (i < pdf.length && pdf[i] !== 0x0a && pdf[i] !== 0x0d) i += 1;
    } else i += 1;
  }
  return -1;
}

/** The streams of the file whose dictionary says `/Type /ObjStm`, with their filters and data. */
function* objectStreams(pdf: Buffer): Generator<{ filters: string[]; data: Buffer }> {
  const text = pdf.toString('latin1');
  const object = /\d+\s+\d+\s+obj\s*<</g;
  for (let m = object.exec(text); m; m = object.exec(text)) {
    const dictStart = m.index + m[0].length - 2;
    const dictEnd = dictionaryEnd(pdf, dictStart);
    if (dictEnd === -1) continue;
    const keyword = /^\s*stream(\r\n|\n|\r)/.exec(text.slice(dictEnd, dictEnd + 40));
    if (!keyword) continue;
    const dict = pdf.subarray(dictStart, dictEnd);
    const names = [...pdfNames(dict)];
    const typeAt = names.indexOf('Type');
    if (typeAt === -1 || names[typeAt + 1] !== 'ObjStm') continue;
    const start = dictEnd + keyword[0].length;
    // The names after /Filter up to the next key: `/Filter /FlateDecode` or `/Filter [/FlateDecode]`.
    const filters: string[] = [];
    const filter = /\/Filter\s*(\[[^\]]*\]|\/[^\s/<>[\]()]+)/.exec(
      dict.toString('latin1').replace(/#46/gi, 'F'),
    );
    if (names.includes('Filter'))
      filters.push(...pdfNames(Buffer.from(filter?.[1] ?? '/(unknown)', 'latin1')));
    const direct = /\/Length\s+(\d+)(?!\s+\d+\s+R)/.exec(dict.toString('latin1'));
    const length = direct ? Number(direct[1]) : Number.NaN;
    const end =
      Number.isSafeInteger(length) &&
      start + length <= pdf.length &&
      text.startsWith('endstream', skipSpace(text, start + length))
        ? start + length
        : text.indexOf('endstream', start);
    if (end === -1) {
      yield { filters: ['(no endstream)'], data: Buffer.alloc(0) };
      continue;
    }
    object.lastIndex = end;
    yield { filters, data: pdf.subarray(start, end) };
  }
}

function skipSpace(text: string, at: number): number {
  let i = at;
  while (i < text.length && /\s/.test(text[i] as string)) i += 1;
  return i;
}

/**
 * Null when `pdf` may be pushed as a report; otherwise why not (the API answers 422 with it).
 * @example checkPdf(Buffer.from('%PDF-1.4\n... /OpenAction << /S /JavaScript /JS (app.alert(1)) >> ...%%EOF\n'))
 *   // { code: 'pdf_active_content', reason: 'the PDF carries /JavaScript ...' }
 */
export function checkPdf(pdf: Buffer): PdfRefusal | null {
  if (pdf.subarray(0, 5).toString('latin1') !== '%PDF-')
    return { code: 'not_a_pdf', reason: 'the file is not a PDF: it does not begin with %PDF-' };
  if (pdf.subarray(Math.max(0, pdf.length - EOF_WINDOW)).indexOf('%%EOF', 0, 'latin1') === -1)
    return {
      code: 'not_a_pdf',
      reason: `the file is not a whole PDF: no %%EOF within its last ${EOF_WINDOW} bytes`,
    };
  const active = (name: string, where: string): PdfRefusal => ({
    code: 'pdf_active_content',
    reason: `the PDF carries /${name}${where}: JavaScript, launch actions, embedded files, rich media and XFA forms are not accepted`,
  });
  const found = forbiddenIn(pdf);
  if (found) return active(found, '');
  let inflated = 0;
  for (const stream of objectStreams(pdf)) {
    if (stream.filters.length === 0) {
      const hidden = forbiddenIn(stream.data);
      if (hidden) return active(hidden, ' in an object stream');
      continue;
    }
    if (stream.filters.length !== 1 || stream.filters[0] !== 'FlateDecode')
      return {
        code: 'pdf_unreadable',
        reason: `the PDF has an object stream that cannot be checked (filter ${stream.filters.join(', ')})`,
      };
    let data: Buffer;
    try {
      data = inflateSync(stream.data, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: MAX_INFLATED_BYTES - inflated,
      });
    } catch {
      return {
        code: 'pdf_unreadable',
        reason:
          'the PDF has an object stream that cannot be checked (not readable with FlateDecode, or too large)',
      };
    }
    inflated += data.length;
    const hidden = forbiddenIn(data);
    if (hidden) return active(hidden, ' in an object stream');
  }
  return null;
}

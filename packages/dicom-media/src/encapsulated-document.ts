import { InvalidDicomError, parsePart10Meta } from './part10-meta.parser.js';

/** What an Encapsulated Document instance (PS3.3 C.24.2, e.g. Encapsulated PDF) carries. */
export interface EncapsulatedDocument {
  /** The document's bytes: Encapsulated Document (0042,0011), its trailing pad byte removed when it had one. */
  document: Uint8Array;
  /** MIME Type of Encapsulated Document (0042,0012), e.g. `application/pdf`; '' when absent. */
  mimeType: string;
}

const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
const TS_EXPLICIT_BE = '1.2.840.10008.1.2.2';
const TS_DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const ENCAPSULATED_DOCUMENT = 0x00420011;
const MIME_TYPE = 0x00420012;
const DOCUMENT_LENGTH = 0x00420015;
const MAX_DEPTH = 64;

/**
 * Reads the Encapsulated Document out of a whole PS3.10 file (implicit or explicit VR little endian,
 * explicit VR big endian), byte for byte. Its value length is even (PS3.5 7.1.1): a document of odd
 * length was written with one pad byte, which is removed only when Encapsulated Document Length
 * (0042,0015) says the document is one byte shorter than its value. Sequences (of defined or undefined
 * length) before it are skipped.
 * @throws InvalidDicomError when the file is not PS3.10, is deflated, or holds no Encapsulated Document.
 * @example readEncapsulatedDocument(fileBytes).document // the PDF, starting with %PDF-
 */
export function readEncapsulatedDocument(bytes: Uint8Array): EncapsulatedDocument {
  const meta = parsePart10Meta(bytes, true, { requireSopUids: false });
  if (!meta) throw new InvalidDicomError('no File Meta Information');
  const ts = meta.transferSyntaxUid;
  if (ts === TS_DEFLATED_LE) throw new InvalidDicomError('a deflated data set is not read here');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = ts !== TS_EXPLICIT_BE;
  const explicit = ts !== TS_IMPLICIT_LE;
  const need = (pos: number, n: number) => {
    if (pos + n > bytes.length) throw new InvalidDicomError('the file ends inside an element');
  };
  const u16 = (pos: number) => view.getUint16(pos, little);
  const u32 = (pos: number) => view.getUint32(pos, little);
  const tagAt = (pos: number) => ((u16(pos) << 16) | u16(pos + 2)) >>> 0;

  /** One element's header at pos: tag, VR ('' implicit), value length, where the value starts. */
  const header = (pos: number, isExplicit: boolean) => {
    need(pos, 8);
    const tag = tagAt(pos);
    if (tag === ITEM || tag === ITEM_END || tag === SEQUENCE_END)
      return { tag, vr: '', length: u32(pos + 4), valueAt: pos + 8 };
    if (!isExplicit) return { tag, vr: '', length: u32(pos + 4), valueAt: pos + 8 };
    const vr = String.fromCharCode(bytes[pos + 4] as number, bytes[pos + 5] as number);
    if (LONG_VRS.has(vr)) {
      need(pos, 12);
      return { tag, vr, length: u32(pos + 8), valueAt: pos + 12 };
    }
    return { tag, vr, length: u16(pos + 6), valueAt: pos + 8 };
  };

  /** Skips the items of an undefined-length sequence starting at pos; returns the position after its end. */
  const skipUndefined = (start: number, isExplicit: boolean, depth: number): number => {
    if (depth > MAX_DEPTH) throw new InvalidDicomError('sequences nested too deep');
    let pos = start;
    for (;;) {
      const h = header(pos, false);
      if (h.tag === SEQUENCE_END) return h.valueAt;
      if (h.tag !== ITEM) throw new InvalidDicomError('a sequence holds something other than items');
      if (h.length !== UNDEFINED) {
        pos = h.valueAt + h.length;
        continue;
      }
      // An item of undefined length: its elements until the item delimiter.
      pos = h.valueAt;
      for (;;) {
        const e = header(pos, isExplicit);
        if (e.tag === ITEM_END) {
          pos = e.valueAt;
          break;
        }
        pos =
          e.length === UNDEFINED
            ? skipUndefined(e.valueAt, e.vr === 'UN' ? false : isExplicit, depth + 1)
            : e.valueAt + e.length;
      }
    }
  };

  let pos = meta.metaLength;
  let found: { at: number; length: number } | null = null;
  let mimeType = '';
  let declared: number | null = null;
  while (pos < bytes.length) {
    const h = header(pos, explicit);
    if (h.length === UNDEFINED) {
      // A sequence (or an encapsulated value, which a document never is): skipped.
      pos = skipUndefined(h.valueAt, h.vr === 'UN' ? false : explicit, 0);
      continue;
    }
    need(h.valueAt, h.length);
    if (h.tag === ENCAPSULATED_DOCUMENT) found = { at: h.valueAt, length: h.length };
    else if (h.tag === MIME_TYPE)
      mimeType = String.fromCharCode(...bytes.subarray(h.valueAt, h.valueAt + Math.min(h.length, 64)))
        .replace(/[\0 ]+$/, '')
        .trim();
    else if (h.tag === DOCUMENT_LENGTH && h.length === 4) declared = u32(h.valueAt);
    pos = h.valueAt + h.length;
    if (h.tag > DOCUMENT_LENGTH && found) break;
  }
  if (!found) throw new InvalidDicomError('no Encapsulated Document (0042,0011)');
  const length = declared !== null && declared === found.length - 1 ? declared : found.length;
  return { document: bytes.subarray(found.at, found.at + length), mimeType };
}

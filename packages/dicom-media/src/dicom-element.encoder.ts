/**
 * Data elements in Explicit VR Little Endian (PS3.5 7.1.2), the encoding of File Meta and DICOMDIR.
 * Written straight into preallocated buffers: a DICOMDIR of 100,000 instances is about a million elements.
 */

export type Vr = 'CS' | 'DA' | 'IS' | 'LO' | 'OB' | 'PN' | 'SH' | 'SQ' | 'TM' | 'UI' | 'UL' | 'US';

/** Where a string value goes: `(group << 16) | element` (e.g. `0x00041430`) and its VR. */
export interface FieldSpec {
  readonly tag: number;
  readonly vr: Vr;
}

const SPACE = 0x20;
const NUL = 0x00;

/** Length of the tag, VR and length fields: OB and SQ (of the VRs used here) have a 32-bit length. */
export function headerLength(vr: Vr): number {
  return vr === 'OB' || vr === 'SQ' ? 12 : 8;
}

/** Writes a tag, an explicit VR and a value length; returns the position after them. */
export function writeHeader(target: Buffer, pos: number, tag: number, vr: Vr, length: number): number {
  target.writeUInt16LE(tag >>> 16, pos);
  target.writeUInt16LE(tag & 0xffff, pos + 2);
  target[pos + 4] = vr.charCodeAt(0);
  target[pos + 5] = vr.charCodeAt(1);
  if (headerLength(vr) === 12) {
    target.writeUInt16LE(0, pos + 6);
    target.writeUInt32LE(length, pos + 8);
    return pos + 12;
  }
  if (length > 0xffff) throw new RangeError(`value of ${vr} element too long: ${length} bytes`);
  target.writeUInt16LE(length, pos + 6);
  return pos + 8;
}

export function writeUl(target: Buffer, pos: number, tag: number, value: number): number {
  target.writeUInt32LE(value, writeHeader(target, pos, tag, 'UL', 4));
  return pos + 12;
}

export function writeUs(target: Buffer, pos: number, tag: number, value: number): number {
  target.writeUInt16LE(value, writeHeader(target, pos, tag, 'US', 2));
  return pos + 10;
}

/**
 * Bytes of a text value before padding. `utf8: false` promises the text is ASCII, so a character is a
 * byte and no encoder call is needed.
 */
export function textByteLength(text: string, utf8: boolean): number {
  return utf8 ? Buffer.byteLength(text, 'utf8') : text.length;
}

/** Whole element length: header plus the value padded to even length. */
export function textElementLength(vr: Vr, text: string, utf8: boolean): number {
  const length = textByteLength(text, utf8);
  return headerLength(vr) + length + (length & 1);
}

/**
 * Writes a string element; PS3.5 6.2 pads UIDs with NUL and other text with a space to an even length.
 * Returns the position after it.
 */
export function writeText(
  target: Buffer,
  pos: number,
  field: FieldSpec,
  text: string,
  utf8: boolean,
): number {
  const length = textByteLength(text, utf8);
  const valueAt = writeHeader(target, pos, field.tag, field.vr, length + (length & 1));
  // latin1 writes one byte per character, which for ASCII text is its encoding.
  target.write(text, valueAt, length, utf8 ? 'utf8' : 'latin1');
  if (length & 1) target[valueAt + length] = field.vr === 'UI' ? NUL : SPACE;
  return valueAt + length + (length & 1);
}

/** Encodes ASCII string elements one after another into a new buffer. */
export function encodeTextFields(fields: readonly (readonly [FieldSpec, string])[]): Buffer {
  let length = 0;
  for (const [field, text] of fields) length += textElementLength(field.vr, text, false);
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  for (const [field, text] of fields) pos = writeText(out, pos, field, text, false);
  return out;
}

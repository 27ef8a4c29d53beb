/** What a DICOMDIR record needs to know about one PS3.10 file, read from its File Meta Information. */
export interface Part10Meta {
  /** Transfer Syntax UID (0002,0010) of the data set that follows the meta group. */
  transferSyntaxUid: string;
  /** Media Storage SOP Class UID (0002,0002). */
  sopClassUid: string;
  /** Media Storage SOP Instance UID (0002,0003). */
  sopInstanceUid: string;
  /** Bytes from the first byte of the file to the first byte of the data set (preamble + `DICM` + group 0002). */
  metaLength: number;
}

/** The bytes are not a DICOM PS3.10 file (no preamble and `DICM`, or a malformed File Meta Information). */
export class InvalidDicomError extends Error {
  override name = 'InvalidDicomError';
}

const PREAMBLE_LENGTH = 128;
const DATA_AFTER_PREFIX = PREAMBLE_LENGTH + 4;
const DICM = [0x44, 0x49, 0x43, 0x4d];

/**
 * Real meta groups are a few hundred bytes. The cap keeps a garbage group length (or a stream that never
 * leaves group 0002) from making a caller buffer without bound.
 */
export const MAX_META_LENGTH = 1024 * 1024;

// PS3.5 7.1.2: these explicit VRs have two reserved bytes and a 32-bit length; all others a 16-bit length.
const LONG_LENGTH_VRS = new Set([
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'SQ',
  'SV',
  'UC',
  'UN',
  'UR',
  'UT',
  'UV',
]);

const SOP_CLASS = 0x0002;
const SOP_INSTANCE = 0x0003;
const TRANSFER_SYNTAX = 0x0010;

/**
 * Reads the File Meta Information of a DICOM PS3.10 file; `null` while more bytes are needed.
 * @example readPart10Meta(firstChunk) // → { transferSyntaxUid: '1.2.840.10008.1.2.1', sopClassUid, sopInstanceUid, metaLength: 332 }
 * @throws InvalidDicomError when the bytes cannot be the start of a PS3.10 file.
 */
export function readPart10Meta(bytes: Uint8Array): Part10Meta | null {
  return parsePart10Meta(bytes, false);
}

/**
 * `atEnd` says no more bytes will come: a meta group without a group length then ends with the input
 * instead of at the first element outside group 0002.
 */
export function parsePart10Meta(
  bytes: Uint8Array,
  atEnd: boolean,
  { requireSopUids = true }: { requireSopUids?: boolean } = {},
): Part10Meta | null {
  const prefixBytes = Math.min(bytes.length, DATA_AFTER_PREFIX) - PREAMBLE_LENGTH;
  for (let i = 0; i < prefixBytes; i++) {
    if (bytes[PREAMBLE_LENGTH + i] !== DICM[i]) {
      throw new InvalidDicomError('not a DICOM PS3.10 file: no "DICM" after the 128-byte preamble');
    }
  }
  if (bytes.length < DATA_AFTER_PREFIX) return atEnd ? truncated() : null;

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Map<number, string>();
  // Group length (0002,0000) is type 1, but files without it exist; then the group ends at the first
  // element of another group.
  let groupEnd: number | null = null;
  let pos = DATA_AFTER_PREFIX;
  while (groupEnd === null || pos < groupEnd) {
    if (pos > MAX_META_LENGTH)
      throw new InvalidDicomError(`File Meta Information longer than ${MAX_META_LENGTH} bytes`);
    if (groupEnd === null && pos === bytes.length && atEnd && pos > DATA_AFTER_PREFIX) break;
    if (pos + 4 > bytes.length) return atEnd ? truncated() : null;
    const group = view.getUint16(pos, true);
    const element = view.getUint16(pos + 2, true);
    if (group !== 0x0002) {
      if (groupEnd === null && pos > DATA_AFTER_PREFIX) break;
      throw new InvalidDicomError(
        `File Meta Information: expected group 0002, found ${tagText(group, element)}`,
      );
    }
    if (pos + 8 > bytes.length) return atEnd ? truncated() : null;
    const vr = String.fromCharCode(view.getUint8(pos + 4), view.getUint8(pos + 5));
    if (!/^[A-Z]{2}$/.test(vr)) {
      throw new InvalidDicomError(`File Meta Information is not explicit VR: ${tagText(group, element)}`);
    }
    let valueStart = pos + 8;
    let valueLength = view.getUint16(pos + 6, true);
    if (LONG_LENGTH_VRS.has(vr)) {
      if (pos + 12 > bytes.length) return atEnd ? truncated() : null;
      valueStart = pos + 12;
      valueLength = view.getUint32(pos + 8, true);
    }
    const valueEnd = valueStart + valueLength;
    if (valueLength === 0xffffffff || valueEnd > MAX_META_LENGTH) {
      throw new InvalidDicomError(
        `File Meta Information element ${tagText(group, element)} has an unusable length`,
      );
    }
    if (groupEnd !== null && valueEnd > groupEnd) {
      throw new InvalidDicomError('File Meta Information element runs past the group length (0002,0000)');
    }
    if (valueEnd > bytes.length) return atEnd ? truncated() : null;
    if (element === 0x0000) {
      if (pos !== DATA_AFTER_PREFIX || vr !== 'UL' || valueLength !== 4) {
        throw new InvalidDicomError('File Meta Information group length (0002,0000) is malformed');
      }
      groupEnd = valueEnd + view.getUint32(valueStart, true);
      if (groupEnd > MAX_META_LENGTH) {
        throw new InvalidDicomError(`File Meta Information longer than ${MAX_META_LENGTH} bytes`);
      }
    } else if (element === SOP_CLASS || element === SOP_INSTANCE || element === TRANSFER_SYNTAX) {
      values.set(element, uidText(bytes.subarray(valueStart, valueEnd)));
    }
    pos = valueEnd;
  }

  return {
    transferSyntaxUid: required(values, TRANSFER_SYNTAX, 'Transfer Syntax UID (0002,0010)'),
    // A reader of the whole header can take these from the data set's (0008,0016) and (0008,0018).
    sopClassUid: requireSopUids
      ? required(values, SOP_CLASS, 'Media Storage SOP Class UID (0002,0002)')
      : (values.get(SOP_CLASS) ?? ''),
    sopInstanceUid: requireSopUids
      ? required(values, SOP_INSTANCE, 'Media Storage SOP Instance UID (0002,0003)')
      : (values.get(SOP_INSTANCE) ?? ''),
    metaLength: pos,
  };
}

function truncated(): never {
  throw new InvalidDicomError('input ended inside the DICOM File Meta Information');
}

function required(values: Map<number, string>, element: number, name: string): string {
  const value = values.get(element);
  if (!value) throw new InvalidDicomError(`File Meta Information has no ${name}`);
  return value;
}

// UIDs are padded to an even length with NUL (some writers use a space); neither belongs to the value.
function uidText(value: Uint8Array): string {
  let end = value.length;
  while (end > 0 && (value[end - 1] === 0x00 || value[end - 1] === 0x20)) end--;
  return Buffer.from(value.buffer, value.byteOffset, end).toString('latin1');
}

function tagText(group: number, element: number): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0').toUpperCase();
  return `(${hex(group)},${hex(element)})`;
}

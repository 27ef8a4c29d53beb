// dicom-character-set@1 ships no types. Only the function instance-header.parser.ts uses is declared.
declare module 'dicom-character-set' {
  /**
   * Decodes the bytes of one text value under a Specific Character Set (0008,0005) value, code
   * extensions (ISO 2022 escape sequences) included; `vr` tells which delimiters reset the active set.
   */
  export function convertBytes(
    specificCharacterSet: string | undefined,
    bytes: Uint8Array,
    options?: { vr?: string },
  ): string;
}

/** How the viewer gets pixels for an instance of a transfer syntax. */
export type DecodePath = 'browser' | 'rendered';

/**
 * Transfer syntaxes whose frames the viewer decodes itself (dicom-image-loader and its WebAssembly
 * codecs), by UID. The frames come from the gateway as stored (`transfer-syntax=*`).
 */
export const BROWSER_DECODED: Readonly<Record<string, string>> = Object.freeze({
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
});

/**
 * Where an instance's pixels come from: decoded in the browser when its syntax is one of
 * BROWSER_DECODED, else the store's rendered frames (`.../frames/N/rendered`, a PNG). A frame the
 * browser fails to decode falls back to rendered too, at run time.
 * @example decodePathFor('1.2.840.10008.1.2.4.100') // 'rendered' (MPEG-2: a video, not frames)
 */
export function decodePathFor(transferSyntaxUid: string | undefined): DecodePath {
  if (transferSyntaxUid === undefined || transferSyntaxUid === '') return 'browser';
  return transferSyntaxUid in BROWSER_DECODED ? 'browser' : 'rendered';
}

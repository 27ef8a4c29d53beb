import { imageLoader, metaData, type Types } from '@cornerstonejs/core';
import { wadouri } from '@cornerstonejs/dicom-image-loader';
import type { GatewayClient } from './gateway.client.js';

const SCHEME = 'instance';
const files = new Map<string, Promise<string>>();
const inner = new Map<string, string>();

/**
 * The image id of one frame of an instance fetched whole, as stored (`.../instances/{uid}`), and
 * parsed in the browser: for stores that cannot cut frames out of some files (Orthanc answers 500
 * for big endian and deflated ones) while the browser can read the file itself.
 */
export function instanceImageId(instancePath: string, frame: number, frames: number): string {
  return `${SCHEME}:${instancePath}${frames > 1 ? `#${frame}` : ''}`;
}

/**
 * The first body part of a multipart/related answer (RFC 2046).
 * @example firstPart(bytes, 'multipart/related; type="application/dicom"; boundary=abc')
 */
export function firstPart(bytes: Uint8Array, contentType: string): Uint8Array {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType);
  if (!m) throw new Error('no multipart boundary');
  const enc = new TextEncoder();
  const start = indexOf(bytes, enc.encode(`--${m[2]}`), 0);
  if (start < 0) throw new Error('no first part');
  const headersEnd = indexOf(bytes, enc.encode('\r\n\r\n'), start);
  if (headersEnd < 0) throw new Error('no part headers');
  const next = indexOf(bytes, enc.encode(`\r\n--${m[2]}`), headersEnd + 4);
  if (next < 0) throw new Error('truncated multipart answer');
  return bytes.subarray(headersEnd + 4, next);
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0] as number;
  outer: for (let i = haystack.indexOf(first, from); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Registers the `instance:` image loader; its metadata comes from the parsed file (wadouri's provider). */
export function registerInstanceLoader(gateway: GatewayClient): void {
  imageLoader.registerImageLoader(SCHEME, (imageId: string) => ({
    promise: loadInstanceFrame(gateway, imageId) as Promise<never>,
  }));
  // The parsed file's own attributes, for `dicomfile:` ids (dicom-image-loader's dataset provider;
  // the wadors ids keep theirs), and `instance:` ids mapped onto them.
  metaData.addProvider(wadouri.metaData.metaDataProvider as never, 100);
  metaData.addProvider((type: string, imageId: string) => {
    const id = imageId?.startsWith(`${SCHEME}:`) ? inner.get(imageId) : undefined;
    return id ? metaData.get(type, id) : undefined;
  }, 9_000);
}

async function loadInstanceFrame(gateway: GatewayClient, imageId: string): Promise<Types.IImage> {
  const [path, frame] = imageId.slice(SCHEME.length + 1).split('#') as [string, string | undefined];
  let file = files.get(path);
  if (!file) {
    file = (async () => {
      const res = await gateway.fetch(path, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      const bytes = firstPart(new Uint8Array(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
      return wadouri.fileManager.add(new Blob([bytes as BlobPart]) as File);
    })();
    files.set(path, file);
    file.catch(() => files.delete(path));
  }
  const id = `${await file}${frame ? `?frame=${frame}` : ''}`;
  inner.set(imageId, id);
  const image = (await wadouri.loadImage(id).promise) as Types.IImage;
  return { ...image, imageId } as Types.IImage;
}

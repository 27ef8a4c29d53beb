import { imageLoader, metaData, type Types, utilities } from '@cornerstonejs/core';
import type { GatewayClient } from './gateway.client.js';
import type { DicomJson } from './study.model.js';

const SCHEME = 'rendered';
const modalities = new Map<string, string>();

/**
 * The image id of a frame the store renders for us (`.../frames/N/rendered`, a PNG): for transfer
 * syntaxes the browser cannot decode, and frames it failed to.
 */
export function renderedImageId(framePath: string, metadata: DicomJson): string {
  const id = `${SCHEME}:${framePath}/rendered`;
  const modality = metadata['00080060']?.Value?.[0];
  modalities.set(id, typeof modality === 'string' ? modality : 'OT');
  return id;
}

const planes = new Map<string, { rows: number; columns: number }>();

/** Registers the `rendered:` image loader (fetching through the gateway, bearer and all) and its metadata. */
export function registerRenderedLoader(gateway: GatewayClient): void {
  imageLoader.registerImageLoader(SCHEME, (imageId: string) => ({
    promise: loadRendered(gateway, imageId) as Promise<never>,
  }));
  metaData.addProvider((type: string, imageId: string) => {
    if (!imageId?.startsWith(`${SCHEME}:`)) return undefined;
    const p = planes.get(imageId);
    if (type === 'generalSeriesModule') return { modality: modalities.get(imageId) ?? 'OT' };
    if (type === 'imagePlaneModule' && p)
      return {
        rows: p.rows,
        columns: p.columns,
        rowPixelSpacing: 1,
        columnPixelSpacing: 1,
        pixelSpacing: [1, 1],
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
        rowCosines: [1, 0, 0],
        columnCosines: [0, 1, 0],
        imagePositionPatient: [0, 0, 0],
        frameOfReferenceUID: 'rendered',
      };
    if (type === 'imagePixelModule' && p)
      return {
        samplesPerPixel: 1,
        photometricInterpretation: 'MONOCHROME2',
        rows: p.rows,
        columns: p.columns,
        bitsAllocated: 8,
        bitsStored: 8,
        highBit: 7,
        pixelRepresentation: 0,
      };
    if (type === 'voiLutModule') return { windowCenter: [127.5], windowWidth: [256] };
    if (type === 'modalityLutModule') return { rescaleSlope: 1, rescaleIntercept: 0 };
    return undefined;
  }, 10_000);
}

async function loadRendered(gateway: GatewayClient, imageId: string): Promise<Types.IImage> {
  const path = imageId.slice(SCHEME.length + 1);
  const res = await gateway.fetch(path, 'image/png');
  const bitmap = await createImageBitmap(await res.blob());
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  // The store renders grey images as grey PNGs: keep one channel (luminance for colour ones).
  const pixels = new Uint8Array(width * height);
  let min = 255;
  let max = 0;
  for (let i = 0, j = 0; j < pixels.length; i += 4, j++) {
    const v = Math.round(
      0.299 * (rgba[i] as number) + 0.587 * (rgba[i + 1] as number) + 0.114 * (rgba[i + 2] as number),
    );
    pixels[j] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  planes.set(imageId, { rows: height, columns: width });
  const voxelManager = utilities.VoxelManager.createImageVoxelManager({
    width,
    height,
    scalarData: pixels,
    numberOfComponents: 1,
  });
  return {
    imageId,
    rows: height,
    columns: width,
    height,
    width,
    color: false,
    rgba: false,
    numberOfComponents: 1,
    minPixelValue: min,
    maxPixelValue: max,
    slope: 1,
    intercept: 0,
    windowCenter: 127.5,
    windowWidth: 256,
    invert: false,
    getPixelData: () => pixels,
    voxelManager,
    sizeInBytes: pixels.byteLength,
    rowPixelSpacing: 1,
    columnPixelSpacing: 1,
    dataType: 'Uint8Array',
    photometricInterpretation: 'MONOCHROME2',
  } as unknown as Types.IImage;
}

import { z } from 'zod';
import { studyUidSchema } from './paths.contract.js';

/**
 * A study's fixed zip layout as the services exchange it (made by @studylink/dicom-media's
 * buildZipLayout): the token service keeps it, the export service reads it for every download.
 */
const readmeValuesSchema = z.object({
  patientName: z.string(),
  studyDate: z.string(),
  studyDescription: z.string(),
  instanceCount: z.number().int().min(0),
  seriesCount: z.number().int().min(0),
});

export const zipLayoutSchema = z.object({
  // 2 (issue 20): the layout knows its report objects (`held`). A stored layout of version 1 is
  // made again (the export service reports it stale).
  version: z.literal(2),
  studyInstanceUid: studyUidSchema,
  zipContent: z.enum(['as-stored', 'jpeg-lossless']),
  transferSyntax: z.string().max(64),
  date: z.string().max(32),
  dicomdir: z.string(),
  readme: readmeValuesSchema,
  instances: z.array(
    z.tuple([
      z.string().max(64),
      z.string().max(64),
      z.number().int().min(0),
      z.number().int().min(0).max(0xffffffff),
    ]),
  ),
  /**
   * The zip of a link whose report is held back: without the study's report objects (SR,
   * encapsulated PDF; see report.contract.ts), its instances as indices into `instances`. Null:
   * the study holds none.
   */
  held: z
    .object({
      date: z.string().max(32),
      dicomdir: z.string(),
      readme: readmeValuesSchema,
      instances: z.array(z.number().int().min(0)),
    })
    .nullable(),
});
export type ZipLayoutBody = z.infer<typeof zipLayoutSchema>;

/** `GET` a layout by its id, `PUT` one the export service made while streaming. */
export const INTERNAL_ZIP_LAYOUTS_PATH = '/internal/v1/zip-layouts';
/** `POST {id}`: the export service found the store's study differs from this layout. */
export const INTERNAL_ZIP_LAYOUT_STALE_PATH = '/internal/v1/zip-layouts/stale';

export const LAYOUT_ID_PATTERN = /^[0-9a-f]{64}$/;
export const staleLayoutSchema = z.object({ id: z.string().regex(LAYOUT_ID_PATTERN) }).strict();

/**
 * The strong ETag of a study zip: its layout's id and a digest of its README (which follows the
 * patient's language), so the token service can tell which layout a resumed download is of.
 * @example zipEtag('3f1c…', 'ab12…') // '"3f1c….ab12…"'
 */
export function zipEtag(layoutId: string, readmeDigest: string): string {
  return `"${layoutId}.${readmeDigest.slice(0, 16)}"`;
}

/**
 * The layout id an ETag names, or null for anything else (a weak or foreign ETag).
 * @example layoutIdOfEtag('"3f1c….ab12…"') // '3f1c…'
 */
export function layoutIdOfEtag(etag: string | null | undefined): string | null {
  const m = /^"([0-9a-f]{64})\.[0-9a-f]{16}"$/.exec(etag ?? '');
  return m ? (m[1] as string) : null;
}

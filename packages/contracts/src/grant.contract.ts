import { z } from 'zod';
import { studyUidSchema } from './paths.contract.js';

/**
 * What the export service sends before every download: the token as presented (null when it is not
 * token-shaped, which is never forwarded) and who presented it, so that an unknown token counts
 * against that client's invalid-token allowance like one on the patient page.
 */
export const grantRequestSchema = z
  .object({
    token: z.string().max(128).nullable(),
    client: z
      .object({ ip: z.string().max(64), userAgent: z.string().max(2000) })
      .strict()
      .optional(),
  })
  .strict();
export type GrantRequest = z.infer<typeof grantRequestSchema>;

/** What the token service answers: the one study the token grants, and how to pack it. */
export const grantSchema = z.object({
  tokenId: z.number().int().positive(),
  studyInstanceUid: studyUidSchema,
  zipContent: z.enum(['as-stored', 'jpeg-lossless']),
  institution: z.string(),
  viewerUrl: z.string(),
  study: z.object({
    patientName: z.string(),
    studyDate: z.string(),
    description: z.string(),
    modalities: z.array(z.string()),
  }),
});
export type Grant = z.infer<typeof grantSchema>;

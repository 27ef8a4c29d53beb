import { z } from 'zod';

/**
 * Who sent a patient's link, as every patient-facing page names them (issue 20): the setup's
 * institution (and department), its logo (a same-origin path) and how to reach it. The token service
 * builds it from its setup; the export service reads it from the token service's internal listener
 * for its own patient pages (the zip's and the report's refusals).
 */
export const patientSenderSchema = z
  .object({
    institution: z.string().max(200),
    department: z.string().max(200),
    /** Same-origin path of the logo (PNG/JPEG), or null. */
    logoUrl: z.string().max(200).nullable(),
    phone: z.string().max(64),
    email: z.string().max(254),
  })
  .strict();
export type PatientSender = z.infer<typeof patientSenderSchema>;

/** GET: the PatientSender of the token service's setup, on its internal listener. */
export const INTERNAL_SENDER_PATH = '/internal/v1/sender';

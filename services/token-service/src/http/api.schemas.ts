import { studyUidSchema } from '@studylink/contracts';
import { LANGUAGES } from '@studylink/i18n';
import { z } from 'zod';
import { ACCESS_EVENTS } from '../access-log/access-log.repository.js';
import { emailAddressSchema, phoneNumberSchema } from '../deliveries/recipient.js';
import { serverConfigSchema, serverConfigUpdateSchema } from '../server-config/server-config.schema.js';

/** DICOM UID: digits and dots, at most 64 characters (the contract both services share). */
export { studyUidSchema };

export const verificationSchema = z.enum(['none', 'birth-date', 'pin']);

export const studyParamsSchema = z.object({ studyInstanceUid: studyUidSchema });

export const issueTokenBodySchema = z
  .object({
    expiresAt: z.iso
      .datetime({ offset: true })
      // A link that is dead on arrival is a client mistake, not a link.
      .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
      .nullable()
      .optional()
      .describe('When the link stops working (in the future); null for never.'),
    expiresInDays: z.number().int().min(1).max(36500).optional().describe('Alternative to expiresAt.'),
    verification: verificationSchema
      .optional()
      .describe(
        "The second factor the patient gives before seeing anything: the patient's birth date, a PIN (returned as `pin`), or none. Default: the server setup's defaultVerification.",
      ),
    maxDownloads: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .nullable()
      .optional()
      .describe('Completed zip downloads the link allows; null (the default) for no limit.'),
    allowDownload: z
      .boolean()
      .optional()
      .describe(
        'false makes a view-only link: the page and the viewer work, the zip is refused. Default true.',
      ),
    includeReport: z
      .boolean()
      .nullable()
      .optional()
      .describe(
        "Whether the link shows the study's reports (SR, encapsulated PDF, the PDF pushed with PUT .../report) on the page, in the viewer and in the zip: false holds them back (until the doctor has spoken to the patient), true shows them, null follows the setup's reportsOnPage (the default). On a study that has a link, it is changed in place.",
      ),
  })
  .strict()
  .refine(
    (b) => !(b.expiresAt !== undefined && b.expiresInDays !== undefined),
    'give expiresAt or expiresInDays, not both',
  );

export const deliveryRequestSchema = z
  .object({
    email: emailAddressSchema.optional().describe("The patient's e-mail address: the link goes there."),
    phone: phoneNumberSchema
      .optional()
      .describe(
        "The patient's mobile number (E.164). With an email too, the PIN of a PIN link goes here, apart from the link; alone, the link goes here.",
      ),
    language: z
      .enum(LANGUAGES)
      .optional()
      .describe("The messages' language; default the setup's defaultLanguage."),
  })
  .strict()
  .refine((b) => b.email !== undefined || b.phone !== undefined, 'give an email, a phone, or both');

export const deliverySchema = z.object({
  id: z.number().int(),
  channel: z.enum(['email', 'sms']),
  content: z
    .enum(['link', 'pin'])
    .describe('What the message carries: the link, or the PIN of a link sent by e-mail.'),
  to: z.string().describe('The address or number, masked.'),
  status: z.enum(['queued', 'sent', 'failed']).describe('queued: waiting or being retried (see error).'),
  at: z.string().describe('When it was sent; otherwise when it was asked for.'),
  attempts: z.number().int().min(0),
  error: z.string().optional().describe('The last failure (addresses masked).'),
});

export const deliveryResponseSchema = z.object({
  deliveries: z.array(deliverySchema),
  pin: z
    .enum(['sms', 'not_sent', 'no_pin'])
    .describe(
      'Where the PIN of a PIN link went: by SMS apart from the e-mailed link; not_sent (one channel given: give the PIN to the patient in person); no_pin (the link has none). The PIN never travels with the link.',
    ),
});

export const tokenResponseSchema = z.object({
  studyInstanceUid: z.string(),
  token: z.string().regex(/^[A-Za-z0-9]{64}$/),
  url: z.string().describe('The fully qualified link to send to the patient.'),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  verification: verificationSchema,
  pin: z
    .string()
    .regex(/^[0-9]{6,}$/)
    .optional()
    .describe(
      'PIN links only: the PIN to give the patient (apart from the link). Each answer with it is logged.',
    ),
  maxDownloads: z.number().int().min(1).nullable(),
  allowDownload: z.boolean(),
  includeReport: z
    .boolean()
    .nullable()
    .describe("Whether the link shows the study's reports; null: it follows the setup's reportsOnPage."),
  downloadsUsed: z.number().int().min(0).describe('Completed downloads so far; aborted ones do not count.'),
  locked: z.boolean().describe('Wrong birth dates or PINs locked the link (see lockedUntil).'),
  lockedUntil: z
    .string()
    .nullable()
    .describe(
      'End of a short lock; null with locked true: locked until staff unlock it (POST .../token/unlock).',
    ),
  deliveries: z
    .array(deliverySchema)
    .optional()
    .describe('GET: the link sent to the patient by e-mail or SMS.'),
  children: z
    .array(
      z.object({
        id: z.number().int(),
        createdAt: z.string(),
        expiresAt: z.string().nullable(),
        revokedAt: z.string().nullable(),
        allowDownload: z.boolean(),
        openedAt: z.string().nullable().describe('When a browser last opened it; null: never.'),
        active: z.boolean(),
      }),
    )
    .optional()
    .describe(
      'GET: links the patient shared onward with a doctor (newest first). They end with this link: revoking or replacing it, or its expiry, ends every child at once.',
    ),
});

export const reportResponseSchema = z.object({
  studyInstanceUid: z.string(),
  bytes: z.number().int().min(1).describe("The PDF's size."),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe('Hex SHA-256 of the PDF as kept (and as served).'),
  uploadedAt: z.string(),
  uploadedBy: z.string().describe('The API key that pushed it, as the access log names it.'),
});

export const accessLogQuerySchema = z
  .object({
    study: studyUidSchema.optional(),
    event: z.enum(ACCESS_EVENTS).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    before: z.coerce
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Cursor: the nextCursor of the previous page.'),
  })
  .strict();

export const accessLogEntrySchema = z.object({
  id: z.number(),
  at: z.string(),
  event: z.enum(ACCESS_EVENTS),
  outcome: z.string(),
  tokenId: z.number().nullable(),
  studyInstanceUid: z.string().nullable(),
  clientIp: z.string().nullable(),
  userAgent: z.string().nullable(),
  actor: z.string().nullable(),
  bytes: z.number().nullable(),
  detail: z.unknown().nullable(),
});

export const accessLogPageSchema = z.object({
  items: z.array(accessLogEntrySchema),
  nextCursor: z.number().nullable(),
});

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export { serverConfigSchema, serverConfigUpdateSchema };

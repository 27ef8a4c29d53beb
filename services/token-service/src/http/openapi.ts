import { z } from 'zod';
import {
  accessLogPageSchema,
  accessLogQuerySchema,
  deliveryRequestSchema,
  deliveryResponseSchema,
  errorSchema,
  issueTokenBodySchema,
  reportResponseSchema,
  serverConfigSchema,
  serverConfigUpdateSchema,
  studyUidSchema,
  tokenResponseSchema,
} from './api.schemas.js';

type Schema = z.ZodType;

const json = (schema: Schema, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' });

const content = (schema: Schema, io: 'input' | 'output' = 'output') => ({
  'application/json': { schema: json(schema, io) },
});

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [String(c), { description: ERROR_TEXT[c], content: content(errorSchema) }]),
  );

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input (bad UID, body or query).',
  401: 'Missing or unknown API key.',
  403: 'The key lacks the scope this needs (see the operation’s security).',
  404: 'Not found.',
  413: 'The request body is too large (a JSON body: at most 64 kB; a logo: at most 200 kB; a report: at most 20 MB).',
  415: 'The body is not of a type this operation takes.',
  409: 'The active token cannot be shown again (its key is gone: token_not_displayable), or it has other verification, maxDownloads or allowDownload than asked for (token_settings_conflict).',
  422: 'verification "birth-date" for a study whose Patient\'s Birth Date is empty (birth_date_missing); a report that is not a PDF or carries active content (not_a_pdf, pdf_active_content, pdf_unreadable).',
  503: 'The database or the DICOMweb store is not answering; retry after Retry-After seconds.',
};

const studyParam = {
  name: 'studyInstanceUid',
  in: 'path',
  required: true,
  schema: json(studyUidSchema, 'input'),
};

function queryParams(schema: z.ZodObject) {
  return Object.entries(schema.shape).map(([name, s]) => ({
    name,
    in: 'query',
    required: false,
    schema: json(s as Schema, 'input'),
  }));
}

/**
 * Which key scopes may call an operation (OpenAPI 3.1 lets a bearer requirement list roles): any
 * one of them, admin always included.
 */
const scopes = (...needed: string[]) => ({
  security: [...needed, 'admin'].map((s) => ({ apiKey: [s] })),
  'x-required-scopes': [...needed, 'admin'],
});

let cached: object | undefined;

/** The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with. */
export function openApiDocument(): object {
  cached ??= {
    openapi: '3.1.0',
    info: {
      title: 'Study link API',
      version: '1.0.0',
      description:
        'Issue and revoke the secret links through which patients download their imaging study. ' +
        'Authenticate with `Authorization: Bearer <API key>`. Each key has scopes: `tokens` (issue, show ' +
        'and revoke links: what PACS/RIS integrators get), `audit` (read the access log and the setup) and ' +
        '`admin` (everything, changing the setup included; ADMIN_API_KEY is admin). Each operation lists the ' +
        'scopes that may call it; another key gets 403.',
    },
    servers: [{ url: '/api/v1' }],
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    security: [{ apiKey: [] }],
    paths: {
      '/studies/{studyInstanceUid}/token': {
        parameters: [studyParam],
        put: {
          summary: "The study's active token, made if there is none",
          ...scopes('tokens'),
          requestBody: { required: false, content: content(issueTokenBodySchema, 'input') },
          responses: {
            '200': { description: 'The existing active token.', content: content(tokenResponseSchema) },
            '201': { description: 'A new token was made.', content: content(tokenResponseSchema) },
            ...errors(400, 401, 403, 404, 409, 413, 422, 503),
          },
        },
        get: {
          summary: "The study's active token",
          ...scopes('tokens'),
          responses: {
            '200': { description: 'The active token.', content: content(tokenResponseSchema) },
            ...errors(400, 401, 403, 404, 409, 503),
          },
        },
        delete: {
          summary: 'Revoke the active token; page and download refuse it at once',
          ...scopes('tokens'),
          responses: { '204': { description: 'Revoked.' }, ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/studies/{studyInstanceUid}/report': {
        parameters: [studyParam],
        put: {
          summary: "Push the study's report (a PDF from the RIS), replacing an earlier one",
          description:
            'The body is the PDF itself (`Content-Type: application/pdf`, no Content-Encoding), at most 20 MB ' +
            '(20971520 bytes; 413 beyond). It must begin with `%PDF-` and end with `%%EOF` (within its last 1024 ' +
            'bytes), and carry nothing a PDF reader would run or unpack: JavaScript (/JavaScript, /JS), /Launch ' +
            'actions, embedded files (/EmbeddedFile, /EmbeddedFiles), /RichMedia or XFA forms (/XFA), looked for ' +
            'in the file and inside its FlateDecode object streams; otherwise 422 with `not_a_pdf`, ' +
            '`pdf_active_content` or `pdf_unreadable` (an object stream that cannot be checked) and the reason. ' +
            'A link shows it (on the page, in the viewer, as REPORT.PDF in the zip) when its includeReport, else ' +
            "the setup's reportsOnPage, says so.",
          ...scopes('tokens'),
          requestBody: {
            required: true,
            content: {
              'application/pdf': { schema: { type: 'string', format: 'binary', maxLength: 20971520 } },
            },
          },
          responses: {
            '200': { description: 'An earlier report was replaced.', content: content(reportResponseSchema) },
            '201': { description: 'The report was kept.', content: content(reportResponseSchema) },
            ...errors(400, 401, 403, 404, 413, 415, 422, 503),
          },
        },
        get: {
          summary: "The study's pushed report, as pushed",
          ...scopes('tokens'),
          responses: {
            '200': {
              description: 'The PDF.',
              content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
            },
            ...errors(400, 401, 403, 404, 503),
          },
        },
        delete: {
          summary: "Delete the study's pushed report; links show it no longer",
          ...scopes('tokens'),
          responses: { '204': { description: 'Deleted.' }, ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/studies/{studyInstanceUid}/token/deliveries': {
        parameters: [studyParam],
        post: {
          summary: 'Send the active link to the patient by e-mail and/or SMS',
          description:
            'Queues the messages and answers at once; GET .../token lists them with their status. The PIN of a PIN ' +
            'link never travels with the link: given both, the link goes by e-mail and the PIN by SMS; given one, ' +
            'the PIN is not sent (`pin: "not_sent"`: give it in person). No message names the patient or the study. ' +
            'A channel whose variables are not set is a 409 naming them (SMTP_URL, MAIL_FROM; SMS_ACCOUNT_SID, ' +
            'SMS_AUTH_TOKEN, SMS_FROM).',
          ...scopes('tokens'),
          requestBody: { required: true, content: content(deliveryRequestSchema, 'input') },
          responses: {
            '202': { description: 'Queued.', content: content(deliveryResponseSchema) },
            ...errors(400, 401, 403, 404, 409, 413, 503),
          },
        },
      },
      '/studies/{studyInstanceUid}/token/unlock': {
        parameters: [studyParam],
        post: {
          summary: 'Lift the lock that wrong birth dates or PINs put on the active token',
          responses: { '204': { description: 'Unlocked.' }, ...errors(400, 401, 403, 404, 503) },
        },
      },
      '/server-config': {
        get: {
          summary: 'The setup: server address, who sends the links (institution, contact, logo), time zone',
          ...scopes('audit'),
          responses: {
            '200': { description: 'The setup.', content: content(serverConfigSchema) },
            ...errors(401, 403, 503),
          },
        },
        put: {
          summary: 'Change some or all of the setup (admin keys only)',
          description:
            'A field set in the environment (e.g. SSL, PUBLIC_PORT, SERVER_NAME) wins over the stored setup and ' +
            'cannot be changed here: sending another value is a 400 naming the variable; sending its current value is accepted.',
          ...scopes(),
          requestBody: { required: true, content: content(serverConfigUpdateSchema, 'input') },
          responses: {
            '200': { description: 'The new setup.', content: content(serverConfigSchema) },
            ...errors(400, 401, 403, 413, 503),
          },
        },
      },
      '/server-config/logo': {
        put: {
          summary: 'Set the logo patient pages, forms and the handout show (admin keys only)',
          description:
            'PNG or JPEG, at most 200 kB (204800 bytes), recognised from its first bytes (no SVG). Served from ' +
            "this origin at the setup's logoUrl. Refused (400) while LOGO_FILE sets it.",
          ...scopes(),
          requestBody: {
            required: true,
            content: {
              'image/png': { schema: { type: 'string', format: 'binary' } },
              'image/jpeg': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '200': { description: 'The new setup, with its logoUrl.', content: content(serverConfigSchema) },
            ...errors(400, 401, 403, 413, 415, 503),
          },
        },
        delete: {
          summary: 'Remove the logo (admin keys only)',
          ...scopes(),
          responses: { '204': { description: 'Removed.' }, ...errors(400, 401, 403, 503) },
        },
      },
      '/access-log': {
        get: {
          summary: 'Access log, newest first, keyset-paged',
          ...scopes('audit'),
          parameters: queryParams(accessLogQuerySchema),
          responses: {
            '200': { description: 'A page of events.', content: content(accessLogPageSchema) },
            ...errors(400, 401, 403, 503),
          },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
  };
  return cached;
}

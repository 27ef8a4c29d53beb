import { AppError } from '@studylink/service-kit';
import type { Context } from 'koa';

const FORM_LIMIT_BYTES = 64 * 1024;
// A multipart form carries a file (the setup's logo, at most 200 kB) beside its fields.
const MULTIPART_LIMIT_BYTES = 320 * 1024;

/** A file sent in a multipart staff form: its bytes only (names and types from a browser are not trusted). */
export interface FormFile {
  bytes: Buffer;
}

export class UnsupportedFormError extends AppError {
  constructor() {
    super(
      415,
      'unsupported_media_type',
      'forms must be sent as application/x-www-form-urlencoded (or multipart/form-data with a file)',
    );
  }
}

/** Browsers never compress a form; a Content-Encoding on one is refused rather than misread. */
export class EncodedFormError extends AppError {
  constructor() {
    super(415, 'unsupported_content_encoding', 'forms must be sent without a Content-Encoding');
  }
}

export class FormTooLargeError extends AppError {
  constructor() {
    super(413, 'payload_too_large', 'the form is too large');
  }
}

/**
 * The urlencoded body of a staff form as field → first value. The app-wide body parser reads
 * JSON only, so the stream is still unread here; it is read once and kept on ctx.state.
 */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  if (ctx.state.form) return ctx.state.form as Record<string, string>;
  const multipart = typeof ctx.is('multipart/form-data') === 'string';
  if (!multipart && !ctx.is('application/x-www-form-urlencoded')) throw new UnsupportedFormError();
  const encoding = ctx.get('content-encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') throw new EncodedFormError();
  const limit = multipart ? MULTIPART_LIMIT_BYTES : FORM_LIMIT_BYTES;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new FormTooLargeError();
    chunks.push(chunk as Buffer);
  }
  const form: Record<string, string> = Object.create(null);
  if (multipart) {
    // The platform's own multipart parser (undici, as fetch's Response.formData uses).
    const files: Record<string, FormFile> = Object.create(null);
    let parsed: FormData;
    try {
      parsed = await new Response(Buffer.concat(chunks), {
        headers: { 'content-type': ctx.get('content-type') },
      }).formData();
    } catch {
      throw new UnsupportedFormError();
    }
    for (const [k, v] of parsed) {
      if (k in form || k in files) continue;
      if (typeof v === 'string') form[k] = v;
      else files[k] = { bytes: Buffer.from(await v.arrayBuffer()) };
    }
    ctx.state.form = form;
    ctx.state.formFiles = files;
    return form;
  }
  for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
    if (!(k in form)) form[k] = v;
  }
  ctx.state.form = form;
  return form;
}

/** The files of a multipart form read by readForm (none for a urlencoded one). */
export function formFiles(ctx: Context): Readonly<Record<string, FormFile>> {
  return (ctx.state.formFiles as Record<string, FormFile> | undefined) ?? {};
}

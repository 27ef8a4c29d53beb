import { AppError } from '@studylink/service-kit';
import type { Context } from 'koa';

const FORM_LIMIT_BYTES = 64 * 1024;

export class UnsupportedFormError extends AppError {
  constructor() {
    super(415, 'unsupported_media_type', 'forms must be sent as application/x-www-form-urlencoded');
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
  if (!ctx.is('application/x-www-form-urlencoded')) throw new UnsupportedFormError();
  const encoding = ctx.get('content-encoding').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') throw new EncodedFormError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > FORM_LIMIT_BYTES) throw new FormTooLargeError();
    chunks.push(chunk as Buffer);
  }
  const form: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) {
    if (!(k in form)) form[k] = v;
  }
  ctx.state.form = form;
  return form;
}

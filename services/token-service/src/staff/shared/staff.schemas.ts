import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../session/password.hasher.js';
import { st } from './staff.i18n.js';

/** User names: lower case letters, digits, `.`, `_`, `-`; stored lower-cased. */
export const usernameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, st.t('form.usernameFormat'));

export const passwordSchema = z
  .string()
  .min(PASSWORD_MIN_LENGTH, st.t('form.passwordTooShort', { min: PASSWORD_MIN_LENGTH }))
  .max(PASSWORD_MAX_LENGTH, st.t('form.passwordTooLong', { max: PASSWORD_MAX_LENGTH }));

export const roleSchema = z.enum(['admin', 'staff'], { message: st.t('form.chooseRole') });

/** A form's text field: what the browser sent, or '' when absent. */
export const field = z
  .string()
  .optional()
  .transform((v) => v ?? '');

/** A checkbox: present (any value) means checked. */
export const checkbox = z
  .string()
  .optional()
  .transform((v) => v !== undefined);

/** A calendar date from `<input type="date">`, YYYY-MM-DD, that really exists. */
export const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, st.t('form.dateFormat'))
  .refine((v) => {
    const d = new Date(`${v}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === v;
  }, st.t('form.dateInvalid'));

/** `<input type="date">` that may be left empty. */
export const optionalIsoDate = z
  .string()
  .optional()
  .transform((v) => (v ?? '').trim())
  .pipe(z.union([z.literal(''), isoDate]));

/** A search field: trimmed, at most 64 characters, no control characters or backslashes. */
export const searchText = field.pipe(
  z
    .string()
    .trim()
    .max(64, st.t('studies.error.tooLong', { max: 64 }))
    .regex(/^[^\p{Cc}\\]*$/u, st.t('studies.error.controlCharacters')),
);

export const idParamSchema = z.object({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

export type FieldErrors = Record<string, string>;

/** Form fields parsed with a schema: the data, or one message per field for re-rendering the form. */
export function parseForm<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; data: z.output<S> } | { ok: false; errors: FieldErrors } {
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, data: r.data };
  return { ok: false, errors: issuesToFieldErrors(r.error.issues) };
}

/** The first message per field; issues without a path go under `_form`. */
export function issuesToFieldErrors(
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>,
): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    const key = issue.path.length ? String(issue.path[0]) : '_form';
    errors[key] ??= issue.message;
  }
  return errors;
}

import { ValidationError } from '@studylink/service-kit';
import type { z } from 'zod';

/** Parses input at the edge; a failure is a 400 `invalid_request` listing the issues. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ValidationError(
      `invalid ${what}`,
      r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return r.data;
}

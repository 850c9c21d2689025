import type { z } from 'zod';
import { AppError } from '@yunying/core';

/** Parses a request body or query with a zod schema; the error names the fields, never echoes their values. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const fields = [...new Set(result.error.issues.map((i) => i.path.join('.') || what))];
  throw new AppError('bad_request', `Invalid ${what}: ${fields.join(', ')}`, { details: { fields } });
}

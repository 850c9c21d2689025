import { z } from 'zod';
import { nodulesInput, usesAi } from './tirads.findings';

/**
 * Request shapes of the reading API, validated once at the route (parseInput from @yunying/auth turns a
 * failure into a 400 naming the fields, never echoing their values: they may be patient data).
 */

export const READING_STATUSES = ['new', 'triaged', 'in_reading', 'reported'] as const;
export type ReadingStatus = (typeof READING_STATUSES)[number];
/** What a reader works on when no status is asked for. */
export const OPEN_STATUSES: readonly ReadingStatus[] = ['new', 'triaged', 'in_reading'];

export const TIRADS_CATEGORIES = ['TR1', 'TR2', 'TR3', 'TR4', 'TR5'] as const;
export type TiradsCategory = (typeof TIRADS_CATEGORIES)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A DICOM UID (PS3.5 9.1): digits and dots, at most 64 characters. */
export const dicomUid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);

/** DA (YYYYMMDD) or ISO date (YYYY-MM-DD), normalized to DA for comparison with studies.study_date. */
const dicomDate = z
  .string()
  .regex(/^\d{4}-?\d{2}-?\d{2}$/)
  .transform((s) => s.replaceAll('-', ''))
  .refine((s) => {
    const d = new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10).replaceAll('-', '') === s;
  });

/** `status=new,triaged` or `status=new&status=triaged`. */
const statusList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
  .pipe(z.array(z.enum(READING_STATUSES)).min(1).max(READING_STATUSES.length))
  .transform((list) => [...new Set(list)]);

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const queueQuery = z
  .object({
    status: statusList.optional(),
    /** A clinic id or code; narrows the caller's clinics, never widens them. */
    clinic: z.string().min(1).max(63).optional(),
    modality: z
      .string()
      .regex(/^[A-Za-z0-9]{1,16}$/)
      .transform((s) => s.toUpperCase())
      .optional(),
    from: dicomDate.optional(),
    to: dicomDate.optional(),
    limit: limit(200, 50),
    cursor: z.string().min(1).max(400).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { path: ['from'] });
export type QueueQuery = z.output<typeof queueQuery>;

export const clinicStudiesQuery = z.object({
  status: statusList.optional(),
  limit: limit(200, 50),
  cursor: z.string().min(1).max(400).optional(),
});
export type ClinicStudiesQuery = z.output<typeof clinicStudiesQuery>;

/**
 * The reader's report content. Every field is what the reader typed or chose, or (nodules only) the AI's
 * prefill marked `source: 'ai'` until the reader confirms it: absent means empty / not stated, and the
 * server never copies anything from the AI result itself. `aiSuggestionAccepted` is the reader's explicit
 * answer about the suggestion of `aiResultRef`, so it needs one.
 */
export const reportContent = z
  .object({
    tiradsCategory: z.enum(TIRADS_CATEGORIES).nullable().default(null),
    findings: z.string().max(20_000).default(''),
    impression: z.string().max(10_000).default(''),
    aiResultRef: z.string().regex(UUID).transform((s) => s.toLowerCase()).nullable().default(null),
    aiSuggestionAccepted: z.boolean().nullable().default(null),
    /** Structured TI-RADS findings per nodule (#20); the TR levels in it are the server's (tirads.findings.ts). */
    nodules: nodulesInput,
  })
  .strict()
  .refine((r) => r.aiSuggestionAccepted === null || r.aiResultRef !== null, { path: ['aiSuggestionAccepted'] })
  // A field marked as the AI's must say which AI result it came from.
  .refine((r) => !usesAi(r.nodules) || r.aiResultRef !== null, { path: ['aiResultRef'] });
export type ReportContent = z.output<typeof reportContent>;

/**
 * Re-authentication carried by a signing request (#20): the reader's password. Optional in the schema so
 * a request without it gets the service's "needs your password" answer rather than a generic 400.
 */
export const signRequest = z.object({ password: z.string().max(1024).optional() }).strict();

/** An addendum is content plus the signer's re-authentication. */
export const addendumRequest = z
  .object({ password: z.string().max(1024).optional() })
  .passthrough()
  .transform(({ password, ...content }) => ({ password, content }));

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

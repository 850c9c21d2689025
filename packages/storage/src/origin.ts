import type { ObjectOrigin } from './target';

/**
 * The origin as flat strings (S3 user metadata `x-amz-meta-yunying-*`, the fs sidecar's fields), and
 * back. Reading is lenient: a malformed or partial origin reads as none, never as a wrong clinic.
 */
export const ORIGIN_FIELDS = { clinicId: 'yunying-clinic-id', clinicCode: 'yunying-clinic-code', receivedAt: 'yunying-received-at' } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CODE = /^[a-z0-9][a-z0-9-]{1,62}$/;

export function originToStrings(origin: ObjectOrigin): Record<string, string> {
  return {
    [ORIGIN_FIELDS.clinicId]: origin.clinicId,
    [ORIGIN_FIELDS.clinicCode]: origin.clinicCode,
    [ORIGIN_FIELDS.receivedAt]: origin.receivedAt.toISOString(),
  };
}

export function originFromStrings(values: Record<string, unknown>): ObjectOrigin | null {
  const clinicId = values[ORIGIN_FIELDS.clinicId];
  const clinicCode = values[ORIGIN_FIELDS.clinicCode];
  const receivedAt = values[ORIGIN_FIELDS.receivedAt];
  if (typeof clinicId !== 'string' || !UUID.test(clinicId)) return null;
  if (typeof clinicCode !== 'string' || !CODE.test(clinicCode)) return null;
  if (typeof receivedAt !== 'string' || Number.isNaN(Date.parse(receivedAt))) return null;
  return { clinicId: clinicId.toLowerCase(), clinicCode, receivedAt: new Date(receivedAt) };
}

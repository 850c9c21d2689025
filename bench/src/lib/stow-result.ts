/**
 * How many instances of one STOW-RS request were not stored, from its HTTP status and its response body
 * (PS3.18 10.5.3): 200 all stored, 202 some failed, 409 none stored (and any other error status: none).
 * The body is trusted over the status where it says more: an instance in FailedSOPSequence (0008,1198)
 * failed whatever the status, and one missing from ReferencedSOPSequence (0008,1199) was not stored.
 * An instance answered as already stored is referenced, i.e. not a failure.
 */
export function stowFailures(status: number, body: Buffer | string, sent: number): number {
  if (status < 200 || status >= 300) return sent;
  const counts = sequenceCounts(body);
  // A success status without a readable body: 200 says all stored; 202 says some failed, not which.
  if (counts === null) return status === 200 ? 0 : sent;
  return Math.min(sent, Math.max(counts.failed, sent - counts.referenced));
}

function sequenceCounts(body: Buffer | string): { failed: number; referenced: number } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const attributes = parsed as Record<string, unknown>;
  return { failed: itemCount(attributes['00081198']), referenced: itemCount(attributes['00081199']) };
}

/** Items of a DICOM JSON sequence attribute ({ vr: 'SQ', Value: [...] }); 0 when absent or empty. */
function itemCount(attribute: unknown): number {
  if (typeof attribute !== 'object' || attribute === null) return 0;
  const value = (attribute as { Value?: unknown }).Value;
  return Array.isArray(value) ? value.length : 0;
}

import type { AuthService } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { isAppError } from '@yunying/core';
import type { AssociationRequest } from '@yunying/dimse';
import { findCertificate, findClinicDimse, sourceNetworkCheck } from './dimse-devices.repository';

/**
 * Who may open an association for a clinic (issue #17). The calling AE title names the clinic; this decides
 * whether the association proves it is that clinic's device:
 *  1. DICOM TLS (PS3.15 B.1): a client certificate that chained to the CA and is registered for the clinic
 *     (`clinic_dimse_certificates`, pinned by fingerprint, optionally bound to one AE title);
 *  2. User Identity (PS3.7 D.3.3.7) type 2, username + passcode, the passcode one of the clinic's API keys
 *     (the username is only recorded);
 *  3. nothing, where the clinic's policy `dimse_auth` is 'ae_only'.
 * Before any of these: where the clinic lists source networks (`dimse_source_networks`), the calling address
 * must be in one of them.
 * A credential that is presented and wrong is refused even under 'ae_only': a bad key is never ignored.
 * Reasons are for the audit record and the log: AE titles, key ids and fingerprints, never the passcode.
 */
export type CredentialVerdict =
  | { ok: true; via: 'tls_certificate' | 'user_identity' | 'ae_only'; credential: string | null }
  | { ok: false; reason: string };

/** Verifies an API key: the clinic and the key's id, or null when it is not a valid, current key. */
export type ApiKeyVerifier = (key: string) => Promise<{ clinicId: string; apiKeyId: string } | null>;

/** The clinic API keys of @yunying/auth as user identity passcodes. */
export function apiKeyVerifierOf(auth: Pick<AuthService, 'authenticateApiKey'>): ApiKeyVerifier {
  return (key) =>
    auth.authenticateApiKey(key).then(
      (principal) => (principal.clinicId !== null && principal.apiKeyId !== undefined ? { clinicId: principal.clinicId, apiKeyId: principal.apiKeyId } : null),
      // A wrong, revoked or expired key is a refusal; the catalog being down is not (a transient rejection).
      (error: unknown) => {
        if (isAppError(error) && error.code === 'unauthenticated') return null;
        throw error;
      },
    );
}

export interface CredentialDeps {
  pool: Pool;
  verifyApiKey: ApiKeyVerifier;
}

/** An IPv4 peer on a dual-stack socket reads "::ffff:a.b.c.d": compare it as the IPv4 address it is. */
export function plainAddress(address: string | null): string | null {
  if (address === null) return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

export async function checkAssociationCredentials(request: AssociationRequest, clinicId: string, deps: CredentialDeps): Promise<CredentialVerdict> {
  const { tls, userIdentity, callingAe } = request;
  let verdict: CredentialVerdict | null = null;

  // Source networks first (migration 0910): from an address the clinic did not list, nothing else counts.
  const networks = await sourceNetworkCheck(deps.pool, clinicId, plainAddress(request.remoteAddress));
  if (networks?.bound === true && networks.inside !== true) return { ok: false, reason: "calling address outside the clinic's registered source networks" };

  if (tls !== null && tls.fingerprint256 !== null) {
    if (!tls.authorized) return { ok: false, reason: 'TLS client certificate not issued by the trusted CA' };
    const row = await findCertificate(deps.pool, tls.fingerprint256);
    if (row === undefined) return { ok: false, reason: 'TLS client certificate not registered' };
    if (row.revokedAt !== null) return { ok: false, reason: 'TLS client certificate revoked' };
    if (row.clinicId !== clinicId) return { ok: false, reason: "TLS client certificate of another clinic than the calling AE title's" };
    if (row.aeTitle !== null && row.aeTitle !== callingAe) return { ok: false, reason: 'TLS client certificate bound to another AE title' };
    verdict = { ok: true, via: 'tls_certificate', credential: tls.fingerprint256 };
  }

  if (userIdentity !== null) {
    if (userIdentity.kind !== 'username_passcode') return { ok: false, reason: `user identity type ${userIdentity.kind} not accepted (username and passcode only)` };
    const key = await deps.verifyApiKey(userIdentity.passcode);
    if (key === null) return { ok: false, reason: 'user identity passcode is not a valid API key' };
    if (key.clinicId !== clinicId) return { ok: false, reason: "user identity API key of another clinic than the calling AE title's" };
    verdict ??= { ok: true, via: 'user_identity', credential: `api-key:${key.apiKeyId}` };
  }

  if (verdict !== null) return verdict;
  if ((await findClinicDimse(deps.pool, clinicId))?.dimseAuth === 'ae_only') return { ok: true, via: 'ae_only', credential: null };
  return { ok: false, reason: tls === null ? 'credentials required (TLS client certificate or user identity)' : 'credentials required (no TLS client certificate, no user identity)' };
}

import type { Pool } from '@yunying/catalog';
import type { Principal } from '../principal';
import * as clinics from '../repositories/clinics.repository';

/** DIMSE: the calling AE title is the sender's only credential; it binds the association to one clinic. */
export async function principalForAeTitle(pool: Pool, aeTitle: string): Promise<Principal | null> {
  const ae = aeTitle.trim();
  const clinicId = await clinics.findClinicOfAeTitle(pool, ae);
  if (clinicId === null) return null;
  return { kind: 'device', username: `ae:${ae}`, role: 'clinic', clinicId, clinics: { all: false, clinicIds: [clinicId] } };
}

import { sql } from 'kysely';
import { kyselyOn } from '@yunying/catalog';
import type { Queryable } from '../queryable';
import type { ClinicView, DimseAuthPolicy } from '../auth.types';

/** clinics.dimse_auth is text with a check constraint (migration 0901); this narrows it. */
function dimseAuthPolicy(value: string): DimseAuthPolicy {
  if (value !== 'credentials' && value !== 'ae_only') throw new Error('clinics.dimse_auth outside the schema check');
  return value;
}

export async function listClinics(db: Queryable): Promise<ClinicView[]> {
  const rows = await kyselyOn(db)
    .selectFrom('clinics')
    .select((eb) => [
      'clinics.id',
      'clinics.code',
      'clinics.name',
      'clinics.retentionYears',
      'clinics.dimseAuth',
      'clinics.createdAt',
      sql<string[]>`ARRAY(${eb.selectFrom('clinicAeTitles').select('clinicAeTitles.aeTitle').whereRef('clinicAeTitles.clinicId', '=', 'clinics.id').orderBy('clinicAeTitles.aeTitle')})`.as('aeTitles'),
    ])
    .orderBy('clinics.code')
    .execute();
  return rows.map((row) => ({ ...row, dimseAuth: dimseAuthPolicy(row.dimseAuth) }));
}

/** Without an explicit DIMSE policy the column default applies: credentials required (migration 0901). */
export async function insertClinic(db: Queryable, clinic: { code: string; name: string; retentionYears: number; dimseAuth?: DimseAuthPolicy }): Promise<string | undefined> {
  const row = await kyselyOn(db).insertInto('clinics').values(clinic).returning('id').executeTakeFirst();
  return row?.id;
}

export async function insertAeTitle(db: Queryable, aeTitle: string, clinicId: string): Promise<void> {
  await kyselyOn(db).insertInto('clinicAeTitles').values({ aeTitle, clinicId }).execute();
}

/** Unregisters an AE title from the clinic; false when the clinic does not hold it. */
export async function deleteAeTitle(db: Queryable, aeTitle: string, clinicId: string): Promise<boolean> {
  const result = await kyselyOn(db).deleteFrom('clinicAeTitles').where('aeTitle', '=', aeTitle).where('clinicId', '=', clinicId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The words of a clinic a password must not be built on. */
export async function findClinicNames(db: Queryable, clinicId: string): Promise<{ code: string; name: string } | null> {
  const row = await kyselyOn(db).selectFrom('clinics').select(['code', 'name']).where('id', '=', clinicId).executeTakeFirst();
  return row ?? null;
}

export async function findClinicOfAeTitle(db: Queryable, aeTitle: string): Promise<string | null> {
  const row = await kyselyOn(db).selectFrom('clinicAeTitles').select('clinicId').where('aeTitle', '=', aeTitle).executeTakeFirst();
  return row?.clinicId ?? null;
}

export async function insertGrant(db: Queryable, userId: string, clinicId: string, grantedBy: string | null): Promise<void> {
  await kyselyOn(db)
    .insertInto('radiologistGrants')
    .values({ userId, clinicId, grantedBy })
    .onConflict((conflict) => conflict.doNothing())
    .execute();
}

export async function deleteGrant(db: Queryable, userId: string, clinicId: string): Promise<boolean> {
  const result = await kyselyOn(db).deleteFrom('radiologistGrants').where('userId', '=', userId).where('clinicId', '=', clinicId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

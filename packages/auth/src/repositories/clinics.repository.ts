import type { Queryable } from '../queryable';
import type { ClinicView, DimseAuthPolicy } from '../auth.types';

export async function listClinics(db: Queryable): Promise<ClinicView[]> {
  const { rows } = await db.query<{ id: string; code: string; name: string; retention_years: number; ae_titles: string[]; dimse_auth: DimseAuthPolicy; created_at: Date }>(
    `SELECT c.id::text, c.code, c.name, c.retention_years, c.dimse_auth, c.created_at,
            ARRAY(SELECT a.ae_title FROM clinic_ae_titles a WHERE a.clinic_id = c.id ORDER BY 1) AS ae_titles
       FROM clinics c ORDER BY c.code`,
  );
  return rows.map((r) => ({ id: r.id, code: r.code, name: r.name, retentionYears: r.retention_years, aeTitles: r.ae_titles, dimseAuth: r.dimse_auth, createdAt: r.created_at }));
}

/** Without an explicit DIMSE policy the column default applies: credentials required (migration 0901). */
export async function insertClinic(db: Queryable, clinic: { code: string; name: string; retentionYears: number; dimseAuth?: DimseAuthPolicy }): Promise<string | undefined> {
  const { rows } =
    clinic.dimseAuth === undefined
      ? await db.query<{ id: string }>('INSERT INTO clinics (code, name, retention_years) VALUES ($1, $2, $3) RETURNING id::text', [clinic.code, clinic.name, clinic.retentionYears])
      : await db.query<{ id: string }>('INSERT INTO clinics (code, name, retention_years, dimse_auth) VALUES ($1, $2, $3, $4) RETURNING id::text', [
          clinic.code,
          clinic.name,
          clinic.retentionYears,
          clinic.dimseAuth,
        ]);
  return rows[0]?.id;
}

export async function insertAeTitle(db: Queryable, aeTitle: string, clinicId: string): Promise<void> {
  await db.query('INSERT INTO clinic_ae_titles (ae_title, clinic_id) VALUES ($1, $2)', [aeTitle, clinicId]);
}

/** The words of a clinic a password must not be built on. */
export async function findClinicNames(db: Queryable, clinicId: string): Promise<{ code: string; name: string } | null> {
  const { rows } = await db.query<{ code: string; name: string }>('SELECT code, name FROM clinics WHERE id = $1', [clinicId]);
  return rows[0] ?? null;
}

export async function findClinicOfAeTitle(db: Queryable, aeTitle: string): Promise<string | null> {
  const { rows } = await db.query<{ clinic_id: string }>('SELECT clinic_id::text FROM clinic_ae_titles WHERE ae_title = $1', [aeTitle]);
  return rows[0]?.clinic_id ?? null;
}

export async function insertGrant(db: Queryable, userId: string, clinicId: string, grantedBy: string | null): Promise<void> {
  await db.query('INSERT INTO radiologist_grants (user_id, clinic_id, granted_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId, clinicId, grantedBy]);
}

export async function deleteGrant(db: Queryable, userId: string, clinicId: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM radiologist_grants WHERE user_id = $1 AND clinic_id = $2', [userId, clinicId]);
  return (rowCount ?? 0) > 0;
}

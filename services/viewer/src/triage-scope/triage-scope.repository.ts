/** SQL of a clinic's scope-gate mapping (triage_scope_rules, read by the triage worker). */
import type { PoolClient } from '@yunying/catalog';
import type { ClinicScopeRule } from '@yunying/nodule-model';

export class TriageScopeRepository {
  async clinicExists(db: PoolClient, clinicId: string): Promise<boolean> {
    const { rows } = await db.query('SELECT 1 FROM clinics WHERE id = $1', [clinicId]);
    return rows.length > 0;
  }

  async list(db: PoolClient, clinicId: string): Promise<ClinicScopeRule[]> {
    const { rows } = await db.query<ClinicScopeRule>('SELECT pattern, scope FROM triage_scope_rules WHERE clinic_id = $1 ORDER BY pattern', [clinicId]);
    return rows;
  }

  /** Replaces the clinic's rules with these, in one statement pair inside the caller's transaction. */
  async replace(db: PoolClient, clinicId: string, rules: readonly ClinicScopeRule[]): Promise<void> {
    await db.query('DELETE FROM triage_scope_rules WHERE clinic_id = $1', [clinicId]);
    if (rules.length === 0) return;
    await db.query(
      `INSERT INTO triage_scope_rules (clinic_id, pattern, scope)
       SELECT $1, p, s FROM unnest($2::text[], $3::text[]) AS t(p, s)`,
      [clinicId, rules.map((r) => r.pattern), rules.map((r) => r.scope)],
    );
  }
}

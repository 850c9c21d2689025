/** SQL of a clinic's scope-gate mapping (triage_scope_rules, read by the triage worker). */
import { kyselyOn, type PoolClient } from '@yunying/catalog';
import type { ClinicScopeRule } from '@yunying/nodule-model';

/** The scope as the table's CHECK holds it (migration 1400); anything else fails here. */
function scopeOf(pattern: string, scope: string): ClinicScopeRule['scope'] {
  if (scope !== 'thyroid' && scope !== 'other') throw new Error(`triage_scope_rules ${pattern}: unknown scope ${scope}`);
  return scope;
}

export class TriageScopeRepository {
  async clinicExists(db: PoolClient, clinicId: string): Promise<boolean> {
    const row = await kyselyOn(db).selectFrom('clinics').select('id').where('id', '=', clinicId).executeTakeFirst();
    return row !== undefined;
  }

  async list(db: PoolClient, clinicId: string): Promise<ClinicScopeRule[]> {
    const rows = await kyselyOn(db).selectFrom('triageScopeRules').select(['pattern', 'scope']).where('clinicId', '=', clinicId).orderBy('pattern').execute();
    return rows.map((r) => ({ pattern: r.pattern, scope: scopeOf(r.pattern, r.scope) }));
  }

  /** Replaces the clinic's rules with these, in one statement pair inside the caller's transaction. */
  async replace(db: PoolClient, clinicId: string, rules: readonly ClinicScopeRule[]): Promise<void> {
    await kyselyOn(db).deleteFrom('triageScopeRules').where('clinicId', '=', clinicId).execute();
    if (rules.length === 0) return;
    await kyselyOn(db)
      .insertInto('triageScopeRules')
      .values(rules.map((r) => ({ clinicId, pattern: r.pattern, scope: r.scope })))
      .execute();
  }
}

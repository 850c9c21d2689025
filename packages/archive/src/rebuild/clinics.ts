import type { Pool } from '@yunying/catalog';

export interface ResolvedClinic {
  id: string;
  retentionYears: number;
}

export interface ClinicCounts {
  /** Known by the id the copies carry. */
  byId: number;
  /** Known under another id with the same code (the clinics were re-created, e.g. by the seed): mapped. */
  byCode: number;
  /** Unknown to the destination catalog: created with the copies' id and code, name = code. */
  created: number;
}

/**
 * The destination catalog's clinic for the origin a copy carries. The clinic id is tried first, then the
 * code (the stable name an operator knows); an unknown clinic is created so that its instances can be
 * indexed at all (its name and retention policy are then for an administrator to restore).
 */
export class ClinicResolver {
  readonly counts: ClinicCounts = { byId: 0, byCode: 0, created: 0 };
  private readonly cache = new Map<string, ResolvedClinic>();

  constructor(private readonly pool: Pool) {}

  async resolve(clinicId: string, clinicCode: string): Promise<ResolvedClinic> {
    const cached = this.cache.get(clinicId);
    if (cached) return cached;
    const resolved = await this.lookup(clinicId, clinicCode);
    this.cache.set(clinicId, resolved);
    return resolved;
  }

  private async lookup(clinicId: string, clinicCode: string): Promise<ResolvedClinic> {
    const { rows } = await this.pool.query<{ id: string; code: string; retention_years: number }>(
      'SELECT id, code, retention_years FROM clinics WHERE id = $1 OR code = $2 ORDER BY (id = $1) DESC LIMIT 1',
      [clinicId, clinicCode],
    );
    const row = rows[0];
    if (row) {
      if (row.id === clinicId) this.counts.byId += 1;
      else this.counts.byCode += 1;
      return { id: row.id, retentionYears: row.retention_years };
    }
    const created = await this.pool.query<{ id: string; retention_years: number }>(
      `INSERT INTO clinics (id, code, name) VALUES ($1, $2, $2)
       ON CONFLICT DO NOTHING RETURNING id, retention_years`,
      [clinicId, clinicCode],
    );
    const inserted = created.rows[0];
    if (!inserted) return this.lookup(clinicId, clinicCode);
    this.counts.created += 1;
    return { id: inserted.id, retentionYears: inserted.retention_years };
  }
}

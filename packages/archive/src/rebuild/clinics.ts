import type { Pool } from '@yunying/catalog';
import { createClinic, findClinicByIdOrCode } from './rebuild.repository';

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
    const found = await findClinicByIdOrCode(this.pool, clinicId, clinicCode);
    if (found) {
      if (found.id === clinicId) this.counts.byId += 1;
      else this.counts.byCode += 1;
      return { id: found.id, retentionYears: found.retentionYears };
    }
    const inserted = await createClinic(this.pool, clinicId, clinicCode);
    if (!inserted) return this.lookup(clinicId, clinicCode);
    this.counts.created += 1;
    return { id: inserted.id, retentionYears: inserted.retentionYears };
  }
}

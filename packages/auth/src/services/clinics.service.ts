import { AppError } from '@yunying/core';
import { inTransaction, type Pool } from '@yunying/catalog';
import { recordAccountChange } from '../stewardship';
import type { Queryable } from '../queryable';
import { AE_TITLE, CLINIC_CODE, pgCode, UUID, type AuthContext } from '../auth.shared';
import type { AdminContext, ClinicView, DimseAuthPolicy } from '../auth.types';
import * as clinics from '../repositories/clinics.repository';
import type { UsersService } from './users.service';

/** Clinics (with their DIMSE AE titles and policy) and the radiologists' grants to read them. */
export class ClinicsService {
  constructor(
    private readonly pool: Pool,
    private readonly users: UsersService,
    /** The global retention floor a clinic's policy may not go below (RETENTION_MIN_YEARS). */
    private readonly retentionMinYears: number,
    private readonly context: AuthContext,
  ) {}

  async listClinics(): Promise<ClinicView[]> {
    return clinics.listClinics(this.pool);
  }

  async createClinic(
    input: { code: string; name: string; retentionYears?: number; aeTitles?: string[]; dimseAuth?: DimseAuthPolicy },
    context?: AdminContext,
    db?: Queryable,
  ): Promise<ClinicView> {
    if (!CLINIC_CODE.test(input.code)) throw new AppError('bad_request', 'Clinic code: 2-63 characters of a-z, 0-9, "-"');
    const retentionYears = input.retentionYears ?? this.retentionMinYears;
    if (!Number.isInteger(retentionYears) || retentionYears < this.retentionMinYears) {
      throw new AppError('bad_request', `Retention: at least ${this.retentionMinYears} years`);
    }
    const aeTitles = (input.aeTitles ?? []).map((a) => a.trim());
    if (aeTitles.some((a) => !AE_TITLE.test(a))) throw new AppError('bad_request', 'AE titles: 1-16 printable ASCII characters, no backslash');
    const write = async (client: Queryable): Promise<string> => {
      const id = await clinics.insertClinic(client, { code: input.code, name: input.name, retentionYears, ...(input.dimseAuth !== undefined ? { dimseAuth: input.dimseAuth } : {}) });
      if (!id) throw new Error('clinic insert returned no row');
      for (const ae of aeTitles) await clinics.insertAeTitle(client, ae, id);
      return id;
    };
    let id: string;
    try {
      id = db ? await write(db) : await inTransaction(this.pool, write);
    } catch (error) {
      if (pgCode(error) === '23505') throw new AppError('conflict', 'Clinic code or AE title already in use');
      throw error;
    }
    const clinic = (await this.listClinics()).find((c) => c.id === id);
    if (context) await this.context.audit.admin(context, 'clinic-created', { code: input.code, aeTitles, dimseAuth: clinic?.dimseAuth ?? 'credentials' }, id);
    return clinic ?? { id, code: input.code, name: input.name, retentionYears, aeTitles, dimseAuth: input.dimseAuth ?? 'credentials', createdAt: this.context.now() };
  }

  /**
   * Registers a modality's AE title for the clinic (a new ultrasound machine at the centre): its associations
   * are then the clinic's. Idempotent for the clinic that holds it; a title another clinic holds is a conflict
   * (an AE title names one clinic: moving it is a removal there and a registration here, both audited).
   */
  async addAeTitle(clinicId: string, aeTitle: string, context?: AdminContext): Promise<{ created: boolean }> {
    if (!UUID.test(clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    const ae = aeTitle.trim();
    if (!AE_TITLE.test(ae)) throw new AppError('bad_request', 'AE title: 1-16 printable ASCII characters, no backslash');
    let created: boolean;
    try {
      created = await inTransaction(this.pool, async (client) => {
        const holder = await clinics.findClinicOfAeTitle(client, ae);
        if (holder === clinicId) return false;
        if (holder !== null) throw new AppError('conflict', 'AE title registered to another clinic: remove it there first');
        await clinics.insertAeTitle(client, ae, clinicId);
        return true;
      });
    } catch (error) {
      if (pgCode(error) === '23503') throw new AppError('not_found', 'No such clinic');
      if (pgCode(error) === '23505') throw new AppError('conflict', 'AE title registered to another clinic: remove it there first');
      throw error;
    }
    if (created && context) await this.context.audit.admin(context, 'ae-title-added', { aeTitle: ae }, clinicId);
    return { created };
  }

  /** Unregisters an AE title from the clinic: its associations are refused from then on. False when the clinic does not hold it. */
  async removeAeTitle(clinicId: string, aeTitle: string, context?: AdminContext): Promise<boolean> {
    if (!UUID.test(clinicId)) return false;
    const ae = aeTitle.trim();
    const removed = await clinics.deleteAeTitle(this.pool, ae, clinicId);
    if (removed && context) await this.context.audit.admin(context, 'ae-title-removed', { aeTitle: ae }, clinicId);
    return removed;
  }

  async grantClinic(userId: string, clinicId: string, context?: AdminContext): Promise<void> {
    const user = await this.users.getUser(userId);
    if (!user) throw new AppError('not_found', 'No such user');
    if (user.role !== 'radiologist') throw new AppError('bad_request', 'Only radiologists are granted clinics');
    if (!UUID.test(clinicId)) throw new AppError('bad_request', 'clinicId must be a uuid');
    try {
      await clinics.insertGrant(this.pool, userId, clinicId, context?.actor.userId ?? null);
    } catch (error) {
      if (pgCode(error) === '23503') throw new AppError('bad_request', 'Unknown clinic');
      throw error;
    }
    await recordAccountChange(this.pool, userId, context?.actor.userId, 'grant-added');
    if (context) await this.context.audit.admin(context, 'grant-added', { targetUserId: userId }, clinicId);
  }

  async revokeGrant(userId: string, clinicId: string, context?: AdminContext): Promise<boolean> {
    if (!UUID.test(userId) || !UUID.test(clinicId)) return false;
    const revoked = await clinics.deleteGrant(this.pool, userId, clinicId);
    if (revoked) await recordAccountChange(this.pool, userId, context?.actor.userId, 'grant-revoked');
    if (revoked && context) await this.context.audit.admin(context, 'grant-revoked', { targetUserId: userId }, clinicId);
    return revoked;
  }
}

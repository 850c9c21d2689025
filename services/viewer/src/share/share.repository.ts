import { clinicCondition, type Principal } from '@yunying/auth';
import { kyselyOn, sql, type Pool } from '@yunying/catalog';

/** Wrong access codes allowed before the share locks, and for how long it then stays locked. */
export const CODE_FAILURE_LIMIT = 5;
export const CODE_LOCK_SECONDS = 15 * 60;

export interface ShareRow {
  id: string;
  studyRef: string;
  studyInstanceUid: string;
  clinicId: string;
  hasCode: boolean;
  codeSha256: Buffer | null;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  codeLockedUntil: Date | null;
  viewCount: number;
  lastViewedAt: Date | null;
  /** When the study was disposed of after its retention (its tombstone): a share of it opens nothing. */
  disposedAt: Date | null;
}

/** A share with its study's uid; hasCode says whether an access code guards it. */
function shares(pool: Pool) {
  return kyselyOn(pool)
    .selectFrom('studyShares as sh')
    .innerJoin('studies as s', 's.id', 'sh.studyRef')
    .select([
      'sh.id',
      'sh.studyRef',
      's.studyInstanceUid',
      'sh.clinicId',
      'sh.codeSha256',
      'sh.createdBy',
      'sh.createdAt',
      'sh.expiresAt',
      'sh.revokedAt',
      'sh.codeLockedUntil',
      'sh.viewCount',
      'sh.lastViewedAt',
      's.disposedAt',
    ]);
}

function toShare(r: Omit<ShareRow, 'hasCode'>): ShareRow {
  return { ...r, hasCode: r.codeSha256 !== null };
}

export class ShareRepository {
  constructor(private readonly pool: Pool) {}

  /** The study's row id and clinic, within the caller's clinics; a disposed study is not there to share. */
  async studyInScope(studyUid: string, principal: Principal): Promise<{ studyRef: string; clinicId: string } | null> {
    const row = await kyselyOn(this.pool)
      .selectFrom('studies as s')
      .select(['s.id as studyRef', 's.clinicId'])
      .where('s.studyInstanceUid', '=', studyUid)
      .where('s.disposedAt', 'is', null)
      .where(clinicCondition(principal, 's.clinic_id'))
      .executeTakeFirst();
    return row ?? null;
  }

  async insert(share: { id: string; studyRef: string; clinicId: string; tokenSha256: Buffer; codeSha256: Buffer | null; createdBy: string; expiresAt: Date }): Promise<ShareRow> {
    await kyselyOn(this.pool).insertInto('studyShares').values(share).execute();
    const found = await this.byId(share.id);
    if (found === null) throw new Error('share vanished after insert');
    return found;
  }

  async byId(id: string): Promise<ShareRow | null> {
    const row = await shares(this.pool).where('sh.id', '=', id).executeTakeFirst();
    return row === undefined ? null : toShare(row);
  }

  async byTokenHash(hash: Buffer): Promise<ShareRow | null> {
    const row = await shares(this.pool).where('sh.tokenSha256', '=', hash).executeTakeFirst();
    return row === undefined ? null : toShare(row);
  }

  async forStudy(studyRef: string): Promise<ShareRow[]> {
    const rows = await shares(this.pool).where('sh.studyRef', '=', studyRef).orderBy('sh.createdAt', 'desc').orderBy('sh.id').execute();
    return rows.map(toShare);
  }

  /** Idempotent: a revoked share keeps its first revocation. False when the share is not of this study. */
  async revoke(id: string, studyRef: string, userId: string): Promise<boolean> {
    const { numUpdatedRows } = await kyselyOn(this.pool)
      .updateTable('studyShares')
      .set((eb) => ({ revokedAt: eb.fn.coalesce('revokedAt', sql<Date>`now()`), revokedBy: eb.fn.coalesce('revokedBy', eb.val(userId)) }))
      .where('id', '=', id)
      .where('studyRef', '=', studyRef)
      .executeTakeFirst();
    return numUpdatedRows > 0n;
  }

  /** One wrong code, in one statement so parallel guesses all count; the limit-th failure locks the share. */
  async recordCodeFailure(id: string): Promise<void> {
    await kyselyOn(this.pool)
      .updateTable('studyShares')
      .set((eb) => ({
        codeFailures: eb('codeFailures', '+', 1),
        codeLockedUntil: eb
          .case()
          .when(eb('codeFailures', '+', 1), '>=', CODE_FAILURE_LIMIT)
          .then(sql<Date>`now() + make_interval(secs => ${CODE_LOCK_SECONDS})`)
          .else(eb.ref('codeLockedUntil'))
          .end(),
      }))
      .where('id', '=', id)
      .execute();
  }

  /** A successful view: the failure count starts over (a lock that has run out is cleared with it). */
  async recordView(id: string): Promise<void> {
    await kyselyOn(this.pool)
      .updateTable('studyShares')
      .set((eb) => ({ viewCount: eb('viewCount', '+', 1), lastViewedAt: sql<Date>`now()`, codeFailures: 0, codeLockedUntil: null }))
      .where('id', '=', id)
      .execute();
  }

  /** The latest signed version (report or addendum): what the share shows. */
  async latestSignedReport(studyRef: string): Promise<{ kind: string; version: number; signedAt: Date; tiradsCategory: string | null; findings: string; impression: string } | null> {
    const row = await kyselyOn(this.pool)
      .selectFrom('reports')
      .select(['kind', 'version', 'signedAt', 'tiradsCategory', 'findings', 'impression'])
      .where('studyRef', '=', studyRef)
      .where('status', '=', 'signed')
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (row === undefined) return null;
    // A signed version always has its signing time (the reports check (status = 'signed') = (signed_at IS NOT NULL)).
    const { signedAt, ...rest } = row;
    if (signedAt === null) throw new Error('signed report without signed_at');
    return { ...rest, signedAt };
  }
}

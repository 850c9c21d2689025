import { kyselyOn, sql, type Pool, type PoolClient } from '@yunying/catalog';

type Db = Pool | PoolClient;

/** A signature record with the key that made it. */
export interface SignatureRecordRow {
  keyId: string;
  algorithm: string;
  payload: string;
  signature: Buffer;
  srSopInstanceUid: string;
  srSha256: string;
  srStoredAt: Date | null;
  publicKeyPem: string;
  keyUserId: string;
}

/**
 * SQL of reports as records (#20): readers' signing keys, the signature record of each signed version, the
 * stored SR it names, and the reader's password hash for re-authentication.
 */
export class ReportRecordsRepository {
  /** The reader's key for `algorithm` (its private key sealed), or null before their first signature. */
  async signingKey(db: Db, userId: string, algorithm: string): Promise<{ id: string; privateKeyEnc: Buffer } | null> {
    const row = await kyselyOn(db).selectFrom('readerSigningKeys').select(['id', 'privateKeyEnc']).where('userId', '=', userId).where('algorithm', '=', algorithm).executeTakeFirst();
    return row ?? null;
  }

  /** Adds a reader's key; false when the reader already has one for the algorithm (a concurrent first signature). */
  async insertSigningKey(db: Db, key: { id: string; userId: string; algorithm: string; publicKeyPem: string; privateKeyEnc: Buffer }): Promise<boolean> {
    const result = await kyselyOn(db)
      .insertInto('readerSigningKeys')
      .values(key)
      .onConflict((oc) => oc.columns(['userId', 'algorithm']).doNothing())
      .executeTakeFirst();
    return result.numInsertedOrUpdatedRows === 1n;
  }

  async insertRecord(db: Db, r: { reportId: string; keyId: string; algorithm: string; payload: string; signature: Buffer; srSopInstanceUid: string; srSha256: string }): Promise<void> {
    await kyselyOn(db).insertInto('reportRecords').values(r).execute();
  }

  /** When the version's SR was stored (null: not yet) and its digest; null when the version has no record. */
  async srState(db: Db, reportId: string): Promise<{ srStoredAt: Date | null; srSha256: string } | null> {
    const row = await kyselyOn(db).selectFrom('reportRecords').select(['srStoredAt', 'srSha256']).where('reportId', '=', reportId).executeTakeFirst();
    return row ?? null;
  }

  async markSrStored(db: Db, reportId: string): Promise<void> {
    await kyselyOn(db).updateTable('reportRecords').set({ srStoredAt: sql<Date>`now()` }).where('reportId', '=', reportId).where('srStoredAt', 'is', null).execute();
  }

  async signatureRecord(db: Db, reportId: string): Promise<SignatureRecordRow | null> {
    const row = await kyselyOn(db)
      .selectFrom('reportRecords as r')
      .innerJoin('readerSigningKeys as k', 'k.id', 'r.keyId')
      .select(['r.keyId', 'r.algorithm', 'r.payload', 'r.signature', 'r.srSopInstanceUid', 'r.srSha256', 'r.srStoredAt', 'k.publicKeyPem', 'k.userId as keyUserId'])
      .where('r.reportId', '=', reportId)
      .executeTakeFirst();
    return row ?? null;
  }

  /** The current instance with this SOP Instance UID: its digest, retention, and locked copies in state ok. */
  async storedSr(db: Db, sopInstanceUid: string): Promise<{ sha256: string; retainUntil: Date; copies: number } | null> {
    const row = await kyselyOn(db)
      .selectFrom('instances as i')
      .innerJoin('objects as o', 'o.sha256', 'i.sha256')
      .select(['i.sha256', 'o.retainUntil'])
      .select(sql<number>`(SELECT count(*) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok' AND c.lock_mode <> 'NONE')::int`.as('copies'))
      .where('i.sopInstanceUid', '=', sopInstanceUid)
      .where('i.isCurrent', '=', true)
      .executeTakeFirst();
    return row ?? null;
  }

  /** The SR of the study's report version `version` (the one a new version succeeds), or null. */
  async srOfVersion(db: Db, studyRef: string, version: number): Promise<string | null> {
    const row = await kyselyOn(db)
      .selectFrom('reportRecords as rr')
      .innerJoin('reports as r', 'r.id', 'rr.reportId')
      .select('rr.srSopInstanceUid')
      .where('r.studyRef', '=', studyRef)
      .where('r.version', '=', version)
      .executeTakeFirst();
    return row?.srSopInstanceUid ?? null;
  }

  /** The reader's password hash and whether the account is disabled, for re-authentication; null when unknown. */
  async credentials(db: Db, userId: string): Promise<{ passwordHash: string; disabled: boolean } | null> {
    const row = await kyselyOn(db).selectFrom('users').select(['passwordHash', 'disabled']).where('id', '=', userId).executeTakeFirst();
    return row ?? null;
  }
}

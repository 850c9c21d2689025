import { createPublicKey } from 'node:crypto';
import type { IngestPipeline } from '@yunying/archive';
import { readStudyHeader, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError, type Logger } from '@yunying/core';
import type { Caller } from '../reading.audit';
import type { ReportRow } from '../report.repository';
import { storedNodules } from '../tirads.findings';
import { canonicalJson } from './canonical';
import { buildReportSr, referencedSopInstances, type BuiltSr, type ReferencedImage, type SrStudy } from './report.sr';
import { signPayload, verifyPayload, type ReaderKeys } from './signing-keys';

/**
 * Reports as records (#20): in the signing transaction a signed version is rendered as a TID 2000 SR and
 * signed by the reader's key (report_records); after commit the SR goes through the one write path, as
 * the study's clinic (three locked copies; retention the longer of the study's and REPORT_RETENTION_YEARS,
 * which the report pipeline's minimum carries). The SR is stored after commit because the write path
 * takes the study row the signing transaction holds; a failed store leaves sr_stored_at empty and a
 * retried sign rebuilds the same bytes and finishes it.
 */
export class ReportRecords {
  constructor(private readonly deps: { pool: Pool; pipeline: IngestPipeline; keys: ReaderKeys; logger: Logger }) {}

  /** Renders, signs and records one just-signed version; returns the SR to store after commit. */
  async prepare(client: PoolClient, row: ReportRow, studyRef: string, signerUserId: string): Promise<BuiltSr> {
    const sr = await this.render(client, row, studyRef);
    const key = await this.deps.keys.forReader(client, signerUserId);
    const payload = canonicalJson(signedContent(row, sr, signerUserId, key.id, key.algorithm, sr.study.studyInstanceUid));
    await client.query(
      `INSERT INTO report_records (report_id, key_id, algorithm, payload, signature, sr_sop_instance_uid, sr_sha256)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [row.id, key.id, key.algorithm, payload, signPayload(key, payload), sr.built.sopInstanceUid, sr.built.sha256],
    );
    return sr.built;
  }

  /** The SR of a signed version whose store did not finish (a retried sign), rebuilt from the row; null when stored. */
  async pending(client: PoolClient, row: ReportRow, studyRef: string): Promise<BuiltSr | null> {
    const { rows } = await client.query<{ sr_stored_at: Date | null; sr_sha256: string }>('SELECT sr_stored_at, sr_sha256 FROM report_records WHERE report_id = $1', [row.id]);
    const record = rows[0];
    if (!record || record.sr_stored_at !== null) return null;
    const sr = (await this.render(client, row, studyRef)).built;
    // Same row, same bytes: anything else would store an SR the signature does not cover.
    if (sr.sha256 !== record.sr_sha256) throw new Error('report SR is not reproducible from its signed row');
    return sr;
  }

  /** Stores the SR through the one write path, as the study's clinic, attributed to the signing reader. */
  async store(sr: BuiltSr, reportId: string, clinicId: string, caller: Caller): Promise<void> {
    const outcome = await this.deps.pipeline.ingest(sr.bytes, {
      clinicId,
      actor: { userId: caller.principal.userId, username: caller.principal.username, role: caller.principal.role },
      sourceIp: caller.sourceIp,
      via: 'SERVICE',
    });
    if (outcome.status === 'rejected') {
      this.deps.logger.error({ reason: outcome.reason, reportId }, 'report SR refused by the ingest pipeline');
      throw new AppError(outcome.retryable ? 'unavailable' : 'internal', 'The report is signed but its DICOM SR is not stored yet; sign again to retry', { retryable: outcome.retryable });
    }
    await this.deps.pool.query('UPDATE report_records SET sr_stored_at = now() WHERE report_id = $1 AND sr_stored_at IS NULL', [reportId]);
  }

  /** Verifies a signed version against its record: signature, signer, key, and the SR with its copies. */
  async verify(db: Pool | PoolClient, row: ReportRow, studyUid: string): Promise<SignatureCheck> {
    const { rows } = await db.query<RecordRow>(
      `SELECT r.key_id::text, r.algorithm, r.payload, r.signature, r.sr_sop_instance_uid, r.sr_sha256, r.sr_stored_at,
              k.public_key_pem, k.user_id::text AS key_user_id
         FROM report_records r JOIN reader_signing_keys k ON k.id = r.key_id WHERE r.report_id = $1`,
      [row.id],
    );
    const record = rows[0];
    if (!record) return { signed: false, valid: false, reasons: ['no signature recorded for this version'] };
    const reasons: string[] = [];
    if (!verifyPayload(record.algorithm, record.public_key_pem, record.payload, record.signature)) reasons.push('signature does not verify');
    const claimed = JSON.parse(record.payload) as Record<string, unknown>;
    // The signed payload must be this row's content now: a changed report no longer matches what was signed.
    const current = canonicalJson({ ...signedContent(row, null, String(claimed.signer), record.key_id, record.algorithm, studyUid), sr: claimed.sr });
    if (current !== record.payload) reasons.push('report content differs from the signed content');
    if (claimed.signer !== record.key_user_id) reasons.push('signer is not the key owner');
    const copies = await db.query<{ sha256: string; copies: number; retain_until: Date }>(
      `SELECT i.sha256, o.retain_until,
              (SELECT count(*) FROM copies c WHERE c.sha256 = i.sha256 AND c.state = 'ok' AND c.lock_mode <> 'NONE')::int AS copies
         FROM instances i JOIN objects o ON o.sha256 = i.sha256 WHERE i.sop_instance_uid = $1 AND i.is_current`,
      [record.sr_sop_instance_uid],
    );
    const instance = copies.rows[0];
    if (!instance) reasons.push('SR not stored');
    else if (instance.sha256 !== record.sr_sha256) reasons.push('stored SR differs from the signed SR');
    return {
      signed: true,
      valid: reasons.length === 0,
      reasons,
      algorithm: record.algorithm,
      keyId: record.key_id,
      signerUserId: record.key_user_id,
      publicKeyPem: createPublicKey(record.public_key_pem).export({ type: 'spki', format: 'pem' }).toString(),
      payload: record.payload,
      signature: record.signature.toString('base64'),
      sr: { sopInstanceUid: record.sr_sop_instance_uid, sha256: record.sr_sha256, stored: instance !== undefined, copies: instance?.copies ?? 0, retainUntil: instance?.retain_until.toISOString() ?? null },
    };
  }

  private async render(client: PoolClient, row: ReportRow, studyRef: string): Promise<{ built: BuiltSr; study: SrStudy }> {
    const study = await srStudy(client, studyRef);
    if (row.signed_at === null) throw new Error('only a signed version is rendered');
    const predecessor =
      row.version > 1
        ? await client.query<{ sr_sop_instance_uid: string }>(
            `SELECT rr.sr_sop_instance_uid FROM report_records rr JOIN reports r ON r.id = rr.report_id WHERE r.study_ref = $1 AND r.version = $2`,
            [studyRef, row.version - 1],
          )
        : null;
    const previous = predecessor?.rows[0];
    const nodules = storedNodules(row.nodules);
    const built = buildReportSr(study.header, {
      reportId: row.id,
      version: row.version,
      kind: row.kind,
      findings: row.findings,
      impression: row.impression,
      nodules,
      signedAt: row.signed_at,
      readerName: row.author_display_name || row.author_username || 'unknown',
      institutionName: study.clinicName,
      predecessor: previous ? { sopInstanceUid: previous.sr_sop_instance_uid } : null,
      images: await referencedImages(client, studyRef, referencedSopInstances(nodules)),
    });
    return { built, study: study.header };
  }
}

/** The study's current image instances among `sops`: only these are referenced from the SR. */
async function referencedImages(client: PoolClient, studyRef: string, sops: string[]): Promise<Map<string, ReferencedImage>> {
  if (sops.length === 0) return new Map();
  const { rows } = await client.query<{ sop_instance_uid: string; series_instance_uid: string; sop_class_uid: string; number_of_frames: number | null }>(
    `SELECT i.sop_instance_uid, se.series_instance_uid, i.sop_class_uid, i.number_of_frames FROM instances i JOIN series se ON se.id = i.series_ref
      WHERE i.study_ref = $1 AND i.is_current AND i.rows > 0 AND i.columns > 0 AND i.sop_instance_uid = ANY($2::text[])`,
    [studyRef, sops],
  );
  return new Map(rows.map((r) => [r.sop_instance_uid, { seriesInstanceUid: r.series_instance_uid, sopClassUid: r.sop_class_uid, numberOfFrames: r.number_of_frames ?? 1 }]));
}

export interface SignatureCheck {
  signed: boolean;
  valid: boolean;
  reasons: string[];
  algorithm?: string;
  keyId?: string;
  signerUserId?: string;
  publicKeyPem?: string;
  payload?: string;
  signature?: string;
  sr?: { sopInstanceUid: string; sha256: string; stored: boolean; copies: number; retainUntil: string | null };
}

interface RecordRow {
  key_id: string;
  algorithm: string;
  payload: string;
  signature: Buffer;
  sr_sop_instance_uid: string;
  sr_sha256: string;
  sr_stored_at: Date | null;
  public_key_pem: string;
  key_user_id: string;
}

/** What the signature covers: the version's clinical content, who signed when, with which key, and the SR. */
function signedContent(row: ReportRow, sr: { built: BuiltSr } | null, signer: string, keyId: string, algorithm: string, studyUid: string): Record<string, unknown> {
  return {
    purpose: 'yunying-report-signature-v1',
    studyInstanceUid: studyUid,
    reportId: row.id,
    version: row.version,
    kind: row.kind,
    tiradsSystem: row.tirads_system,
    tiradsCategory: row.tirads_category,
    findings: row.findings,
    impression: row.impression,
    nodules: storedNodules(row.nodules),
    signedAt: row.signed_at?.toISOString() ?? null,
    signer,
    keyId,
    algorithm,
    ...(sr ? { sr: { sopInstanceUid: sr.built.sopInstanceUid, sha256: sr.built.sha256 } } : {}),
  };
}

async function srStudy(client: PoolClient, studyRef: string): Promise<{ header: SrStudy; clinicName: string }> {
  const study = await readStudyHeader(client, studyRef);
  if (!study) throw new Error('study vanished inside the signing transaction');
  return study;
}

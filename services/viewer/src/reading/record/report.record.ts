import { createPublicKey } from 'node:crypto';
import type { IngestPipeline } from '@yunying/archive';
import { currentImagesOf, readStudyHeader, type Pool, type PoolClient } from '@yunying/catalog';
import type { Logger } from '@yunying/core';
import type { Caller } from '../reading.audit';
import type { ReportRow } from '../report.repository';
import { storedNodules } from '../tirads.findings';
import { canonicalJson } from './canonical';
import { buildReportSr, referencedSopInstances, type BuiltSr, type ReferencedImage, type SrStudy } from './report.sr';
import { ReportRecordsRepository } from './report-records.repository';
import { signPayload, verifyPayload, type ReaderKeys } from './signing-keys';
import { storeBuiltObject } from './write-path';

/**
 * Reports as records (#20): in the signing transaction a signed version is rendered as a TID 2000 SR and
 * signed by the reader's key (report_records); after commit the SR goes through the one write path, as
 * the study's clinic (three locked copies; retention the longer of the study's and REPORT_RETENTION_YEARS,
 * which the report pipeline's minimum carries). The SR is stored after commit because the write path
 * takes the study row the signing transaction holds; a failed store leaves sr_stored_at empty and a
 * retried sign rebuilds the same bytes and finishes it.
 */
export class ReportRecords {
  private readonly repo = new ReportRecordsRepository();

  constructor(private readonly deps: { pool: Pool; pipeline: IngestPipeline; keys: ReaderKeys; logger: Logger }) {}

  /** Renders, signs and records one just-signed version; returns the SR to store after commit. */
  async prepare(client: PoolClient, row: ReportRow, studyRef: string, signerUserId: string): Promise<BuiltSr> {
    const sr = await this.render(client, row, studyRef);
    const key = await this.deps.keys.forReader(client, signerUserId);
    const payload = canonicalJson(signedContent(row, sr, signerUserId, key.id, key.algorithm, sr.study.studyInstanceUid));
    await this.repo.insertRecord(client, {
      reportId: row.id,
      keyId: key.id,
      algorithm: key.algorithm,
      payload,
      signature: signPayload(key, payload),
      srSopInstanceUid: sr.built.sopInstanceUid,
      srSha256: sr.built.sha256,
    });
    return sr.built;
  }

  /** The SR of a signed version whose store did not finish (a retried sign), rebuilt from the row; null when stored. */
  async pending(client: PoolClient, row: ReportRow, studyRef: string): Promise<BuiltSr | null> {
    const record = await this.repo.srState(client, row.id);
    if (!record || record.srStoredAt !== null) return null;
    const sr = (await this.render(client, row, studyRef)).built;
    // Same row, same bytes: anything else would store an SR the signature does not cover.
    if (sr.sha256 !== record.srSha256) throw new Error('report SR is not reproducible from its signed row');
    return sr;
  }

  /** Stores the SR through the one write path, as the study's clinic, attributed to the signing reader. */
  async store(sr: BuiltSr, reportId: string, clinicId: string, caller: Caller): Promise<void> {
    await storeBuiltObject(
      this.deps,
      { bytes: sr.bytes, what: 'report SR', context: { reportId }, notStored: 'The report is signed but its DICOM SR is not stored yet; sign again to retry' },
      clinicId,
      caller,
    );
    await this.repo.markSrStored(this.deps.pool, reportId);
  }

  /** Verifies a signed version against its record: signature, signer, key, and the SR with its copies. */
  async verify(db: Pool | PoolClient, row: ReportRow, studyUid: string): Promise<SignatureCheck> {
    const record = await this.repo.signatureRecord(db, row.id);
    if (!record) return { signed: false, valid: false, reasons: ['no signature recorded for this version'] };
    const reasons: string[] = [];
    if (!verifyPayload(record.algorithm, record.publicKeyPem, record.payload, record.signature)) reasons.push('signature does not verify');
    const claimed = JSON.parse(record.payload) as Record<string, unknown>;
    // The signed payload must be this row's content now: a changed report no longer matches what was signed.
    const current = canonicalJson({ ...signedContent(row, null, String(claimed.signer), record.keyId, record.algorithm, studyUid), sr: claimed.sr });
    if (current !== record.payload) reasons.push('report content differs from the signed content');
    if (claimed.signer !== record.keyUserId) reasons.push('signer is not the key owner');
    const instance = await this.repo.storedSr(db, record.srSopInstanceUid);
    if (!instance) reasons.push('SR not stored');
    else if (instance.sha256 !== record.srSha256) reasons.push('stored SR differs from the signed SR');
    return {
      signed: true,
      valid: reasons.length === 0,
      reasons,
      algorithm: record.algorithm,
      keyId: record.keyId,
      signerUserId: record.keyUserId,
      publicKeyPem: createPublicKey(record.publicKeyPem).export({ type: 'spki', format: 'pem' }).toString(),
      payload: record.payload,
      signature: record.signature.toString('base64'),
      sr: { sopInstanceUid: record.srSopInstanceUid, sha256: record.srSha256, stored: instance !== undefined, copies: instance?.copies ?? 0, retainUntil: instance?.retainUntil.toISOString() ?? null },
    };
  }

  private async render(client: PoolClient, row: ReportRow, studyRef: string): Promise<{ built: BuiltSr; study: SrStudy }> {
    const study = await srStudy(client, studyRef);
    if (row.signedAt === null) throw new Error('only a signed version is rendered');
    const previous = row.version > 1 ? await this.repo.srOfVersion(client, studyRef, row.version - 1) : null;
    const nodules = storedNodules(row.nodules);
    const built = buildReportSr(study.header, {
      reportId: row.id,
      version: row.version,
      kind: row.kind,
      findings: row.findings,
      impression: row.impression,
      nodules,
      signedAt: row.signedAt,
      readerName: row.authorDisplayName || row.authorUsername || 'unknown',
      institutionName: study.clinicName,
      predecessor: previous !== null ? { sopInstanceUid: previous } : null,
      images: await this.referencedImages(client, studyRef, referencedSopInstances(nodules)),
    });
    return { built, study: study.header };
  }

  /** The study's current image instances among `sops`: only these are referenced from the SR. */
  private async referencedImages(client: PoolClient, studyRef: string, sops: string[]): Promise<Map<string, ReferencedImage>> {
    const found = await currentImagesOf(client, studyRef, sops);
    return new Map([...found].map(([sop, r]) => [sop, { seriesInstanceUid: r.seriesInstanceUid, sopClassUid: r.sopClassUid, numberOfFrames: r.numberOfFrames ?? 1 }]));
  }
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

/** What the signature covers: the version's clinical content, who signed when, with which key, and the SR. */
function signedContent(row: ReportRow, sr: { built: BuiltSr } | null, signer: string, keyId: string, algorithm: string, studyUid: string): Record<string, unknown> {
  return {
    purpose: 'yunying-report-signature-v1',
    studyInstanceUid: studyUid,
    reportId: row.id,
    version: row.version,
    kind: row.kind,
    tiradsSystem: row.tiradsSystem,
    tiradsCategory: row.tiradsCategory,
    findings: row.findings,
    impression: row.impression,
    nodules: storedNodules(row.nodules),
    signedAt: row.signedAt?.toISOString() ?? null,
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

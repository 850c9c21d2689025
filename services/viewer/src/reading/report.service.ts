import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import type { AuditSink } from '@yunying/audit';
import { AppError } from '@yunying/core';
import { decodeClinicStudiesCursor, encodeClinicStudiesCursor } from './cursor';
import { QueueRepository, type StudyState } from './queue.repository';
import { auditRead, auditReading, userIdOf, type Caller } from './reading.audit';
import { recordSigned } from './reading-time.repository';
import type { ClinicStudiesQuery, ReadingStatus, ReportContent } from './reading.schemas';
import { ReportRepository, type ReportRow, type StoredContent } from './report.repository';
import { aiResultView } from './ai-result.view';
import { reauthenticate } from './record/reauth';
import type { BuiltSr } from './record/report.sr';
import type { ReportRecords, SignatureCheck } from './record/report.record';
import { aiFieldMismatches } from './tirads.ai-check';
import type { TiradsSystem } from '@yunying/nodule-model/tirads-report';
import type { AiResultsView } from '@yunying/nodule-model/ai-result-view';
import { overallCTirads, overallLevel, scoreNodules, storedNodules, unconfirmedFields, type StoredNodule } from './tirads.findings';

export interface ReportVersionView {
  id: string;
  version: number;
  kind: 'report' | 'addendum';
  status: 'draft' | 'signed';
  tiradsCategory: string | null;
  findings: string;
  impression: string;
  aiResultRef: string | null;
  aiSuggestionAccepted: boolean | null;
  /** Structured TI-RADS findings, scored by the server when the version was written. */
  nodules: StoredNodule[];
  tiradsSystem: string;
  /** C-TIRADS versions: the report's overall C-TIRADS category (the highest nodule; C-TR1 without one). */
  cTiradsCategory: string | null;
  author: { userId: string; username: string | null; displayName: string | null };
  signedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface StudyReportView {
  studyInstanceUid: string;
  /** The system the form scores in: the report's (version 1) when begun, else the clinic's current choice. */
  tiradsSystem: string;
  versions: ReportVersionView[];
}

/**
 * Reports (issue #6): one report per study (version 1), drafted and signed by the reader holding the claim;
 * corrections are addenda (versions 2..n), signed on creation. A signed version is never changed: the code
 * only ever updates drafts, and the reports_signed_immutable trigger refuses anything else.
 *
 * The AI result is shown beside the report (GET .../ai) and never copied into it by the server: every
 * field of a version is what the request carried (nodule fields the web app prefilled from the AI say so,
 * `source: 'ai'`), `aiResultRef` records which result the reader saw. The nodules' points, TR levels and
 * recommendations, and the overall category when a nodule is scored, are computed here (#20).
 */
export class ReportService {
  private readonly reports = new ReportRepository();
  private readonly studies = new QueueRepository();

  constructor(
    private readonly pool: Pool,
    private readonly records: ReportRecords,
    private readonly audit: AuditSink,
  ) {}

  /** All versions for readers; signed versions only for the clinic that sent the study. */
  async get(caller: Caller, studyUid: string): Promise<StudyReportView> {
    const { view, clinicId } = await inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, false);
      const signedOnly = caller.principal.role !== 'radiologist';
      const rows = await this.reports.versions(client, study.id, signedOnly);
      const tiradsSystem = rows.find((r) => r.version === 1)?.tiradsSystem ?? (await this.reports.clinicSystem(client, study.clinicId));
      return { view: { studyInstanceUid: studyUid, tiradsSystem, versions: rows.map(toView) }, clinicId: study.clinicId };
    });
    await auditRead(this.audit, caller, {
      type: 'DICOM Instances Accessed',
      studyInstanceUid: studyUid,
      clinicId,
      details: { what: 'report', versions: view.versions.map((v) => v.version) },
    });
    return view;
  }

  /** Creates or replaces the draft of version 1. The caller must hold the study's claim. */
  async saveDraft(caller: Caller, studyUid: string, content: ReportContent): Promise<ReportVersionView> {
    const me = userIdOf(caller);
    return inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, true);
      assertHoldsClaim(study, me);
      await this.assertAiResult(client, content, study.id);
      const existing = await this.reports.byVersion(client, study.id, 1);
      if (existing?.status === 'signed') throw new AppError('conflict', 'The report is signed and cannot be changed; add an addendum');
      // A version keeps the system it was begun in; a new one takes the clinic's current choice.
      const system = (existing?.tiradsSystem as TiradsSystem | undefined) ?? (await this.reports.clinicSystem(client, study.clinicId));
      const stored = storedContent(content, system);
      if (existing) await this.reports.updateDraft(client, study.id, 1, me, stored);
      else await this.reports.insert(client, { studyRef: study.id, version: 1, kind: 'report', authorUserId: me, content: stored, signed: false });
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: existing ? 'U' : 'C',
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        // `tirads`: how many structured nodule entries, never their content.
        details: { what: 'report', version: 1, status: 'draft', tirads: content.nodules.length },
      });
      return toView(await this.mustRead(client, study.id, 1));
    });
  }

  /**
   * Signs the draft after re-authenticating the reader: it becomes immutable, the study 'reported', the
   * claim is released, and the version is rendered as an SR, signed with the reader's key and stored
   * through the one write path (record/report.record.ts). A retried sign whose SR store did not finish
   * finishes it (same bytes, one SR); a sign of a fully recorded report is a conflict.
   */
  async sign(caller: Caller, studyUid: string, password: string | undefined): Promise<ReportVersionView> {
    const me = userIdOf(caller);
    const { view, sr, clinicId } = await inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, true);
      const draft = await this.reports.byVersion(client, study.id, 1);
      if (draft?.status === 'signed') {
        // A retry after a store that did not finish (of the report or an addendum): finish it, one SR.
        for (const row of await this.reports.versions(client, study.id, true)) {
          const pending = row.authorUserId === me ? await this.records.pending(client, row, study.id) : null;
          if (pending === null) continue;
          await reauthenticate(this.pool, caller, password);
          return { view: toView(row), sr: pending, clinicId: study.clinicId };
        }
        throw new AppError('conflict', 'The report is already signed');
      }
      assertHoldsClaim(study, me);
      if (!draft) throw new AppError('conflict', 'There is no draft to sign; save one first');
      const nodules = storedNodules(draft.nodules);
      if (isEmpty(draft.findings, draft.impression, nodules)) throw new AppError('unprocessable', 'A report needs findings, an impression or a nodule before it is signed');
      assertConfirmed(nodules, draft.tiradsSystem);
      // Last, once the report could be signed: tenancy and the form's problems answer first (and no
      // password is checked for a request that would fail anyway). The study row stays locked meanwhile.
      await reauthenticate(this.pool, caller, password);
      await this.reports.sign(client, study.id, 1, me);
      await this.reports.markReported(client, study.id);
      await recordSigned(client, study.id, me);
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'U',
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        details: { what: 'report', version: 1, status: 'signed', tirads: nodules.length },
      });
      const signed = await this.mustRead(client, study.id, 1);
      return { view: toView(signed), sr: await this.records.prepare(client, signed, study.id, me), clinicId: study.clinicId };
    });
    await this.storeSr(sr, view.id, clinicId, caller);
    return view;
  }

  /** Verifies a signed version's signature and SR (auditor, the clinic, readers). */
  async verify(caller: Caller, studyUid: string, version: number): Promise<SignatureCheck & { studyInstanceUid: string; version: number }> {
    return inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, false);
      const row = await this.reports.byVersion(client, study.id, version);
      // Not an error: "is version n signed, and by whom?" has the answer "no" (a draft is not shown here).
      if (row?.status !== 'signed') return { studyInstanceUid: studyUid, version, signed: false, valid: false, reasons: ['no signed report version'] };
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        details: { what: 'report-signature', version },
      });
      return { studyInstanceUid: studyUid, version, ...(await this.records.verify(client, row, studyUid)) };
    });
  }

  private async storeSr(sr: BuiltSr, reportId: string, clinicId: string, caller: Caller): Promise<void> {
    await this.records.store(sr, reportId, clinicId, caller);
  }

  /**
   * A correction or supplement to a signed report: a new version, signed as it is created (an addendum
   * is short and written in one go; a draft stage would add a second open-draft path for little gain).
   * No claim needed: the study is already reported; the study row lock orders concurrent addenda.
   */
  async addAddendum(caller: Caller, studyUid: string, content: ReportContent, password: string | undefined): Promise<ReportVersionView> {
    const me = userIdOf(caller);
    const { view, sr, clinicId } = await inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, true);
      const first = await this.reports.byVersion(client, study.id, 1);
      if (first?.status !== 'signed') throw new AppError('conflict', 'An addendum needs a signed report; sign the report first');
      if (isEmpty(content.findings, content.impression, content.nodules)) throw new AppError('unprocessable', 'An addendum needs findings, an impression or a nodule');
      // Signed as it is created, so held to the same rule as signing a report, in the report's system.
      assertConfirmed(content.nodules, first.tiradsSystem);
      await this.assertAiResult(client, content, study.id);
      await reauthenticate(this.pool, caller, password);
      const version = (await this.reports.latestVersion(client, study.id)) + 1;
      await this.reports.insert(client, { studyRef: study.id, version, kind: 'addendum', authorUserId: me, content: storedContent(content, first.tiradsSystem as TiradsSystem), signed: true });
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'C',
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        details: { what: 'report', version, kind: 'addendum', status: 'signed', tirads: content.nodules.length },
      });
      const signed = await this.mustRead(client, study.id, version);
      return { view: toView(signed), sr: await this.records.prepare(client, signed, study.id, me), clinicId: study.clinicId };
    });
    await this.storeSr(sr, view.id, clinicId, caller);
    return view;
  }

  async aiResults(caller: Caller, studyUid: string): Promise<AiResultsView> {
    const { rows, clinicId } = await inTransaction(this.pool, async (client) => {
      const study = await this.visibleStudy(client, caller, studyUid, false);
      return { rows: await this.reports.aiResults(client, study.id), clinicId: study.clinicId };
    });
    await auditRead(this.audit, caller, {
      type: 'DICOM Instances Accessed',
      studyInstanceUid: studyUid,
      clinicId,
      details: { what: 'ai-results', count: rows.length },
    });
    return { studyInstanceUid: studyUid, results: rows.map(aiResultView) };
  }

  async clinicStudies(caller: Caller, query: ClinicStudiesQuery): Promise<{ items: ClinicStudyView[]; nextCursor: string | null }> {
    const rows = await this.reports.clinicStudies(this.pool, {
      principal: caller.principal,
      limit: query.limit + 1,
      ...(query.status ? { statuses: query.status } : {}),
      ...(query.cursor ? { after: decodeClinicStudiesCursor(query.cursor) } : {}),
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    await auditRead(this.audit, caller, {
      type: 'Query',
      clinicId: caller.principal.clinicId,
      details: { what: 'clinic-studies', count: page.length, studies: page.map((r) => r.studyInstanceUid) },
    });
    return {
      items: page.map((r) => ({
        studyInstanceUid: r.studyInstanceUid,
        patientName: r.patientName,
        patientId: r.patientId,
        studyDate: r.studyDate,
        studyDescription: r.studyDescription,
        modalities: r.modalities,
        numberOfInstances: r.numberOfInstances,
        receivedAt: r.receivedAt.toISOString(),
        status: r.status,
        signedReport: r.signedVersions > 0,
        signedVersions: r.signedVersions,
        lastSignedAt: r.lastSignedAt?.toISOString() ?? null,
      })),
      nextCursor: rows.length > query.limit && last ? encodeClinicStudiesCursor({ receivedAt: last.receivedKey, id: last.id }) : null,
    };
  }

  /** The study if the caller's clinics include it (tenancy in SQL), else 404: another clinic's study looks absent. */
  private async visibleStudy(client: PoolClient, caller: Caller, studyUid: string, forUpdate: boolean): Promise<StudyState> {
    const study = await this.studies.state(client, studyUid, caller.principal, forUpdate);
    if (!study) throw new AppError('not_found', 'Study not found');
    return study;
  }

  private async assertAiResult(client: PoolClient, content: ReportContent, studyRef: string): Promise<void> {
    if (content.aiResultRef !== null && !(await this.reports.aiResultBelongsTo(client, content.aiResultRef, studyRef))) {
      throw new AppError('bad_request', 'aiResultRef is not an AI result of this study', { details: { fields: ['aiResultRef'] } });
    }
    if (content.aiResultRef === null || content.nodules.length === 0) return;
    const fields = aiFieldMismatches(content.nodules, await this.reports.aiResultImages(client, content.aiResultRef, studyRef));
    if (fields.length > 0) throw new AppError('bad_request', 'Fields marked as the AI’s differ from the AI result they cite', { details: { fields } });
  }

  private async mustRead(client: PoolClient, studyRef: string, version: number): Promise<ReportRow> {
    const row = await this.reports.byVersion(client, studyRef, version);
    if (!row) throw new Error(`report version ${version} vanished inside its own transaction`);
    return row;
  }
}

export interface ClinicStudyView {
  studyInstanceUid: string;
  patientName: string | null;
  patientId: string | null;
  studyDate: string | null;
  studyDescription: string | null;
  modalities: string[];
  numberOfInstances: number;
  receivedAt: string;
  status: ReadingStatus;
  signedReport: boolean;
  signedVersions: number;
  lastSignedAt: string | null;
}

function assertHoldsClaim(study: StudyState, me: string): void {
  if (study.readingStatus === 'reported') throw new AppError('conflict', 'The study is reported; add an addendum instead');
  if (!(study.claimActive && study.claimedBy === me)) throw new AppError('conflict', 'Claim the study before writing its report');
}

/** The request's content with the server's scores: a client's TR level never reaches the record. */
function storedContent(content: ReportContent, system: TiradsSystem): StoredContent {
  const nodules = scoreNodules(content.nodules, system);
  return { ...content, nodules, tiradsCategory: overallLevel(nodules) ?? content.tiradsCategory, tiradsSystem: system };
}

function isEmpty(findings: string, impression: string, nodules: readonly unknown[]): boolean {
  return findings.trim() === '' && impression.trim() === '' && nodules.length === 0;
}

/**
 * Signing needs every nodule field assessed and confirmed: an AI suggestion the reader neither confirmed
 * nor changed is not their finding. "Accept AI findings" in the web app confirms them all in one action.
 */
function assertConfirmed(nodules: Parameters<typeof unconfirmedFields>[0], system: string): void {
  const fields = unconfirmedFields(nodules, system);
  if (fields.length > 0) throw new AppError('unprocessable', `${fields.length} nodule field(s) are not confirmed; confirm or change each before signing`, { details: { fields } });
}

function toView(r: ReportRow): ReportVersionView {
  return {
    id: r.id,
    version: r.version,
    kind: r.kind,
    status: r.status,
    tiradsCategory: r.tiradsCategory,
    findings: r.findings,
    impression: r.impression,
    aiResultRef: r.aiResultRef,
    aiSuggestionAccepted: r.aiSuggestionAccepted,
    nodules: storedNodules(r.nodules),
    tiradsSystem: r.tiradsSystem,
    cTiradsCategory: overallCTirads(storedNodules(r.nodules), r.tiradsSystem),
    author: { userId: r.authorUserId, username: r.authorUsername, displayName: r.authorDisplayName },
    signedAt: r.signedAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}

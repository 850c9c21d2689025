import { once } from 'node:events';
import type { Response } from 'express';
import { z } from 'zod';
import type { Pool } from '@yunying/catalog';
import { auditActor, parseInput, SecureRouter, type Authenticator, type AuthedRequest } from '@yunying/auth';
import type {} from '@yunying/http';
import type { WormRecordTarget } from '@yunying/storage';
import { AuditLog, iterateAuditEvents, type AuditEventFilter } from './audit.repository';
import { csvLine, type CsvCell } from './csv';
import { AUDIT_EVENT_TYPES, type AuditRecord } from './event-types';
import { clinicRetentionSummary, iterateStudyRetention, listStudyRetention, type RetentionFilter, type StudyRetention } from './retention.repository';
import { verifyAuditSegments } from './segment.verify';
import { verifyAuditChain, type CheckpointVerification } from './verify';

export interface AuditRouterOptions {
  pool: Pool;
  auth: Authenticator;
  /** A copy not verified for this long makes its study "at risk" (default 7 days). */
  staleVerificationSeconds?: number;
  now?: () => Date;
  /** Router name in the route registry (default 'audit'). */
  name?: string;
  /** Signed checkpoints to verify the chain against (truncation of the tail); none: the chain alone. */
  checkpoints?: CheckpointVerification;
  /** Exported audit segments to check the rows against (deleted or edited records); none: not checked. */
  segments?: { targets: readonly WormRecordTarget[]; chain: string };
}

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const uid = z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64);
const datetime = z.iso.datetime({ offset: true });

const eventsQuery = z.object({
  study: uid.optional(),
  user: z.string().min(1).max(128).optional(),
  type: z.enum(AUDIT_EVENT_TYPES as [string, ...string[]]).optional(),
  clinic: uuid.optional(),
  from: datetime.optional(),
  to: datetime.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.coerce.number().int().min(1).optional(),
});

const retentionQuery = z.object({
  clinic: uuid.optional(),
  study: uid.optional(),
  atRisk: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
});

function eventFilter(query: z.output<typeof eventsQuery>): AuditEventFilter {
  return {
    ...(query.study !== undefined ? { studyInstanceUid: query.study } : {}),
    ...(query.user !== undefined ? { user: query.user } : {}),
    ...(query.type !== undefined ? { type: query.type as AuditEventFilter['type'] } : {}),
    ...(query.clinic !== undefined ? { clinicId: query.clinic } : {}),
    ...(query.from !== undefined ? { from: new Date(query.from) } : {}),
    ...(query.to !== undefined ? { to: new Date(query.to) } : {}),
  };
}

const EVENT_COLUMNS: { header: string; value: (r: AuditRecord) => CsvCell }[] = [
  { header: 'seq', value: (r) => r.seq },
  { header: 'occurred_at', value: (r) => r.occurredAt },
  { header: 'event_type', value: (r) => r.eventType },
  { header: 'event_code', value: (r) => `DCM ${r.eventCode}` },
  { header: 'action', value: (r) => r.action },
  { header: 'outcome', value: (r) => r.outcome },
  { header: 'actor_username', value: (r) => r.actorUsername },
  { header: 'actor_user_id', value: (r) => r.actorUserId },
  { header: 'actor_role', value: (r) => r.actorRole },
  { header: 'actor_clinic', value: (r) => r.actorClinic },
  { header: 'source_ip', value: (r) => r.sourceIp },
  { header: 'request_id', value: (r) => r.requestId },
  { header: 'study_instance_uid', value: (r) => r.studyInstanceUid },
  { header: 'clinic_id', value: (r) => r.clinicId },
  { header: 'details', value: (r) => JSON.stringify(r.details) },
  { header: 'hash', value: (r) => r.hash },
];

const RETENTION_COLUMNS: { header: string; value: (r: StudyRetention) => CsvCell }[] = [
  { header: 'study_instance_uid', value: (r) => r.studyInstanceUid },
  { header: 'clinic_code', value: (r) => r.clinicCode },
  { header: 'instances', value: (r) => r.instances },
  { header: 'copies_present', value: (r) => r.copiesPresent },
  { header: 'copies_required', value: (r) => r.copiesRequired },
  { header: 'last_verified_at', value: (r) => r.lastVerifiedAt },
  { header: 'retain_until', value: (r) => r.retainUntil },
  { header: 'copies_retain_until', value: (r) => r.copiesRetainUntil },
  { header: 'lock_modes', value: (r) => r.lockModes },
  { header: 'legal_hold', value: (r) => r.legalHold },
  { header: 'at_risk', value: (r) => r.atRisk },
  { header: 'risks', value: (r) => r.risks },
];

async function streamCsv<T>(res: Response, filename: string, columns: { header: string; value: (row: T) => CsvCell }[], rows: AsyncIterable<T>): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  res.setHeader('Cache-Control', 'no-store');
  res.write(csvLine(columns.map((c) => c.header)));
  for await (const row of rows) {
    if (!res.write(csvLine(columns.map((c) => c.value(row))))) await once(res, 'drain');
  }
  res.end();
}

/**
 * The auditor console's API (roles auditor and admin): access history, audit chain verification and
 * retention status, each also as CSV. Every CSV export is itself recorded (PS3.15 Export, DCM 110106)
 * before the first byte is sent. No route returns pixel data or patient identifiers.
 */
export function createAuditRouter(options: AuditRouterOptions): SecureRouter {
  const { pool } = options;
  const log = new AuditLog(pool);
  const now = options.now ?? (() => new Date());
  const staleMs = (options.staleVerificationSeconds ?? 7 * 24 * 3600) * 1000;
  const routes = new SecureRouter(options.name ?? 'audit', options.auth);
  const policy = { scope: 'audit', roles: ['auditor', 'admin'] } as const;

  const recordExport = async (req: AuthedRequest, kind: string, filters: Record<string, string>, studyInstanceUid?: string): Promise<void> => {
    await log.append({
      type: 'Export',
      action: 'R',
      actor: auditActor(req.principal),
      sourceIp: req.ip ?? null,
      requestId: req.requestId ?? null,
      studyInstanceUid: studyInstanceUid ?? null,
      details: { kind, format: 'csv', filters },
    });
  };

  const retentionFilter = (query: z.output<typeof retentionQuery>): RetentionFilter => ({
    staleBefore: new Date(now().getTime() - staleMs),
    ...(query.clinic !== undefined ? { clinicId: query.clinic } : {}),
    ...(query.study !== undefined ? { studyInstanceUid: query.study } : {}),
    ...(query.atRisk === 'true' ? { atRiskOnly: true } : {}),
  });

  const stringFilters = (query: Record<string, string | number | undefined>): Record<string, string> =>
    Object.fromEntries(Object.entries(query).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));

  routes.get('/api/audit/events', { ...policy, description: 'access history by study, user, time range' }, async (req, res) => {
    const query = parseInput(eventsQuery, req.query, 'query');
    const page = await log.query({
      ...eventFilter(query),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
      ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    });
    res.json(page);
  });

  routes.get('/api/audit/events.csv', { ...policy, description: 'access history export (audited)' }, async (req, res) => {
    const query = parseInput(eventsQuery, req.query, 'query');
    await recordExport(req, 'audit-events', stringFilters({ ...query, limit: undefined, cursor: undefined }), query.study);
    await streamCsv(res, `audit-events-${now().toISOString().slice(0, 10)}.csv`, EVENT_COLUMNS, iterateAuditEvents(pool, eventFilter(query)));
  });

  routes.get('/api/audit/verify', { ...policy, description: 'audit chain verification' }, async (_req, res) => {
    const result = await verifyAuditChain(pool, options.checkpoints ? { checkpoints: options.checkpoints } : {});
    const segments =
      options.segments && options.checkpoints ? await verifyAuditSegments(pool, options.segments.targets, options.segments.chain, options.checkpoints.publicKeys) : undefined;
    res.json({ ...result, ...(segments ? { segments } : {}), verifiedAt: now().toISOString() });
  });

  routes.get('/api/audit/retention', { ...policy, description: 'retention per clinic and per study, at risk first' }, async (req, res) => {
    const query = parseInput(retentionQuery, req.query, 'query');
    const filter = retentionFilter(query);
    const [clinics, studies] = await Promise.all([
      clinicRetentionSummary(pool, req.principal, filter),
      listStudyRetention(pool, req.principal, {
        ...filter,
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.offset !== undefined ? { offset: query.offset } : {}),
      }),
    ]);
    res.json({ staleBefore: filter.staleBefore.toISOString(), clinics, ...studies });
  });

  routes.get('/api/audit/retention.csv', { ...policy, description: 'retention export (audited)' }, async (req, res) => {
    const query = parseInput(retentionQuery, req.query, 'query');
    await recordExport(req, 'retention', stringFilters({ ...query, limit: undefined, offset: undefined }), query.study);
    await streamCsv(res, `retention-${now().toISOString().slice(0, 10)}.csv`, RETENTION_COLUMNS, iterateStudyRetention(pool, req.principal, retentionFilter(query)));
  });

  return routes;
}

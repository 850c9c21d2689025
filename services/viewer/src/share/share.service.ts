import { randomUUID } from 'node:crypto';
import type { AuditSink } from '@yunying/audit';
import { auditActor, type Principal } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import type { ReplicatedStore } from '@yunying/storage';
import { findInstances } from '@yunying/archive';
import { decodeStoredFrame, withFrames } from '../dicomweb/frames';
import { renderFrame } from '../dicomweb/render';
import { shownImages } from '../key-images';
import { ShareRepository, type ShareRow } from './share.repository';
import { codeHash, codeMatches, newAccessCode, newShareToken, tokenHash } from './share.token';

export interface ShareLimits {
  /** Expiry when the creator names none (days). */
  defaultDays: number;
  /** The longest expiry a creator may choose (days). */
  maxDays: number;
  /** Images a share shows at most (the reader's key images, else one per series). */
  maxImages: number;
}

export const DEFAULT_SHARE_LIMITS: ShareLimits = { defaultDays: 30, maxDays: 90, maxImages: 12 };

/** The rendered key image: fits a phone screen at 2x and stays small on a mobile network. */
const IMAGE_VIEWPORT = { width: 1024, height: 1024 };

/** What the clinic sees of a share: never the token (it was shown once, at creation). */
export interface ShareView {
  id: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  accessCode: boolean;
  status: 'active' | 'expired' | 'revoked';
  viewCount: number;
  lastViewedAt: string | null;
}

export interface CreatedShare extends ShareView {
  /** The capability: shown once, only its hash is stored. */
  token: string;
  /** Path of the phone page; the token travels in the fragment, which browsers never send to a server. */
  path: string;
  /** Shown once, for the patient (SMS, print-out); null when the share has no code. */
  code: string | null;
}

/**
 * What the public page gets: the images by number and the latest signed report, nothing else. `keyImages`
 * says whether they are the reader's key images (from the study's KOS) or, none being marked, the first
 * image of each series.
 */
export interface PublicShare {
  expiresAt: string;
  keyImages: 'marked' | 'first-of-series';
  images: { number: number }[];
  report: { kind: string; version: number; signedAt: string; tiradsCategory: string | null; findings: string; impression: string } | null;
}

/** One answer for unknown, expired and revoked links: a caller learns nothing about the study behind them. */
function unavailable(): AppError {
  return new AppError('not_found', 'This share link is not valid: it may have expired or been revoked by the clinic', { details: { shareUnavailable: true } });
}

function view(row: ShareRow, now: Date): ShareView {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    accessCode: row.hasCode,
    status: row.revokedAt !== null ? 'revoked' : row.expiresAt <= now ? 'expired' : 'active',
    viewCount: row.viewCount,
    lastViewedAt: row.lastViewedAt?.toISOString() ?? null,
  };
}

/** Share links (#20, 云胶片 / 互认): created and revoked by the study's clinic, opened without an account. */
export class ShareService {
  private readonly repo: ShareRepository;

  constructor(
    private readonly pool: Pool,
    private readonly store: ReplicatedStore,
    private readonly audit: AuditSink,
    private readonly limits: ShareLimits = DEFAULT_SHARE_LIMITS,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.repo = new ShareRepository(pool);
  }

  /** The study within the caller's clinics; 404 otherwise, exactly as for a study that does not exist. */
  private async study(principal: Principal, studyUid: string): Promise<{ studyRef: string; clinicId: string }> {
    const found = await this.repo.studyInScope(studyUid, principal);
    if (found === null) throw new AppError('not_found', 'Not found');
    return found;
  }

  async create(principal: Principal, sourceIp: string | null, studyUid: string, input: { expiresInDays?: number | undefined; accessCode?: boolean | undefined }): Promise<CreatedShare> {
    if (principal.userId === undefined) throw new AppError('forbidden', 'Only a signed-in user can share a study');
    const days = input.expiresInDays ?? this.limits.defaultDays;
    if (days > this.limits.maxDays) throw new AppError('bad_request', `expiresInDays must be at most ${this.limits.maxDays}`);
    const study = await this.study(principal, studyUid);
    const id = randomUUID();
    const token = newShareToken();
    const code = input.accessCode === true ? newAccessCode() : null;
    const hash = tokenHash(token);
    if (hash === null) throw new Error('generated token does not match its own pattern');
    const row = await this.repo.insert({
      id,
      studyRef: study.studyRef,
      clinicId: study.clinicId,
      tokenSha256: hash,
      codeSha256: code === null ? null : codeHash(id, code),
      createdBy: principal.userId,
      expiresAt: new Date(this.now().getTime() + days * 86_400_000),
    });
    await this.audit.append({
      type: 'Export',
      action: 'C',
      actor: auditActor(principal),
      sourceIp,
      studyInstanceUid: studyUid,
      clinicId: study.clinicId,
      details: { action: 'share-create', shareId: id, expiresAt: row.expiresAt.toISOString(), accessCode: code !== null },
    });
    return { ...view(row, this.now()), token, path: `/share#${token}`, code };
  }

  async list(principal: Principal, studyUid: string): Promise<ShareView[]> {
    const study = await this.study(principal, studyUid);
    const now = this.now();
    return (await this.repo.forStudy(study.studyRef)).map((r) => view(r, now));
  }

  async revoke(principal: Principal, sourceIp: string | null, studyUid: string, shareId: string): Promise<ShareView> {
    const study = await this.study(principal, studyUid);
    if (principal.userId === undefined || !(await this.repo.revoke(shareId, study.studyRef, principal.userId))) throw new AppError('not_found', 'Not found');
    await this.audit.append({
      type: 'Export',
      action: 'U',
      actor: auditActor(principal),
      sourceIp,
      studyInstanceUid: studyUid,
      clinicId: study.clinicId,
      details: { action: 'share-revoke', shareId },
    });
    const row = await this.repo.byId(shareId);
    if (row === null) throw new AppError('not_found', 'Not found');
    return view(row, this.now());
  }

  /**
   * The share behind a token, checked on every request (so a revocation applies to the next image
   * already): unknown, its study disposed of, expired, revoked, locked, missing or wrong code. Refusals of a known share are
   * audited with its id; the token itself is never written anywhere.
   */
  private async open(token: string, code: string | undefined, sourceIp: string | null): Promise<ShareRow> {
    const hash = tokenHash(token);
    const row = hash === null ? null : await this.repo.byTokenHash(hash);
    if (row === null) throw unavailable();
    const now = this.now();
    const refuse = async (reason: string, error: AppError): Promise<never> => {
      await this.audit.append({
        type: 'Security Alert',
        outcome: 4,
        actor: { username: `share:${row.id}` },
        sourceIp,
        clinicId: row.clinicId,
        details: { action: 'share-refused', shareId: row.id, reason },
      });
      throw error;
    };
    // The study's retention ended and it was disposed of: its signed report stays in the catalog, but a
    // link made while it was kept no longer shows it.
    if (row.disposedAt !== null) return refuse('disposed', unavailable());
    if (row.revokedAt !== null) return refuse('revoked', unavailable());
    if (row.expiresAt <= now) return refuse('expired', unavailable());
    if (row.codeSha256 !== null) {
      if (row.codeLockedUntil !== null && row.codeLockedUntil > now) {
        const retryAfterSeconds = Math.max(1, Math.ceil((row.codeLockedUntil.getTime() - now.getTime()) / 1000));
        return refuse('locked', new AppError('too_many_requests', 'Too many wrong access codes; try again later', { retryAfterSeconds }));
      }
      // No code yet is a question, not a guess: the page asks for it, nothing is counted.
      if (code === undefined || code === '') throw new AppError('unauthenticated', 'This link needs its access code', { details: { accessCodeRequired: true } });
      if (!codeMatches(row.id, code, row.codeSha256)) {
        await this.repo.recordCodeFailure(row.id);
        return refuse('wrong-code', new AppError('unauthenticated', 'The access code is not right', { details: { accessCodeRequired: true } }));
      }
    }
    return row;
  }

  private async accessed(row: ShareRow, sourceIp: string | null, details: Record<string, string | number>): Promise<void> {
    // PS3.15 A.5.3.2 "DICOM Instances Accessed", attributed to the share (no account is behind it).
    await this.audit.append({
      type: 'DICOM Instances Accessed',
      actor: { username: `share:${row.id}` },
      sourceIp,
      studyInstanceUid: row.studyInstanceUid,
      clinicId: row.clinicId,
      details: { shareId: row.id, ...details },
    });
  }

  async view(token: string, code: string | undefined, sourceIp: string | null): Promise<PublicShare> {
    const row = await this.open(token, code, sourceIp);
    const shown = await shownImages(this.pool, this.store, row.studyRef, this.limits.maxImages);
    const report = await this.repo.latestSignedReport(row.studyRef);
    await this.accessed(row, sourceIp, { action: 'share-view', images: shown.images.length, keyImages: shown.source, reportVersion: report?.version ?? 0 });
    await this.repo.recordView(row.id);
    return {
      expiresAt: row.expiresAt.toISOString(),
      keyImages: shown.source,
      images: shown.images.map((_, i) => ({ number: i + 1 })),
      report: report === null ? null : { ...report, signedAt: report.signedAt.toISOString() },
    };
  }

  /** Image `number` (1-based) as a JPEG: the marked frame of a key image (else frame 1 of a series' first image), rendered here. */
  async image(token: string, code: string | undefined, sourceIp: string | null, number: number): Promise<Buffer> {
    const row = await this.open(token, code, sourceIp);
    const key = (await shownImages(this.pool, this.store, row.studyRef, this.limits.maxImages)).images[number - 1];
    if (key === undefined) throw new AppError('not_found', 'No such image in this share');
    // The catalog query of WADO-RS, scoped to the share's own clinic and study: the same rows a clinic user sees.
    const principal: Principal = { kind: 'device', username: `share:${row.id}`, role: 'clinic', clinicId: row.clinicId, clinics: { all: false, clinicIds: [row.clinicId] } };
    const [instance] = await findInstances(this.pool, principal, { studyInstanceUid: row.studyInstanceUid, seriesInstanceUid: key.seriesInstanceUid, sopInstanceUid: key.sopInstanceUid }, { json: true, frames: true });
    if (instance === undefined || instance.frames === null || instance.frames.length === 0) throw new AppError('not_found', 'No such image in this share');
    if (key.frameNumber > instance.frames.length) throw new AppError('not_found', 'No such image in this share');
    const frame = await decodeStoredFrame(this.store, withFrames(instance), key.frameNumber - 1);
    // Never enlarged: a small ultrasound frame upscaled would only cost bandwidth on a phone network.
    const viewport = { width: Math.min(IMAGE_VIEWPORT.width, frame.width), height: Math.min(IMAGE_VIEWPORT.height, frame.height) };
    const body = await renderFrame(frame, { format: 'jpeg', viewport, quality: 85 });
    await this.accessed(row, sourceIp, { action: 'share-image', image: number, sopInstanceUid: key.sopInstanceUid, frame: key.frameNumber });
    return body;
  }
}

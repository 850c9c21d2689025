import { randomUUID } from 'node:crypto';
import type { AuditSink } from '@yunying/audit';
import type { IngestPipeline } from '@yunying/archive';
import { currentImagesOf, inTransaction, readStudyHeader, type Pool, type PoolClient } from '@yunying/catalog';
import { AppError, type Logger } from '@yunying/core';
import { auditRead, auditReading, userIdOf, type Caller } from '../reading/reading.audit';
import { storeBuiltObject } from '../reading/record/write-path';
import { buildKeyObjectSelection, KOS_TITLES, kosTitleOfCode, type BuiltKos, type KeyImageRef, type KosTitle } from './key-images.kos';
import { KeyImageRepository, type SelectionRow } from './key-images.repository';

export interface KeyImagesInput {
  title: KosTitle;
  images: { sopInstanceUid: string; frameNumber: number | null }[];
}

export interface KeyImagesView {
  studyInstanceUid: string;
  revision: number;
  title: KosTitle | null;
  images: KeyImageRef[];
  /** The KOS that records this revision; null when nothing is marked (or before the first save). */
  kos: { sopInstanceUid: string; stored: boolean } | null;
}

function view(studyUid: string, row: SelectionRow | null): KeyImagesView {
  if (row === null) return { studyInstanceUid: studyUid, revision: 0, title: null, images: [], kos: null };
  return {
    studyInstanceUid: studyUid,
    revision: row.revision,
    title: kosTitleOfCode(row.titleCode),
    images: row.images,
    kos: row.kosSopInstanceUid === null ? null : { sopInstanceUid: row.kosSopInstanceUid, stored: row.kosStoredAt !== null },
  };
}

const sameImages = (a: readonly KeyImageRef[], b: readonly KeyImageRef[]): boolean =>
  a.length === b.length && a.every((x, i) => x.sopInstanceUid === b[i]?.sopInstanceUid && x.frameNumber === b[i]?.frameNumber);

/**
 * Key images (#20): the reader saves the study's key images; each saved revision is written as a Key
 * Object Selection document through the one write path (three locked copies, the study's retention), as
 * the study's clinic, attributed to the reader. Like the report SR, the KOS is stored after the commit
 * (the write path takes the study row this transaction holds); a save that did not finish storing is
 * finished by the next save of the same selection, with the same bytes.
 */
export class KeyImageService {
  private readonly repo: KeyImageRepository;

  constructor(private readonly deps: { pool: Pool; pipeline: IngestPipeline; logger: Logger; audit: AuditSink }) {
    this.repo = new KeyImageRepository(deps.pool);
  }

  private async study(client: PoolClient, caller: Caller, studyUid: string, forUpdate: boolean): Promise<{ studyRef: string; clinicId: string }> {
    const found = await this.repo.studyInScope(client, studyUid, caller.principal, forUpdate);
    if (found === null) throw new AppError('not_found', 'Study not found');
    return found;
  }

  async current(caller: Caller, studyUid: string): Promise<KeyImagesView> {
    const { study, row } = await inTransaction(this.deps.pool, async (client) => {
      const study = await this.study(client, caller, studyUid, false);
      return { study, row: await this.repo.latest(client, study.studyRef) };
    });
    await auditRead(this.deps.audit, caller, { type: 'DICOM Instances Accessed', studyInstanceUid: studyUid, clinicId: study.clinicId, details: { what: 'key-images', revision: row?.revision ?? 0 } });
    return view(studyUid, row);
  }

  async save(caller: Caller, studyUid: string, input: KeyImagesInput): Promise<KeyImagesView> {
    const me = userIdOf(caller);
    const { row, kos, clinicId } = await inTransaction(this.deps.pool, async (client) => {
      const study = await this.study(client, caller, studyUid, true);
      const images = await this.resolve(client, study.studyRef, input.images);
      const titleCode = KOS_TITLES[input.title].value;
      const latest = await this.repo.latest(client, study.studyRef);
      // The same selection again changes nothing, except finishing a store that did not complete.
      if (latest !== null && latest.titleCode === titleCode && sameImages(latest.images, images)) {
        const pending = latest.kosSopInstanceUid !== null && latest.kosStoredAt === null ? await this.rebuild(client, latest) : null;
        return { row: latest, kos: pending, clinicId: study.clinicId };
      }
      if (latest === null && images.length === 0) return { row: null, kos: null, clinicId: study.clinicId };
      const id = randomUUID();
      const revision = (latest?.revision ?? 0) + 1;
      // Whole seconds, as DICOM times are written here, so a rebuild from the row gives the same bytes.
      const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000);
      const built = images.length === 0 ? null : await this.build(client, study.studyRef, { id, revision, titleCode, images, createdAt, readerName: await this.repo.readerName(client, me) });
      await this.repo.insert(client, { id, studyRef: study.studyRef, revision, titleCode, images, createdBy: me, createdAt, kos: built });
      await auditReading(client, caller, {
        type: 'DICOM Instances Accessed',
        action: 'C',
        studyInstanceUid: studyUid,
        clinicId: study.clinicId,
        details: { what: 'key-images', revision, images: images.length, ...(built ? { kos: built.sopInstanceUid } : {}) },
      });
      return { row: await this.repo.byId(client, id), kos: built, clinicId: study.clinicId };
    });
    if (row !== null && kos !== null) await this.store(kos, row.id, clinicId, caller);
    const saved = row === null ? null : await this.repo.byId(this.deps.pool, row.id);
    return view(studyUid, saved);
  }

  /** The marked images as the catalog holds them: unknown, non-image or out-of-range frames are refused by path. */
  private async resolve(client: PoolClient, studyRef: string, marks: KeyImagesInput['images']): Promise<KeyImageRef[]> {
    const found = await currentImagesOf(client, studyRef, [...new Set(marks.map((m) => m.sopInstanceUid))]);
    const bad: string[] = [];
    const seen = new Set<string>();
    const images: KeyImageRef[] = [];
    marks.forEach((m, i) => {
      const instance = found.get(m.sopInstanceUid);
      const frames = instance?.numberOfFrames ?? 1;
      if (instance === undefined || (m.frameNumber !== null && m.frameNumber > frames)) {
        bad.push(`images[${i}]`);
        return;
      }
      // A frame of a multi-frame image is named; a single-frame image is the image.
      const frameNumber = frames > 1 ? (m.frameNumber ?? 1) : null;
      const key = `${m.sopInstanceUid}/${frameNumber ?? 0}`;
      if (seen.has(key)) return;
      seen.add(key);
      images.push({ seriesInstanceUid: instance.seriesInstanceUid, sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid, frameNumber });
    });
    if (bad.length > 0) throw new AppError('bad_request', 'Key images must be images (and frames) of this study', { details: { fields: bad } });
    return images;
  }

  private async build(
    client: PoolClient,
    studyRef: string,
    s: { id: string; revision: number; titleCode: string; images: KeyImageRef[]; createdAt: Date; readerName: string },
  ): Promise<BuiltKos> {
    const study = await readStudyHeader(client, studyRef);
    if (study === null) throw new Error('study vanished inside the key-image transaction');
    const title = kosTitleOfCode(s.titleCode);
    if (title === null) throw new Error(`unknown KOS title code ${s.titleCode}`);
    return buildKeyObjectSelection(study.header, { selectionId: s.id, revision: s.revision, title, images: s.images, createdAt: s.createdAt, readerName: s.readerName, institutionName: study.clinicName });
  }

  private async rebuild(client: PoolClient, row: SelectionRow): Promise<BuiltKos> {
    const built = await this.build(client, row.studyRef, { id: row.id, revision: row.revision, titleCode: row.titleCode, images: row.images, createdAt: row.createdAt, readerName: row.readerName });
    if (built.sha256 !== row.kosSha256) throw new Error('key image KOS is not reproducible from its row');
    return built;
  }

  private async store(kos: BuiltKos, selectionId: string, clinicId: string, caller: Caller): Promise<void> {
    await storeBuiltObject(
      this.deps,
      { bytes: kos.bytes, what: 'key image KOS', context: { selectionId }, notStored: 'The key images are saved but their DICOM document is not stored yet; save again to retry' },
      clinicId,
      caller,
    );
    await this.repo.markStored(selectionId);
  }
}

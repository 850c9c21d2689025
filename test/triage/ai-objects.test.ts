import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { naturalizedDataset, unpackBinaryPixels } from '@yunying/dicom';
import { newUid } from '@yunying/dicom/testing';
import { readStoredFile, systemStorageKeyFile } from '@yunying/storage/testing';
import { findExecutable, recordSkip, sharedDataDir } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { frameInstance, results, settledResult } from './triage.support';

const run = promisify(execFile);

interface ScoredEntry {
  status: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  rows: number;
  columns: number;
  nodules: { index: number; outline: [number, number][]; tiradsPoints: number; trLevel: string }[];
}

type Dataset = Record<string, unknown>;
const seq = (d: unknown, key: string): Dataset[] => ((d as Dataset | undefined)?.[key] as Dataset[] | undefined) ?? [];

/** A pixel is in the nodule when its centre is inside the outline (centres exactly on it may go either way). */
function inside(outline: [number, number][], x: number, y: number): boolean {
  let hit = false;
  for (let i = 0, j = outline.length - 1; i < outline.length; j = i++) {
    const [xi, yi] = outline[i] ?? [0, 0];
    const [xj, yj] = outline[j] ?? [0, 0];
    if (yi <= y !== yj <= y && x < xi + ((y - yi) / (yj - yi)) * (xj - xi)) hit = !hit;
  }
  return hit;
}

function onOutline(outline: [number, number][], x: number, y: number): boolean {
  return outline.some(([x1, y1], i) => {
    const [x2, y2] = outline[(i + 1) % outline.length] ?? [x1, y1];
    const cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1);
    const within = x >= Math.min(x1, x2) - 1e-9 && x <= Math.max(x1, x2) + 1e-9 && y >= Math.min(y1, y2) - 1e-9 && y <= Math.max(y1, y2) + 1e-9;
    return within && Math.abs(cross) < 1e-6;
  });
}

/**
 * #15 "AI results as standard objects" over the real system (launcher, Postgres, Redis, three fs
 * replicas): a real triage run on whole DDTI frames writes, through the one write path, a TID 1500
 * measurement report (read by dcmtk's dsrdump) and one DICOM SEG per scored image whose frames are the
 * stored result's nodule outlines, each with three locked copies; neither object re-triggers triage.
 */
describe('AI results as DICOM objects (system)', () => {
  let system: RunningSystem;
  const ddti = sharedDataDir('thyroid/ddti-frames');
  const withData = ddti ? it : it.skip;
  if (!ddti) recordSkip('AI objects after a real triage (system)', 'shared data folder thyroid/ddti-frames is absent');
  const dsrdump = findExecutable('dsrdump');

  beforeAll(async () => {
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
  });

  async function stored(sopInstanceUid: string): Promise<{ bytes: Buffer; copies: { target: string; lock_mode: string; retain_until: Date }[]; modality: string; sopClassUid: string }> {
    const { rows } = await system.pool.query<{ sha256: string; object_key: string; modality: string; sop_class_uid: string }>(
      `SELECT i.sha256, o.object_key, se.modality, i.sop_class_uid FROM instances i JOIN objects o ON o.sha256 = i.sha256 JOIN series se ON se.id = i.series_ref
        WHERE i.sop_instance_uid = $1 AND i.is_current`,
      [sopInstanceUid],
    );
    const row = rows[0];
    if (!row) throw new Error(`instance ${sopInstanceUid} is not in the catalog`);
    const copies = await system.pool.query<{ target: string; lock_mode: string; retain_until: Date }>(
      "SELECT target, lock_mode, retain_until FROM copies WHERE sha256 = $1 AND state = 'ok' ORDER BY target",
      [row.sha256],
    );
    // Every replica holds the same bytes; read the first.
    const bytes = await readStoredFile(path.join(system.dataDir, 'replica-a', ...row.object_key.split('/')), systemStorageKeyFile(system.dataDir));
    return { bytes, copies: copies.rows, modality: row.modality, sopClassUid: row.sop_class_uid };
  }

  withData('writes a TID 1500 report and a SEG of the nodule outline, three copies each, that read back as the result says', async () => {
    if (!dsrdump) throw new Error('dcmtk dsrdump is required (installed in CI)');
    const studyUid = newUid();
    const frames = ['images/296_1.jpg', 'images/296_2.jpg'];
    const files = await Promise.all(frames.map((f) => frameInstance(path.join(ddti ?? '', f), { studyInstanceUid: studyUid })));
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', files, studyUid)).status).toBe(200);
    const result = await settledResult(system.pool, studyUid, 2);
    expect(result.status).toBe('triaged');
    const scored = (result.images as unknown as ScoredEntry[]).filter((i) => i.status === 'scored');
    expect(scored.length).toBeGreaterThan(0);

    // The measurement report: Comprehensive SR, TID 1500, three locked copies, valid for dcmtk.
    const sr = await stored(result.sr_sop_instance_uid ?? '');
    expect(sr.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.88.33');
    expect(sr.modality).toBe('SR');
    expect(sr.copies.map((c) => [c.target, c.lock_mode])).toEqual([
      ['fs-1', 'FS_READONLY'],
      ['fs-2', 'FS_READONLY'],
      ['fs-3', 'FS_READONLY'],
    ]);
    const srFile = path.join(system.dataDir, 'report.dcm');
    fs.writeFileSync(srFile, sr.bytes);
    const dump = await run('dsrdump', ['-v', '+Pt', '+Pn', srFile]);
    expect(dump.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('VR checker does not support this Specific Character Set'))).toEqual([]);
    expect(dump.stdout).toContain('# TID 1500 (DCMR)');
    expect(dump.stdout).toContain('Imaging Measurement Report');
    expect(dump.stdout).toContain(`Device Observer Name`);
    expect(dump.stdout).toContain(result.model_version);
    const report = naturalizedDataset(sr.bytes);
    const measurements = seq(report, 'ContentSequence').find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === '126010');
    const groups = seq(measurements, 'ContentSequence');
    expect(groups).toHaveLength(scored.reduce((n, i) => n + i.nodules.length, 0));
    const firstGroup = seq(groups[0], 'ContentSequence');
    const level = firstGroup.find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === 'ACR_TIRADS_LEVEL');
    expect(seq(level, 'ConceptCodeSequence')[0]?.CodeValue).toBe(scored[0]?.nodules[0]?.trLevel);
    // The outline: a SCOORD the area is inferred from, selected from the scored image.
    const area = firstGroup.find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === '42798000');
    const outline = seq(area, 'ContentSequence').find((c) => c.ValueType === 'SCOORD');
    expect(outline?.GraphicType).toBe('POLYLINE');
    expect(seq(seq(outline, 'ContentSequence')[0], 'ReferencedSOPSequence')[0]?.ReferencedSOPInstanceUID).toBe(scored[0]?.sopInstanceUid);

    // One SEG per scored image, in the same study, derived from that image, with the outline as its frames.
    const segs = await system.pool.query<{ sop_instance_uid: string }>(
      `SELECT i.sop_instance_uid FROM instances i JOIN studies s ON s.id = i.study_ref
        WHERE s.study_instance_uid = $1 AND i.sop_class_uid = '1.2.840.10008.5.1.4.1.1.66.4' AND i.is_current`,
      [studyUid],
    );
    expect(segs.rows).toHaveLength(scored.length);
    const source = await stored(scored[0]?.sopInstanceUid ?? '');
    for (const { sop_instance_uid } of segs.rows) {
      const seg = await stored(sop_instance_uid);
      expect(seg.modality).toBe('SEG');
      expect(seg.copies.map((c) => c.target)).toEqual(['fs-1', 'fs-2', 'fs-3']);
      // Retention: the SEG arrived after its source, so its lock reaches at least as far.
      for (const c of seg.copies) expect(c.retain_until.getTime()).toBeGreaterThanOrEqual(Math.min(...source.copies.map((s) => s.retain_until.getTime())));
      const ds = naturalizedDataset(seg.bytes);
      expect(ds.StudyInstanceUID).toBe(studyUid);
      const ref = seq(seq(seq(ds, 'PerFrameFunctionalGroupsSequence')[0], 'DerivationImageSequence')[0], 'SourceImageSequence')[0];
      const entry = scored.find((i) => i.sopInstanceUid === ref?.ReferencedSOPInstanceUID);
      if (!entry) throw new Error('the SEG does not reference a scored image');
      expect(seq(ds, 'ReferencedSeriesSequence')[0]?.SeriesInstanceUID).toBe(entry.seriesInstanceUid);
      expect([ds.Rows, ds.Columns]).toEqual([entry.rows, entry.columns]);
      expect(ds.NumberOfFrames).toBe(entry.nodules.length);
      const bits = unpackBinaryPixels(new Uint8Array((ds.PixelData as ArrayBuffer[])[0] ?? new ArrayBuffer(0)));
      const pixels = entry.rows * entry.columns;
      entry.nodules.forEach((n, f) => {
        let set = 0;
        let differ = 0;
        for (let y = 0; y < entry.rows; y++) {
          for (let x = 0; x < entry.columns; x++) {
            const on = (bits[f * pixels + y * entry.columns + x] ?? 0) !== 0;
            if (on) set++;
            if (on !== inside(n.outline, x + 0.5, y + 0.5) && !onOutline(n.outline, x + 0.5, y + 0.5)) differ++;
          }
        }
        expect(set).toBeGreaterThan(0);
        expect(differ).toBe(0);
      });
    }

    // The objects triage wrote are not images of the study: no result for a larger instance count.
    const all = await results(system.pool, studyUid);
    expect(all.every((r) => r.instance_count <= 2)).toBe(true);
  }, 240_000);
});

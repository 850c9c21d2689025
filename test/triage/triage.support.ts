import path from 'node:path';
import type { Pool } from '@yunying/catalog';
import type { InstanceOptions, PixelPattern } from '@yunying/dicom/testing';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { loadTriageManifest, readRgbImage } from '@yunying/nodule-model';
import { REPO_ROOT } from '../support/processes';
import { waitFor } from '../support/wait';

export { waitFor };

export interface ManifestFacts {
  id: string;
  version: string;
  sha256: string;
  triage: number;
  urgent: number;
  gate: number;
}

/** The shipped manifest, read at test time (the model may be retrained; the tests follow it). */
export function shippedManifest(): ManifestFacts {
  const m = loadTriageManifest(path.join(REPO_ROOT, 'models/thyroid-nodule'));
  return { id: m.id, version: m.version, sha256: m.sha256, triage: m.thresholds.triage.value, urgent: m.thresholds.urgent.value, gate: m.gate.threshold };
}

/**
 * A PNG/JPEG frame (e.g. a whole DDTI frame) as an RGB US instance of a study. Like most machines' output
 * it names no body part and has no descriptions (the fixture defaults say thyroid), unless `options` add them.
 */
export async function frameInstance(file: string, options: InstanceOptions = {}): Promise<Buffer> {
  const rgb = await readRgbImage(file);
  return makeInstance({
    studyDescription: '',
    seriesDescription: '',
    ...options,
    extra: { BodyPartExamined: null, ...options.extra },
    rows: rgb.height,
    columns: rgb.width,
    photometric: 'RGB',
    pixelPattern: (_frame, row, column, sample) => rgb.data[(row * rgb.width + column) * 3 + sample] ?? 0,
  });
}

/**
 * A thyroid-like frame: a black canvas with a burned-in text banner (rows 0..9: black with white
 * strokes), a speckled mid-gray "tissue" area and a dark oval "nodule" centred at (cx, cy).
 */
export function nodulePattern(cx: number, cy: number, rx: number, ry: number, options: { border?: number; frameShift?: number } = {}): PixelPattern {
  const border = options.border ?? 0;
  return (frame, row, column, sample) => {
    if (row < 10) return column % 6 === 0 && row > 2 && row < 8 ? 250 : 0;
    if (column < border) return 2;
    const x = column - cx - frame * (options.frameShift ?? 0);
    const y = row - cy;
    const speckle = ((row * 31 + column * 17) * (column + 3) + row * row * 5) % 97;
    const inside = (x * x) / (rx * rx) + (y * y) / (ry * ry) <= 1;
    const value = inside ? 18 + (speckle % 30) : 70 + speckle;
    return sample === 0 ? value : Math.max(0, value - 4 * sample);
  };
}

export interface ResultRow {
  id: string;
  model_id: string;
  model_version: string;
  model_sha256: string;
  instance_count: number;
  status: string;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: string | null;
  thresholds: { triage: { value: number }; urgent: { value: number }; gate?: { value: number } };
  images: Record<string, unknown>[];
  timings: Record<string, unknown>;
  sr_sop_instance_uid: string | null;
  gate: Record<string, unknown> | null;
}

export async function results(pool: Pool, studyInstanceUid: string): Promise<ResultRow[]> {
  const { rows } = await pool.query<ResultRow>(
    `SELECT r.* FROM ai_results r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1 ORDER BY r.instance_count, r.created_at`,
    [studyInstanceUid],
  );
  return rows;
}

/**
 * The served triage's result for the study once it has seen `instanceCount` instances, waited for (the
 * quiet period, then the model). A triaged result counts once its SR is stored too: the SR adds an
 * instance to the study, and a test that reads the study after this sees it settled. Generous timeout:
 * on a loaded 2-core CI machine several studies queue behind one another.
 */
export function settledResult(pool: Pool, studyInstanceUid: string, instanceCount = 1, timeoutMs = 150_000): Promise<ResultRow> {
  return waitFor(
    `triage of ${studyInstanceUid}`,
    async () => (await results(pool, studyInstanceUid)).find((r) => r.instance_count === instanceCount && (r.status !== 'triaged' || r.sr_sop_instance_uid !== null)),
    timeoutMs,
  );
}

export async function studyRow(pool: Pool, studyInstanceUid: string): Promise<{ priority: string; triage_status: string; reading_status: string; ai_result_ref: string | null }> {
  const { rows } = await pool.query<{ priority: string; triage_status: string; reading_status: string; ai_result_ref: string | null }>(
    'SELECT priority, triage_status, reading_status, ai_result_ref FROM studies WHERE study_instance_uid = $1',
    [studyInstanceUid],
  );
  const row = rows[0];
  if (!row) throw new Error('study not found');
  return row;
}

export function expectedPriority(score: number, m: ManifestFacts): string {
  if (score >= m.urgent) return 'urgent';
  if (score >= m.triage) return 'priority';
  return 'routine';
}

/**
 * One calibrated ultrasound frame with a dark nodule that the served model finds (thyroid by the image gate: no
 * body part, no descriptions), for a patient of the caller's choosing.
 */
export function noduleFrameStudy(patient: { patientName: string; patientId: string; charset?: InstanceOptions['charset'] }): { studyUid: string; file: Buffer } {
  const studyUid = newUid();
  const file = makeInstance({
    studyInstanceUid: studyUid,
    rows: 120,
    columns: 160,
    sequenceOfUltrasoundRegions: true,
    studyDescription: '',
    seriesDescription: '',
    pixelPattern: nodulePattern(60, 65, 20, 14),
    ...(patient.charset !== undefined ? { charset: patient.charset } : {}),
    patientName: patient.patientName,
    patientId: patient.patientId,
    extra: { BodyPartExamined: null },
  });
  return { studyUid, file };
}

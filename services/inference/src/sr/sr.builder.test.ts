import { parseInstance } from '@yunying/dicom';
import type { ScoredImage } from '../triage/result';
import type { StoredResult, StudyHeader } from '../triage/triage.repository';
import { COMPREHENSIVE_SR, buildTriageSr, srUids } from './sr.builder';

const header: StudyHeader = {
  studyInstanceUid: '2.25.1001',
  patientName: '王^小明',
  patientId: 'P1',
  patientBirthDate: '19800101',
  patientSex: 'F',
  studyDate: '20240102',
  studyTime: '101500',
  accessionNumber: 'A1',
  referringPhysicianName: null,
  studyId: '1',
};

const image: ScoredImage = {
  status: 'scored',
  sopInstanceUid: '2.25.2002',
  seriesInstanceUid: '2.25.3003',
  sopClassUid: '1.2.840.10008.5.1.4.1.1.3.1',
  score: 0.91,
  category: 'urgent',
  frameNumber: 2,
  numberOfFrames: 3,
  rows: 100,
  columns: 120,
  thyroid: 0.97,
  box: { x: 20, y: 20, width: 30, height: 25 },
  outline: [
    [20, 20],
    [50, 20],
    [50, 45],
    [20, 45],
  ],
  nodules: [
    {
      index: 1,
      source: 'auto',
      confidence: 0.93,
      box: { x: 20, y: 20, width: 30, height: 25 },
      outline: [
        [20, 20],
        [50, 20],
        [50, 45],
        [20, 45],
      ],
      score: 0.91,
      lexicon: [
        { item: 'composition', code: 'solid', label: 'Solid or almost completely solid', points: 2, confidence: 0.8, probabilities: {}, basis: 'model' },
        { item: 'echogenicity', code: 'hypo', label: 'Hypoechoic', points: 2, confidence: 0.6, probabilities: {}, basis: 'model' },
        { item: 'shape', code: 'wider', label: 'Wider-than-tall', points: 0, confidence: 1, probabilities: {}, basis: 'outline' },
        { item: 'margin', code: 'smooth', label: 'Smooth', points: 0, confidence: 0.7, probabilities: {}, basis: 'model' },
        { item: 'echogenicFoci', code: 'punctate', label: 'Punctate echogenic foci', points: 3, confidence: 0.55, probabilities: {}, basis: 'model' },
      ],
      tiradsPoints: 7,
      trLevel: 'TR5',
      sizeMm: null,
    },
  ],
  frames: [],
  inferenceMs: 5,
};

const result: StoredResult = {
  id: 'r1',
  studyRef: '1',
  modelId: 'thyroid-nodule-tirads4plus',
  modelVersion: '1.0.0',
  modelSha256: 'a'.repeat(64),
  instanceCount: 3,
  status: 'triaged',
  reason: null,
  score: 0.91,
  category: 'urgent',
  priority: 'urgent',
  thresholds: { triage: { value: 0.7, rule: 'r' }, urgent: { value: 0.9, rule: 'r' } },
  images: [image],
  timings: {},
  gate: null,
  createdAt: new Date('2024-01-02T10:20:30Z'),
  srSopInstanceUid: null,
};

describe('triage SR', () => {
  it('is a Comprehensive SR of the same study, in its own series, with UIDs derived from the result key', () => {
    const sr = buildTriageSr({ result, header, scored: [image] });
    const parsed = parseInstance(sr.bytes);
    expect(parsed.sopClassUid).toBe(COMPREHENSIVE_SR);
    expect(parsed.studyInstanceUid).toBe(header.studyInstanceUid);
    expect(parsed.sopInstanceUid).toBe(srUids(header.studyInstanceUid, result.modelId, result.modelVersion, 3).instance);
    expect(parsed.seriesInstanceUid).toBe(sr.seriesInstanceUid);
    expect(parsed.attributes.Modality).toBe('SR');
    expect(parsed.attributes.PatientName).toBe('王^小明');
    expect(srUids(header.studyInstanceUid, result.modelId, result.modelVersion, 4).instance).not.toBe(sr.sopInstanceUid);
  });

  it('carries the model identity, the score and the outline as a SCOORD selected from the referenced frame', () => {
    const sr = buildTriageSr({ result, header, scored: [image] });
    const json = JSON.stringify(parseInstance(sr.bytes).dicomJson);
    expect(json).toContain('thyroid-nodule-tirads4plus');
    expect(json).toContain('a'.repeat(64));
    expect(json).toContain('"POLYLINE"');
    expect(json).toContain('"SELECTED FROM"');
    expect(json).toContain('2.25.2002');
    expect(json).toMatch(/"00081160":\{"vr":"IS","Value":\[2\]\}/);
    // The nodule's ACR lexicon as the model read it, marked as a suggestion, and its TR level.
    expect(json).toContain('Punctate echogenic foci (3 points, AI-suggested)');
    expect(json).toContain('"TR5"');
  });

  it('is byte-identical when built again from the same stored result (a re-run is already_stored)', () => {
    const a = buildTriageSr({ result, header, scored: [image] });
    const b = buildTriageSr({ result: { ...result }, header: { ...header }, scored: [{ ...image }] });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });
});

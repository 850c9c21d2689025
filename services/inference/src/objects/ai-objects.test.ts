import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { StoredAiResult, StudyHeader } from '@yunying/catalog';
import { naturalizedDataset, parseInstance, unpackBinaryPixels } from '@yunying/dicom';
import { describeUnless, findExecutable } from '../../../../test/support/skip';
import type { ScoredImage } from '../triage/result';
import { COMPREHENSIVE_SR, buildMeasurementReport, noduleMeasurements, reportUids } from './measurement-report';
import { SEGMENTATION_STORAGE, buildNoduleSeg, segUids } from './nodule-seg';
import { maskPixelCount, outlineMask } from './outline-mask';
import { UNKNOWN_SOURCE, sourceFactsOf, type SourceFacts } from './source-facts';

const run = promisify(execFile);

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

/** A hexagon-ish hull as the model's outline (not a box: the mask must follow the polygon). */
const OUTLINE: [number, number][] = [
  [30, 20],
  [50, 22],
  [58, 35],
  [48, 46],
  [28, 44],
  [21, 31],
];

const lexicon: ScoredImage['nodules'][number]['lexicon'] = [
  { item: 'composition', code: 'solid', label: 'Solid or almost completely solid', points: 2, confidence: 0.8, probabilities: {}, basis: 'model' },
  { item: 'echogenicity', code: 'hypo', label: 'Hypoechoic', points: 2, confidence: 0.6, probabilities: {}, basis: 'model' },
  { item: 'shape', code: 'wider', label: 'Wider-than-tall', points: 0, confidence: 1, probabilities: {}, basis: 'outline' },
  { item: 'margin', code: 'smooth', label: 'Smooth', points: 0, confidence: 0.7, probabilities: {}, basis: 'model' },
  { item: 'echogenicFoci', code: 'punctate', label: 'Punctate echogenic foci', points: 3, confidence: 0.55, probabilities: {}, basis: 'model' },
];

const image: ScoredImage = {
  status: 'scored',
  sopInstanceUid: '2.25.2002',
  seriesInstanceUid: '2.25.3003',
  sopClassUid: '1.2.840.10008.5.1.4.1.1.3.1',
  score: 0.91,
  category: 'urgent',
  frameNumber: 2,
  numberOfFrames: 3,
  rows: 64,
  columns: 80,
  thyroid: 0.97,
  box: { x: 21, y: 20, width: 37, height: 26 },
  outline: OUTLINE,
  nodules: [
    { index: 1, source: 'auto', confidence: 0.93, box: { x: 21, y: 20, width: 37, height: 26 }, outline: OUTLINE, score: 0.91, lexicon, tiradsPoints: 7, trLevel: 'TR5', sizeMm: { long: 11.1, short: 7.8 } },
    {
      index: 2,
      source: 'auto',
      confidence: 0.71,
      box: { x: 60, y: 50, width: 10, height: 8 },
      outline: [
        [60, 50],
        [70, 50],
        [70, 58],
        [60, 58],
      ],
      score: 0.4,
      lexicon,
      tiradsPoints: 7,
      trLevel: 'TR5',
      sizeMm: { long: 3, short: 2.4 },
    },
  ],
  frames: [],
  inferenceMs: 5,
};

const result: StoredAiResult = {
  id: 'r1',
  studyRef: '1',
  modelId: 'thyroid-nodule-tirads4plus',
  modelVersion: '3.3.0',
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

const calibrated: SourceFacts = { frameOfReferenceUid: '2.25.4004', pixelSpacing: [0.3, 0.3], pixelMm: { x: 0.3, y: 0.3 }, imageOrientation: null, sliceThickness: 1 };

type Dataset = Record<string, unknown>;
const seq = (d: unknown, key: string): Dataset[] => ((d as Dataset)[key] as Dataset[] | undefined) ?? [];
/** Code Value, or Long Code Value for codes longer than SH allows. */
const codeOf = (item: Dataset | undefined): unknown => item?.CodeValue ?? item?.LongCodeValue;

/** Every Code Value in a dataset (nested sequences included). */
function codeValues(d: unknown): string[] {
  if (Array.isArray(d)) return d.flatMap(codeValues);
  if (typeof d !== 'object' || d === null) return [];
  return Object.entries(d).flatMap(([k, v]) => (k === 'CodeValue' && typeof v === 'string' ? [v] : codeValues(v)));
}

describe('outline mask', () => {
  it('is the pixels whose centres lie inside the polygon: not its box', () => {
    const mask = outlineMask(OUTLINE, 80, 64);
    expect(mask[32 * 80 + 40]).toBe(1);
    // The box's corners are outside the hull.
    expect(mask[20 * 80 + 21]).toBe(0);
    expect(mask[45 * 80 + 57]).toBe(0);
    const boxPixels = 37 * 26;
    const n = maskPixelCount(mask);
    expect(n).toBeLessThan(boxPixels);
    // The shoelace area of the polygon: the pixel count approximates it within the boundary's pixels.
    const shoelace = Math.abs(OUTLINE.reduce((s, [x, y], i) => {
      const [x2, y2] = OUTLINE[(i + 1) % OUTLINE.length] ?? [0, 0];
      return s + x * y2 - x2 * y;
    }, 0)) / 2;
    expect(Math.abs(n - shoelace)).toBeLessThan(0.1 * shoelace);
  });
});

describe('nodule SEG', () => {
  const seg = buildNoduleSeg({ result, header, image, source: calibrated });
  const ds = naturalizedDataset(seg.bytes);

  it('is a BINARY Segmentation of the same study, one segment per nodule, with UIDs from the result key', () => {
    const parsed = parseInstance(seg.bytes);
    expect(parsed.sopClassUid).toBe(SEGMENTATION_STORAGE);
    expect(parsed.studyInstanceUid).toBe(header.studyInstanceUid);
    expect(parsed.sopInstanceUid).toBe(segUids(header, result, image).instance);
    expect(ds.Modality).toBe('SEG');
    expect(ds.SegmentationType).toBe('BINARY');
    expect(ds.BitsAllocated).toBe(1);
    expect(ds.Rows).toBe(64);
    expect(ds.Columns).toBe(80);
    expect(ds.NumberOfFrames).toBe(2);
    expect(ds.FrameOfReferenceUID).toBe('2.25.4004');
    const segments = seg.bytes && seq(ds, 'SegmentSequence');
    expect(segments.map((s) => s.SegmentLabel)).toEqual(['Nodule 1', 'Nodule 2']);
    expect(segments[0]?.SegmentAlgorithmType).toBe('AUTOMATIC');
    expect(seq(segments[0], 'SegmentedPropertyTypeCodeSequence')[0]?.CodeValue).toBe('27925004');
    expect(seq(ds, 'ReferencedSeriesSequence')[0]?.SeriesInstanceUID).toBe(image.seriesInstanceUid);
    const shared = seq(ds, 'SharedFunctionalGroupsSequence')[0];
    expect(seq(shared, 'PixelMeasuresSequence')[0]).toMatchObject({ PixelSpacing: [0.3, 0.3], SliceThickness: 1 });
    // A frame of reference without the thickness to state: the SEG is not placed in it.
    const flat = naturalizedDataset(buildNoduleSeg({ result, header, image, source: { ...calibrated, sliceThickness: null } }).bytes);
    expect(flat.FrameOfReferenceUID).toBeUndefined();
    // No orientation in the source: the frame's own axes (what OHIF assumes for such a source).
    expect(seq(shared, 'PlaneOrientationSequence')[0]?.ImageOrientationPatient).toEqual([1, 0, 0, 0, 1, 0]);
    expect(segUids(header, { ...result, instanceCount: 4 }, image).instance).not.toBe(seg.sopInstanceUid);
  });

  it('derives each frame from the scored source frame and stores the outline mask bit for bit', () => {
    const frames = seq(ds, 'PerFrameFunctionalGroupsSequence');
    expect(frames).toHaveLength(2);
    frames.forEach((f, i) => {
      const source = seq(seq(f, 'DerivationImageSequence')[0], 'SourceImageSequence')[0];
      expect(source?.ReferencedSOPInstanceUID).toBe(image.sopInstanceUid);
      expect(source?.ReferencedFrameNumber).toBe(2);
      expect(seq(f, 'SegmentIdentificationSequence')[0]?.ReferencedSegmentNumber).toBe(i + 1);
    });
    const pixelData = (ds.PixelData as ArrayBuffer[])[0] ?? new ArrayBuffer(0);
    const unpacked = unpackBinaryPixels(new Uint8Array(pixelData));
    const pixels = 64 * 80;
    image.nodules.forEach((n, i) => {
      const expected = outlineMask(n.outline, 80, 64);
      const stored = unpacked.subarray(i * pixels, (i + 1) * pixels);
      let differ = 0;
      for (let p = 0; p < pixels; p++) if ((stored[p] !== 0) !== (expected[p] === 1)) differ++;
      expect(differ).toBe(0);
      expect(maskPixelCount(expected)).toBeGreaterThan(0);
    });
  });

  it('is byte-identical when built again (a re-run is already_stored)', () => {
    const again = buildNoduleSeg({ result: { ...result }, header: { ...header }, image: { ...image }, source: { ...calibrated } });
    expect(Buffer.from(again.bytes).equals(Buffer.from(seg.bytes))).toBe(true);
  });
});

describe('TID 1500 measurement report', () => {
  const segUid = segUids(header, result, image).instance;
  const build = (source: SourceFacts) =>
    buildMeasurementReport({ result, header, scored: [image], sources: new Map([[image.sopInstanceUid, source]]), segs: new Map([[image.sopInstanceUid, segUid]]) });

  it('is a Comprehensive SR following TID 1500 with the model as device observer and one group per nodule', () => {
    const sr = build(calibrated);
    const parsed = parseInstance(sr.bytes);
    expect(parsed.sopClassUid).toBe(COMPREHENSIVE_SR);
    expect(parsed.sopInstanceUid).toBe(reportUids(header, result).instance);
    const ds = naturalizedDataset(sr.bytes);
    expect(seq(ds, 'ContentTemplateSequence')[0]?.TemplateIdentifier).toBe('1500');
    expect(seq(ds, 'ConceptNameCodeSequence')[0]?.CodeValue).toBe('126000');
    const content = seq(ds, 'ContentSequence');
    const observer = content.find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === '121005');
    expect(seq(observer, 'ConceptCodeSequence')[0]?.CodeValue).toBe('121007');
    const measurements = content.find((c) => seq(c, 'ConceptNameCodeSequence')[0]?.CodeValue === '126010');
    const groups = seq(measurements, 'ContentSequence');
    expect(groups).toHaveLength(2);
    const items = seq(groups[0], 'ContentSequence');
    const byCode = (v: string): Dataset | undefined => items.find((c) => codeOf(seq(c, 'ConceptNameCodeSequence')[0]) === v);
    expect(byCode('112039')?.TextValue).toBe('Cornerstone3DTools@^0.1.0:PlanarFreehandROI:Nodule 1');
    expect(byCode('112040')?.UID).toBe(seq(naturalizedDataset(buildNoduleSeg({ result, header, image, source: calibrated }).bytes), 'SegmentSequence')[0]?.TrackingUID);
    expect(seq(byCode('121071'), 'ConceptCodeSequence')[0]?.CodeValue).toBe('27925004');
    // TID 1501: the area is the group's first NUM and is inferred from the outline (TID 320).
    expect(items.find((c) => c.ValueType === 'NUM')).toBe(byCode('42798000'));
    const scoord = seq(byCode('42798000'), 'ContentSequence')[0];
    expect(scoord?.RelationshipType).toBe('INFERRED FROM');
    expect(scoord?.GraphicType).toBe('POLYLINE');
    // Closed: the first point repeated.
    expect((scoord?.GraphicData as number[]).slice(-2)).toEqual([30, 20]);
    const from = seq(scoord, 'ContentSequence')[0];
    expect(from?.RelationshipType).toBe('SELECTED FROM');
    expect(seq(from, 'ReferencedSOPSequence')[0]?.ReferencedSOPInstanceUID).toBe(image.sopInstanceUid);
    const value = (v: string): { n: number; unit: unknown } => {
      const m = seq(byCode(v), 'MeasuredValueSequence')[0];
      return { n: Number(m?.NumericValue), unit: seq(m, 'MeasurementUnitsCodeSequence')[0]?.CodeValue };
    };
    expect(value('103339001')).toEqual({ n: 11.1, unit: 'mm' });
    expect(value('103340004')).toEqual({ n: 7.8, unit: 'mm' });
    const area = maskPixelCount(outlineMask(OUTLINE, 80, 64)) * 0.09;
    expect(value('42798000').unit).toBe('mm2');
    expect(value('42798000').n).toBeCloseTo(area, 1);
    expect(value('ACR_TIRADS_POINTS')).toEqual({ n: 7, unit: '{points}' });
    expect(seq(byCode('ACR_TIRADS_LEVEL'), 'ConceptCodeSequence')[0]?.CodeValue).toBe('TR5');
    // Private codes longer than SH's 16 characters are Long Code Values (PS3.3 8.8).
    expect(seq(byCode('ACR_TIRADS_COMPOSITION'), 'ConceptCodeSequence')[0]?.LongCodeValue).toBe('ACR_COMPOSITION_SOLID');
    expect(codeValues(ds).filter((v) => v.length > 16)).toEqual([]);
  });

  it('measures in pixels when the frame is not calibrated', () => {
    const m = noduleMeasurements(image.nodules[0] ?? image.nodules[1]!, image, UNKNOWN_SOURCE);
    expect(m).toEqual({ long: 37, short: 26, area: maskPixelCount(outlineMask(OUTLINE, 80, 64)), calibrated: false });
    const json = JSON.stringify(naturalizedDataset(build(UNKNOWN_SOURCE).bytes).ContentSequence);
    expect(json).toContain('"{pixels}"');
    expect(json).not.toContain('"mm2"');
  });

  it('reads calibration and frame of reference from the source DICOM JSON', () => {
    expect(sourceFactsOf({ '00200052': { vr: 'UI', Value: ['2.25.9'] }, '00280030': { vr: 'DS', Value: [0.2, 0.25] } })).toEqual({
      frameOfReferenceUid: '2.25.9',
      pixelSpacing: [0.2, 0.25],
      pixelMm: { x: 0.25, y: 0.2 },
      imageOrientation: null,
      sliceThickness: null,
    });
  });

  const dsrdump = findExecutable('dsrdump');
  describeUnless(dsrdump ? null : 'dcmtk dsrdump is not installed', 'read by dcmtk', () => {
    it('dsrdump parses it with no IOD or relationship constraint violation and shows the TID 1500 tree', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tid1500-'));
      try {
        const file = path.join(dir, 'report.dcm');
        fs.writeFileSync(file, build(calibrated).bytes);
        const dump = await run('dsrdump', ['-v', '+Pt', '+Pn', file]);
        // dcmtk checks the Comprehensive SR IOD's relationship content constraints; a violation is an E:/W: line.
        const notes = dump.stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('VR checker does not support this Specific Character Set'));
        expect(notes).toEqual([]);
        expect(dump.stdout).toContain('# TID 1500 (DCMR)');
        expect(dump.stdout).toContain('Comprehensive SR Document');
        expect(dump.stdout).toContain('Imaging Measurement Report');
        expect(dump.stdout).toContain('Device Observer UID');
        expect(dump.stdout).toContain('Measurement Group');
        expect(dump.stdout).toContain('Long Axis');
        expect(dump.stdout).toContain('ACR TI-RADS TR5');
        expect(dump.stdout).toContain('POLYLINE');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

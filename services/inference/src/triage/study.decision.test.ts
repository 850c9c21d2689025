import { loadTriageManifest, type NoduleFinding, type ScopeAttributes } from '@yunying/nodule-model';
import type { ImageAnalysis } from './analyse';
import { decideStudy } from './study.decision';

const manifest = loadTriageManifest();
const gate = manifest.gate.threshold;
const noScope: ScopeAttributes = { bodyPartExamined: '', anatomicRegion: '', descriptions: '', procedureCodes: '' };

function nodule(score: number): NoduleFinding {
  return { index: 1, source: 'auto', confidence: 0.9, box: { x: 1, y: 1, width: 10, height: 10 }, outline: [], score, lexicon: [], tiradsPoints: 0, trLevel: 'TR1', sizeMm: null };
}

function image(uid: string, thyroid: number, score: number | null, scope: ScopeAttributes = noScope): ImageAnalysis {
  return {
    status: 'analysed',
    sopInstanceUid: uid,
    rows: 10,
    columns: 10,
    numberOfFrames: 1,
    scope,
    thyroid,
    colourFrames: 0,
    best: score === null ? null : { frameNumber: 1, nodules: [nodule(score)] },
    frames: [],
    unconfidentCandidates: score === null ? 2 : 0,
    inferenceMs: 1,
  };
}

describe('study decision', () => {
  it('triages an in-scope study by its most suspicious confident nodule', () => {
    const out = decideStudy([image('1', 0.99, 0.2), image('2', 0.99, 0.95)], manifest);
    expect(out.status).toBe('triaged');
    if (out.status !== 'triaged') return;
    expect(out.score).toBe(0.95);
    expect(out.best.image.sopInstanceUid).toBe('2');
    expect(out.gate.decidedBy).toBe('image');
  });

  it('keeps a study the images do not show as thyroid out of the queue order, with the likelihood in the reason', () => {
    const out = decideStudy([image('1', gate / 2, 0.99), image('2', gate / 3, 0.99)], manifest);
    expect(out.status).toBe('not_triaged');
    expect(out.status === 'not_triaged' && out.reason).toMatch(/do not look like a B-mode thyroid ultrasound/);
  });

  it('uses the median over the images, so one thyroid-looking frame does not carry a study', () => {
    expect(decideStudy([image('1', 0.99, 0.9), image('2', gate / 2, null), image('3', gate / 2, null)], manifest).status).toBe('not_triaged');
  });

  it('lets attributes naming another body part decide without the pixels', () => {
    const out = decideStudy([image('1', 0.99, 0.99, { ...noScope, bodyPartExamined: 'BREAST' })], manifest);
    expect(out).toMatchObject({ status: 'not_triaged', gate: { decidedBy: 'attributes' } });
    expect(out.status === 'not_triaged' && out.reason).toMatch(/breast/);
  });

  it('lets thyroid attributes admit a study the image gate would doubt', () => {
    const out = decideStudy([image('1', 0.01, 0.7, { ...noScope, descriptions: '甲状腺' })], manifest);
    expect(out).toMatchObject({ status: 'triaged', gate: { decidedBy: 'attributes' } });
  });

  it('tells no nodule found apart from out of scope', () => {
    const out = decideStudy([image('1', 0.99, null)], manifest);
    expect(out.status).toBe('no_nodule_found');
    expect(out.status === 'no_nodule_found' && out.reason).toMatch(/no confident nodule on 1 image\(s\) \(2 weak candidate/);
  });

  it('says why when no image could be read at all', () => {
    const out = decideStudy([{ status: 'not_usable', sopInstanceUid: '1', reason: 'colour-Doppler or colour-overlay frames only (1 sampled)', scope: noScope, inferenceMs: 0 }], manifest);
    expect(out).toMatchObject({ status: 'not_triaged', gate: null });
    expect(out.status === 'not_triaged' && out.reason).toMatch(/colour-Doppler/);
  });
});

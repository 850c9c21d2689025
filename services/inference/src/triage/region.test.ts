import { makeInstance } from '@yunying/dicom/testing';
import { parseInstance } from '@yunying/dicom';
import { crop, regionFromPixels, regionFromSequence, ultrasoundRegion } from './region';

/** A frame: black canvas, white text rows at the top, tissue (mid-gray speckle) in [x0,x1) x [y0,y1). */
function frame(width: number, height: number, tissue: { x0: number; y0: number; x1: number; y1: number }): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inTissue = x >= tissue.x0 && x < tissue.x1 && y >= tissue.y0 && y < tissue.y1;
      const text = y >= 2 && y < 8 && x % 5 === 0;
      out[y * width + x] = inTissue ? 60 + ((x * 13 + y * 7) % 120) : text ? 255 : 3;
    }
  }
  return out;
}

describe('ultrasound region', () => {
  it('finds the tissue area without the black border and the burned-in text rows', () => {
    const gray = frame(200, 150, { x0: 30, y0: 20, x1: 170, y1: 140 });
    expect(regionFromPixels(gray, 200, 150)).toEqual({ x: 30, y: 20, width: 140, height: 120, source: 'heuristic' });
  });

  it('keeps tissue rows that contain dark structures (a hypoechoic nodule is not a border)', () => {
    const gray = frame(120, 100, { x0: 10, y0: 12, x1: 110, y1: 95 });
    // A dark nodule 30 px wide across rows 40..60 leaves most of each row mid-gray.
    for (let y = 40; y < 60; y++) for (let x = 40; x < 70; x++) gray[y * 120 + x] = 5;
    expect(regionFromPixels(gray, 120, 100)).toMatchObject({ x: 10, y: 12, width: 100, height: 83 });
  });

  it('returns null for a blank frame and refuses regions that are too small', () => {
    expect(regionFromPixels(new Uint8Array(64 * 64), 64, 64)).toBeNull();
    const tiny = frame(64, 64, { x0: 10, y0: 10, x1: 20, y1: 20 });
    expect(ultrasoundRegion({}, tiny, 64, 64)).toBeNull();
  });

  it('prefers SequenceOfUltrasoundRegions (tissue region, clamped) over the heuristic', () => {
    const parsed = parseInstance(makeInstance({ rows: 80, columns: 100, sequenceOfUltrasoundRegions: true }));
    expect(regionFromSequence(parsed.dicomJson, 100, 80)).toEqual({ x: 0, y: 0, width: 100, height: 80, source: 'sequence_of_ultrasound_regions' });
    const dataset = {
      '00186011': {
        vr: 'SQ',
        Value: [
          // A larger non-tissue region (e.g. a spectral Doppler strip) and a smaller tissue one.
          { '00186014': { vr: 'US', Value: [3] }, '00186018': { vr: 'UL', Value: [0] }, '0018601A': { vr: 'UL', Value: [0] }, '0018601C': { vr: 'UL', Value: [99] }, '0018601E': { vr: 'UL', Value: [79] } },
          { '00186014': { vr: 'US', Value: [1] }, '00186018': { vr: 'UL', Value: [10] }, '0018601A': { vr: 'UL', Value: [5] }, '0018601C': { vr: 'UL', Value: [500] }, '0018601E': { vr: 'UL', Value: [49] } },
        ],
      },
    };
    expect(ultrasoundRegion(dataset, new Uint8Array(100 * 80), 100, 80)).toEqual({ x: 10, y: 5, width: 90, height: 45, source: 'sequence_of_ultrasound_regions' });
  });

  it('crops a rectangle row by row', () => {
    const gray = Uint8Array.from({ length: 5 * 4 }, (_, i) => i);
    expect([...crop(gray, 5, { x: 1, y: 2, width: 3, height: 2 })]).toEqual([11, 12, 13, 16, 17, 18]);
  });
});

describe('ultrasound region over drawn lines', () => {
  it('is not split by a thin bright box edge drawn across the tissue', () => {
    const gray = frame(300, 200, { x0: 20, y0: 30, x1: 280, y1: 180 });
    for (let y = 60; y < 150; y++) gray[y * 300 + 100] = 255; // a Doppler box edge
    for (let y = 60; y < 150; y++) gray[y * 300 + 101] = 255;
    expect(regionFromPixels(gray, 300, 200)).toEqual({ x: 20, y: 30, width: 260, height: 150, source: 'heuristic' });
  });
});

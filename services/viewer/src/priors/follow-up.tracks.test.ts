import type { VisitFinding } from './follow-up.findings';
import { findingsOf } from './follow-up.findings';
import { noduleTracks } from './follow-up.tracks';

function f(x: number, y: number, long: number | null, short: number | null = long): VisitFinding {
  return { centre: { x, y }, sizeMm: long === null || short === null ? null : { long, short }, sopInstanceUid: '1.2', frameNumber: 1, trLevel: 'TR3', confidence: 0.9 };
}

describe('nodule follow-up tracks', () => {
  it('flags a nodule grown by the ACR rule, keeps a stable one stable, and names new and gone ones', () => {
    const tracks = noduleTracks([
      [f(0.3, 0.5, 10, 8), f(0.7, 0.5, 6, 5), f(0.5, 0.9, 4)],
      [f(0.32, 0.5, 12, 10), f(0.71, 0.5, 6.5, 5.5), f(0.1, 0.1, 5)],
    ]);
    expect(tracks.map((t) => [t.label, t.status, t.history.map((h) => h?.sizeMm?.long ?? null)])).toEqual([
      ['N1', 'grown', [10, 12]],
      ['N2', 'new', [null, 5]],
      ['N3', 'stable', [6, 6.5]],
      ['N4', 'gone', [4, null]],
    ]);
    expect(tracks[0]?.growth.sincePrevious).toMatchObject({ significant: true, criterion: 'dimensions', dimensionsGrown: 2 });
  });

  it('compares with the first measurement too: slow growth over two years counts', () => {
    const [track] = noduleTracks([[f(0.5, 0.5, 10, 10)], [f(0.5, 0.5, 11, 11)], [f(0.5, 0.5, 12, 12)]]);
    expect(track?.status).toBe('grown');
    expect(track?.growth.sincePrevious?.significant).toBe(false);
    expect(track?.growth.sinceFirst?.significant).toBe(true);
  });

  it('says unmeasured when the frame was not calibrated', () => {
    expect(noduleTracks([[f(0.5, 0.5, null)], [f(0.5, 0.5, 12)]])[0]?.status).toBe('unmeasured');
  });

  it('reads the stored result shape: box centre over the frame size, duplicates once, unscored images skipped', () => {
    const images = [
      { status: 'scored', sopInstanceUid: '1.2.3', frameNumber: 4, rows: 100, columns: 200, nodules: [{ box: { x: 90, y: 40, width: 20, height: 20 }, sizeMm: { long: 8, short: 6 }, trLevel: 'TR4', confidence: 0.8 }] },
      { status: 'scored', sopInstanceUid: '1.2.4', frameNumber: 1, rows: 100, columns: 200, nodules: [{ box: { x: 92, y: 41, width: 20, height: 20 }, sizeMm: null, trLevel: 'TR4', confidence: 0.7 }] },
      { status: 'no_nodule', sopInstanceUid: '1.2.5' },
      { status: 'scored', sopInstanceUid: '1.2.6', box: { x: 1, y: 1, width: 2, height: 2 } },
    ];
    expect(findingsOf(images)).toEqual([{ centre: { x: 0.5, y: 0.5 }, sizeMm: { long: 8, short: 6 }, sopInstanceUid: '1.2.3', frameNumber: 4, trLevel: 'TR4', confidence: 0.8 }]);
    expect(findingsOf(null)).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import type { AiResult } from './ai-result';
import { firstSeries, framePath, imageSeriesOf, instancesInOrder, seriesInstancesPath } from './first-view';

const series = (uid: string, modality: string): Record<string, unknown> => ({
  '0020000E': { vr: 'UI', Value: [uid] },
  '00080060': { vr: 'CS', Value: [modality] },
  '00201209': { vr: 'IS', Value: [2] },
});

const instance = (sop: string, number: number | null): Record<string, unknown> => ({
  '00080018': { vr: 'UI', Value: [sop] },
  '00280010': { vr: 'US', Value: [4] },
  '00280011': { vr: 'US', Value: [4] },
  ...(number === null ? {} : { '00200013': { vr: 'IS', Value: [number] } }),
});

const aiOn = (seriesInstanceUid: string): AiResult =>
  ({ images: [{ seriesInstanceUid, sopInstanceUid: '9', frameNumber: 1, score: 0.9 }] }) as unknown as AiResult;

describe('what the viewer shows first, decided from the answers alone', () => {
  it('offers only series with images, in the archive order', () => {
    const list = imageSeriesOf([series('1.1', 'US'), series('1.2', 'SR'), series('1.3', 'US'), { '00080060': { vr: 'CS', Value: ['US'] } }]);
    expect(list.map((s) => s.uid)).toEqual(['1.1', '1.3']);
  });

  it("opens the series of the AI's most suspicious image, else the first", () => {
    const list = imageSeriesOf([series('1.1', 'US'), series('1.3', 'US')]);
    expect(firstSeries(list, aiOn('1.3'))?.uid).toBe('1.3');
    expect(firstSeries(list, aiOn('1.9'))?.uid).toBe('1.1');
    expect(firstSeries(list, null)?.uid).toBe('1.1');
    expect(firstSeries([], aiOn('1.3'))).toBeUndefined();
  });

  it('orders instances by number, keeps the metadata order on ties, and leaves out those without an image', () => {
    const ordered = instancesInOrder([instance('5', 3), instance('6', 1), { '00080018': { vr: 'UI', Value: ['7'] } }, instance('8', 1), instance('9', null)]);
    expect(ordered.map((i) => i.meta.sopInstanceUid)).toEqual(['9', '6', '8', '5']);
  });

  it('names the same paths the viewer reads', () => {
    expect(framePath('1.2', '1.2.3', '1.2.3.4', 1)).toBe('/dicomweb/studies/1.2/series/1.2.3/instances/1.2.3.4/frames/1');
    expect(seriesInstancesPath('1.2', '1.2.3')).toBe('/dicomweb/studies/1.2/series/1.2.3/instances?includefield=00083002');
  });
});

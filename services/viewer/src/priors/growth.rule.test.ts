import { assessGrowth } from './growth.rule';

describe('ACR growth rule', () => {
  it('counts exactly +20 % and exactly +2 mm in two dimensions as growth', () => {
    expect(assessGrowth([10, 10], [12, 12])).toMatchObject({ significant: true, criterion: 'dimensions', dimensionsGrown: 2 });
    // 11 -> 13.2 is +20 % to the tenth of a millimetre (floating point would put 1.2 * 11 above 13.2).
    expect(assessGrowth([11, 11], [13.2, 13.2])).toMatchObject({ significant: true, dimensionsGrown: 2 });
  });

  it('needs the 20 %: +19 % in both dimensions is not growth, even though each grew by more than 2 mm', () => {
    expect(assessGrowth([20, 15], [23.8, 17.85])).toMatchObject({ significant: false, dimensionsGrown: 0 });
    expect(assessGrowth([20, 15], [23.9, 17.9])).toMatchObject({ significant: false, dimensionsGrown: 0 });
  });

  it('needs the 2 mm: a small nodule growing +20 % by 1.9 mm is not growth', () => {
    expect(assessGrowth([9.5, 9.5], [11.4, 11.4])).toMatchObject({ significant: false, dimensionsGrown: 0 });
    expect(assessGrowth([10, 9.5], [12, 11.4])).toMatchObject({ significant: false, dimensionsGrown: 1 });
  });

  it('needs two dimensions: one grown diameter is not growth', () => {
    expect(assessGrowth([10, 8], [20, 8])).toMatchObject({ significant: false, dimensionsCompared: 2, dimensionsGrown: 1 });
    expect(assessGrowth([10, 8, 6], [20, 8.5, 6])).toMatchObject({ significant: true, criterion: 'volume' });
  });

  it('compares dimensions by rank, whatever order they were listed in', () => {
    expect(assessGrowth([8, 10], [10, 12.5])).toMatchObject({ significant: true, dimensionsGrown: 2 });
  });

  it('volume: +50 % with three dimensions is growth, just under is not, and two dimensions never assess volume', () => {
    const k = Math.cbrt(1.5);
    expect(assessGrowth([10, 10, 10], [10 * k, 10 * k, 10 * k])).toMatchObject({ significant: true, criterion: 'volume', volumeChange: 0.5 });
    // +49 % in volume, all in one dimension (so the dimension criterion does not apply).
    expect(assessGrowth([10, 10, 10], [14.9, 10, 10])).toMatchObject({ significant: false, volumeChange: 0.49 });
    expect(assessGrowth([10, 10, 10], [15, 10, 10])).toMatchObject({ significant: true, criterion: 'volume', volumeChange: 0.5 });
    expect(assessGrowth([10, 10], [15, 11])).toMatchObject({ significant: false, volumeChange: null });
    expect(assessGrowth([10, 10, 10], [15, 11])).toMatchObject({ volumeChange: null, dimensionsCompared: 2 });
  });

  it('shrinking, unchanged, or unmeasured is not growth', () => {
    expect(assessGrowth([12, 10], [9, 8]).significant).toBe(false);
    expect(assessGrowth([12, 10], [12, 10]).significant).toBe(false);
    expect(assessGrowth([], [12, 10])).toMatchObject({ significant: false, dimensionsCompared: 0 });
  });
});

import { buildTracks, distinctNodules, matchCost, matchNodules, MAX_CENTRE_DISTANCE, type VisitNodule } from './nodule-match';

function n(x: number, y: number, long: number | null = null, short = long): VisitNodule {
  return { centre: { x, y }, sizeMm: long === null || short === null ? null : { long, short } };
}

describe('nodule matching across visits', () => {
  it('matches by centre within the limit, and refuses beyond it or at a tripled size', () => {
    expect(matchCost(n(0.5, 0.5), n(0.5 + MAX_CENTRE_DISTANCE, 0.5))).toBeCloseTo(MAX_CENTRE_DISTANCE);
    expect(matchCost(n(0.5, 0.5), n(0.5 + MAX_CENTRE_DISTANCE + 0.001, 0.5))).toBeNull();
    expect(matchCost(n(0.5, 0.5, 5), n(0.5, 0.5, 15))).not.toBeNull();
    expect(matchCost(n(0.5, 0.5, 5), n(0.5, 0.5, 15.1))).toBeNull();
  });

  it('pairs one to one, the nearest first, and prefers the similar size when two are equally near', () => {
    const before = [n(0.3, 0.5, 10), n(0.7, 0.5, 6)];
    const after = [n(0.72, 0.52, 7), n(0.31, 0.5, 12), n(0.9, 0.9, 4)];
    expect(matchNodules(before, after)).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(matchNodules([n(0.5, 0.5, 10)], [n(0.45, 0.5, 4), n(0.55, 0.5, 11)])).toEqual([[0, 1]]);
  });

  it('collapses the same nodule seen on two images of one visit, keeping the first', () => {
    const a = n(0.5, 0.5, 10);
    expect(distinctNodules([a, n(0.52, 0.51, 11), n(0.8, 0.2, 5)])).toEqual([a, n(0.8, 0.2, 5)]);
  });

  it('builds tracks over three visits: followed, new, and no longer seen', () => {
    const y2022 = [n(0.3, 0.5, 8), n(0.8, 0.8, 5)];
    const y2023 = [n(0.33, 0.5, 9)];
    const y2024 = [n(0.36, 0.5, 12), n(0.6, 0.2, 4)];
    const tracks = buildTracks([y2022, y2023, y2024]);
    expect(tracks).toEqual([
      [y2022[0], y2023[0], y2024[0]],
      [null, null, y2024[1]],
      [y2022[1], null, null],
    ]);
  });
});

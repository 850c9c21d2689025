import { highestLevel, scoreNodule, validFoci, type NoduleCodes } from './tirads.report';

/** A solid (2), hypoechoic (2), wider-than-tall (0), smooth (0) nodule: 4 points before its foci. */
const solidHypo = (foci: string[] = ['none']): NoduleCodes => ({ composition: 'solid', echogenicity: 'hypo', shape: 'wider', margin: 'smooth', echogenicFoci: foci });
const size = (longMm: number, shortMm: number | null = null) => ({ longMm, shortMm });

describe('structured TI-RADS report scoring (ACR 2017)', () => {
  it('sums the five items into points and the TR level', () => {
    const s = scoreNodule(solidHypo(), size(12, 8));
    expect(s.points).toEqual({ composition: 2, echogenicity: 2, shape: 0, margin: 0, echogenicFoci: 0 });
    expect([s.totalPoints, s.trLevel, s.maxDiameterMm]).toEqual([4, 'TR4', 12]);
    expect(s.recommendation?.action).toBe('follow-up');
  });

  it('adds every echogenic focus that applies (choose all that apply)', () => {
    const s = scoreNodule(solidHypo(['macro', 'punctate']), null);
    expect(s.points.echogenicFoci).toBe(4);
    expect([s.totalPoints, s.trLevel]).toEqual([8, 'TR5']);
  });

  it('scores a spongiform nodule TR1 whatever else is chosen (chart footnote)', () => {
    const s = scoreNodule({ composition: 'spongiform', echogenicity: 'hypo', shape: 'taller', margin: null, echogenicFoci: [] }, size(40));
    expect([s.totalPoints, s.trLevel, s.recommendation?.action]).toEqual([0, 'TR1', 'none']);
  });

  it('has no level until every item is assessed', () => {
    const s = scoreNodule({ ...solidHypo(), margin: null }, size(30));
    expect([s.totalPoints, s.trLevel, s.recommendation]).toEqual([null, null, null]);
    expect(scoreNodule({ ...solidHypo(), echogenicFoci: [] }, null).trLevel).toBeNull();
  });

  // Boundaries of the ACR size thresholds, on the larger axis: TR3 2.5 / 1.5 cm, TR4 1.5 / 1.0 cm, TR5 1.0 / 0.5 cm.
  const tr3: NoduleCodes = { composition: 'solid', echogenicity: 'hyper-iso', shape: 'wider', margin: 'smooth', echogenicFoci: ['none'] };
  const tr4 = solidHypo();
  const tr5 = solidHypo(['punctate']);
  const tr2: NoduleCodes = { composition: 'mixed', echogenicity: 'hyper-iso', shape: 'wider', margin: 'smooth', echogenicFoci: ['none'] };
  const CODES = { TR2: tr2, TR3: tr3, TR4: tr4, TR5: tr5 } as const;
  it.each([
    ['TR2', 60, 'none'],
    ['TR3', 25, 'fna'],
    ['TR3', 24.9, 'follow-up'],
    ['TR3', 15, 'follow-up'],
    ['TR3', 14.9, 'none'],
    ['TR4', 15, 'fna'],
    ['TR4', 14.9, 'follow-up'],
    ['TR4', 10, 'follow-up'],
    ['TR4', 9.9, 'none'],
    ['TR5', 10, 'fna'],
    ['TR5', 9.9, 'follow-up'],
    ['TR5', 5, 'follow-up'],
    ['TR5', 4.9, 'none'],
  ] as const)('%s at %s mm: %s', (level, mm, action) => {
    const codes = CODES[level];
    const s = scoreNodule(codes, size(mm, mm / 2));
    expect(s.trLevel).toBe(level);
    expect(s.recommendation?.action).toBe(action);
  });

  it('takes the larger axis as the maximum diameter, and says when the size is unknown', () => {
    expect(scoreNodule(tr4, size(9, 15)).recommendation?.action).toBe('fna');
    const unknown = scoreNodule(tr4, null);
    expect(unknown.recommendation?.action).toBe('none');
    expect(unknown.recommendation?.rule).toContain('size unknown');
  });

  it('accepts "none" only on its own and refuses unknown or repeated foci codes', () => {
    expect(validFoci(['macro', 'peripheral'])).toBe(true);
    expect(validFoci(['none'])).toBe(true);
    expect(validFoci(['none', 'macro'])).toBe(false);
    expect(validFoci(['macro', 'macro'])).toBe(false);
    expect(validFoci(['comet'])).toBe(false);
  });

  it('takes the highest level as the report category', () => {
    expect(highestLevel(['TR2', null, 'TR4', 'TR3'])).toBe('TR4');
    expect(highestLevel([null])).toBeNull();
  });
});

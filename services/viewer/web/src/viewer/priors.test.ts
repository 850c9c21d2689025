import { describe, expect, it } from '@jest/globals';
import { parseFollowUp, parsePriors, syncedIndex } from './priors';

describe('priors in the viewer', () => {
  it('steps the prior with the current study: same frame for equal clips, same position otherwise', () => {
    expect([0, 5, 11].map((i) => syncedIndex(i, 12, 12))).toEqual([0, 5, 11]);
    expect([0, 6, 12].map((i) => syncedIndex(i, 13, 7))).toEqual([0, 3, 6]);
    expect(syncedIndex(3, 4, 1)).toBe(0);
    expect(syncedIndex(0, 1, 9)).toBe(0);
  });

  it('reads the priors and follow-up answers defensively', () => {
    const priors = parsePriors({
      linkedOn: { patientId: true, issuer: 'X' },
      relevantPrior: '1.2',
      notLinked: 1,
      identityUnderReview: true,
      studies: [{ studyInstanceUid: '1.2', studyDate: '2023-06-10', modalities: ['US'], bodyParts: ['THYROID'], thyroid: true, clinic: { code: 'c', name: 'Clinic' }, earlier: true, relevant: true }, { bad: true }],
    });
    expect(priors).toMatchObject({ relevantPrior: '1.2', notLinked: 1, linked: true, underReview: true, studies: [{ studyInstanceUid: '1.2', clinic: 'Clinic', thyroid: true }] });
    const followUp = parseFollowUp({
      visits: [{ studyInstanceUid: 'a', studyDate: '2023-06-10', aiResult: true }],
      nodules: [{ label: 'N1', status: 'grown', history: [{ sizeMm: { long: 10, short: 8 } }, null], growth: { sincePrevious: { significant: true }, sinceFirst: null } }],
    });
    expect(followUp.nodules[0]).toEqual({ label: 'N1', status: 'grown', sizes: [{ long: 10, short: 8 }, null], seen: [true, false], grownSincePrevious: true, grownSinceFirst: false });
  });
});

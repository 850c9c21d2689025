import { compareMostRecentFirst, isEarlier, isRelevantPrior, isThyroidStudy, visitKey, type StudySummary } from './priors.rules';

function study(overrides: Partial<StudySummary>): StudySummary {
  return {
    studyInstanceUid: '1.2.3',
    clinicId: 'c',
    studyDate: '20240614',
    studyTime: null,
    receivedAt: new Date('2024-06-14T08:00:00Z'),
    description: null,
    modalities: ['US'],
    bodyParts: [],
    triageStatus: 'pending',
    ...overrides,
  };
}

describe('priors rules', () => {
  it('orders visits by study date and time, receipt time standing in for a missing date', () => {
    const a = study({ studyInstanceUid: 'a', studyDate: '20230601' });
    const b = study({ studyInstanceUid: 'b', studyDate: '20240614', studyTime: '093000' });
    const c = study({ studyInstanceUid: 'c', studyDate: '20240614', studyTime: '1015' });
    const d = study({ studyInstanceUid: 'd', studyDate: null, receivedAt: new Date('2022-01-05T10:00:00Z') });
    expect([a, b, c, d].sort(compareMostRecentFirst).map((s) => s.studyInstanceUid)).toEqual(['c', 'b', 'a', 'd']);
    expect(visitKey(c)).toBe('20240614101500');
    expect(visitKey(d)).toBe('20220105000000');
  });

  it('a study of the same visit is not a prior; an earlier one is', () => {
    const current = study({});
    expect(isEarlier(study({ studyInstanceUid: 'x' }), current)).toBe(false);
    expect(isEarlier(study({ studyDate: '20240613' }), current)).toBe(true);
    expect(isEarlier(study({ studyDate: '20250101' }), current)).toBe(false);
  });

  it('knows a thyroid study by body part, description, or the triage gate having let it in', () => {
    expect(isThyroidStudy(study({ bodyParts: ['THYROID'] }))).toBe(true);
    expect(isThyroidStudy(study({ description: '甲状腺超声' }))).toBe(true);
    expect(isThyroidStudy(study({ triageStatus: 'no_nodule_found' }))).toBe(true);
    expect(isThyroidStudy(study({ triageStatus: 'not_triaged', bodyParts: ['ABDOMEN'] }))).toBe(false);
  });

  it('relevant: an imaging modality in common and the same region', () => {
    const current = study({ bodyParts: ['THYROID'] });
    expect(isRelevantPrior(study({ studyDate: '20230101', description: 'Thyroid US' }), current)).toBe(true);
    expect(isRelevantPrior(study({ bodyParts: ['ABDOMEN'] }), current)).toBe(false);
    expect(isRelevantPrior(study({ modalities: ['CT'], bodyParts: ['THYROID'] }), current)).toBe(false);
    // A shared triage SR is not a shared imaging modality.
    expect(isRelevantPrior(study({ modalities: ['SR', 'CT'], bodyParts: ['THYROID'] }), study({ modalities: ['SR', 'US'], bodyParts: ['THYROID'] }))).toBe(false);
    expect(isRelevantPrior(study({ modalities: ['MG'], bodyParts: ['BREAST'] }), study({ modalities: ['MG'], bodyParts: ['BREAST'] }))).toBe(true);
    expect(isRelevantPrior(study({ modalities: ['MG'] }), study({ modalities: ['MG'] }))).toBe(true);
  });
});

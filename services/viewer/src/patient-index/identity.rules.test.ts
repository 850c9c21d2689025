import { compareNames, contradictions, decideLink, sameDemographics, studyIdentifiers } from './identity.rules';

describe('patient index rules', () => {
  it('namespaces a PatientID by its issuer, or by its clinic without one, and takes Other Patient IDs of configured issuers only', () => {
    const other = [
      { '00100020': { Value: ['110101197505051234'] }, '00100021': { Value: ['CN-NID'] } },
      { '00100020': { Value: ['999'] }, '00100021': { Value: ['SOME-HOSPITAL'] } },
      { '00100020': { Value: ['no-issuer'] } },
    ];
    expect(studyIdentifiers({ clinicId: 'c1', patientId: ' P-1 ', issuer: null, otherIds: other }, new Set(['CN-NID']))).toEqual([
      { namespace: 'clinic:c1', value: 'P-1' },
      { namespace: 'issuer:CN-NID', value: '110101197505051234' },
    ]);
    expect(studyIdentifiers({ clinicId: 'c1', patientId: 'P-1', issuer: 'CHAIN', otherIds: [] }, new Set())).toEqual([{ namespace: 'issuer:CHAIN', value: 'P-1' }]);
    expect(studyIdentifiers({ clinicId: 'c1', patientId: null, issuer: 'CHAIN', otherIds: [] }, new Set())).toEqual([]);
  });

  it('compares names group by group, case and spacing aside, and treats incomparable groups as no evidence', () => {
    expect(compareNames('Wang^Fang', 'WANG ^ fang^^')).toBe('same');
    expect(compareNames('Wang^Fang=王^芳', '=王^芳')).toBe('same');
    expect(compareNames('Wang^Fang', 'Wang^Li')).toBe('different');
    expect(compareNames('Wang^Fang', '=王^芳')).toBe('unknown');
    expect(compareNames(null, 'Wang^Fang')).toBe('unknown');
  });

  it('finds contradictions only where both sides have a value', () => {
    const a = { name: 'Wang^Fang', birthDate: '19800101', sex: 'F' };
    expect(contradictions(a, { name: 'Wang^Fang', birthDate: '19800110', sex: 'F' })).toEqual(['birthDate']);
    expect(contradictions(a, { name: 'Li^Lei', birthDate: null, sex: 'M' })).toEqual(['name', 'sex']);
    expect(contradictions(a, { name: null, birthDate: null, sex: null })).toEqual([]);
    expect(sameDemographics(a, { name: 'WANG^FANG', birthDate: '19800101', sex: 'f' })).toBe(true);
    expect(sameDemographics({ ...a, sex: null }, a)).toBe(false);
  });

  it('links to the one fitting person, queues contradictions and several fits, and never guesses', () => {
    const study = { name: 'Wang^Fang', birthDate: '19800101', sex: 'F' };
    const fits = { root: '1', variants: [{ name: 'Wang^Fang', birthDate: null, sex: 'F' }] };
    const typo = { root: '2', variants: [{ name: 'Wang^Fang', birthDate: '19800110', sex: 'F' }] };
    const alsoFits = { root: '3', variants: [{ name: null, birthDate: '19800101', sex: null }] };
    expect(decideLink(study, [])).toEqual({ kind: 'new' });
    expect(decideLink(study, [fits, typo])).toEqual({ kind: 'link', root: '1' });
    expect(decideLink(study, [typo])).toEqual({ kind: 'review', against: [{ root: '2', reason: 'identifier-demographics-differ', differs: ['birthDate'] }] });
    expect(decideLink(study, [fits, alsoFits])).toMatchObject({ kind: 'review', against: [{ root: '1', reason: 'identifiers-match-several' }, { root: '3' }] });
    // A variant an admin merged in counts: the group fits if any of its persons does.
    expect(decideLink(study, [{ root: '2', variants: [...typo.variants, { name: 'Wang^Fang', birthDate: '19800101', sex: 'F' }] }])).toEqual({ kind: 'link', root: '2' });
  });
});

import { Dataset } from 'dcmjs-dimse';
import { WireDataset } from './wire-dataset';

describe('WireDataset', () => {
  const identifier = {
    SpecificCharacterSet: 'ISO_IR 192',
    QueryRetrieveLevel: 'STUDY',
    StudyInstanceUID: '2.25.881234',
    PatientName: '王^小明',
    StudyDate: '20150101',
    ModalitiesInStudy: ['US', 'SR'],
    NumberOfStudyRelatedInstances: 5,
  };

  it('writes the same bytes as dcmjs-dimse with the empty name map its Network always passes', () => {
    const expected = new Dataset(identifier).getDenaturalizedDataset({}, {});
    expect(new WireDataset(identifier).getDenaturalizedDataset({}, {}).equals(expected)).toBe(true);
    expect(new WireDataset(identifier, '1.2.840.10008.1.2.1').getDenaturalizedDataset({}, {}).equals(new Dataset(identifier, '1.2.840.10008.1.2.1').getDenaturalizedDataset({}, {}))).toBe(true);
  });

  it('still honours a name map that names something', () => {
    const nameMap = { PrivateThing: { tag: '(0009,0010)', vr: 'LO', name: 'PrivateThing', vm: '1', version: 'Private' } };
    const withPrivate = { ...identifier, PrivateThing: 'YY' };
    expect(new WireDataset(withPrivate).getDenaturalizedDataset({}, nameMap).equals(new Dataset(withPrivate).getDenaturalizedDataset({}, nameMap))).toBe(true);
  });
});

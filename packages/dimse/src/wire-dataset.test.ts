import { Dataset } from 'dcmjs-dimse';
import { encodeFlatDataset } from './flat-dataset';
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

describe('encodeFlatDataset', () => {
  const explicit = '1.2.840.10008.1.2.1';
  const implicit = '1.2.840.10008.1.2';
  const matches: Record<string, unknown>[] = [
    { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '2.25.881234', PatientName: '王^小明', PatientID: 'FP1', StudyDate: '20150101', StudyTime: '101500', AccessionNumber: 'FA1', StudyDescription: 'US Thyroid', ModalitiesInStudy: ['US', 'SR'], NumberOfStudyRelatedInstances: 5, NumberOfStudyRelatedSeries: 12 },
    { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: '2.25.1', SeriesInstanceUID: '2.25.12', SOPInstanceUID: '2.25.123', SOPClassUID: '1.2.840.10008.5.1.4.1.1.6.1', InstanceNumber: 7, Rows: 480, Columns: 640, NumberOfFrames: '', PatientBirthDate: '', PatientSex: 'F', SeriesNumber: 1, Modality: 'US' },
    { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: 'PATIENT', PatientID: 'P-1', PatientName: 'Sun^Qi', NumberOfPatientRelatedStudies: 3 },
    { FailedSOPInstanceUIDList: ['2.25.1', '2.25.22', '2.25.333'] },
  ];

  it.each(matches.map((m, i) => [i, m] as const))('writes match %i byte for byte as dcmjs-dimse does, in both syntaxes', (_i, match) => {
    for (const syntax of [explicit, implicit]) {
      expect(encodeFlatDataset(match, syntax)).not.toBeNull();
      const ours = new WireDataset(match, syntax).getDenaturalizedDataset({}, {});
      const theirs = new Dataset(match, syntax).getDenaturalizedDataset({}, undefined);
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    }
  });

  it('leaves what is not flat to dcmjs: a sequence, another character set, a big-endian syntax', () => {
    const report = { TransactionUID: '2.25.9', ReferencedSOPSequence: [{ ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '2.25.10' }] };
    expect(encodeFlatDataset(report, explicit)).toBeNull();
    expect(encodeFlatDataset({ SpecificCharacterSet: 'GB18030', PatientName: '王' }, explicit)).toBeNull();
    expect(encodeFlatDataset({ PatientID: 'P' }, '1.2.840.10008.1.2.2')).toBeNull();
    expect(new WireDataset(report, explicit).getDenaturalizedDataset({}, {}).equals(new Dataset(report, explicit).getDenaturalizedDataset())).toBe(true);
  });
});

import dcmjs from 'dcmjs';
import { canonicalJson } from './canonical';
import { buildReportSr, ENHANCED_SR, type SrStudy, type SrVersion } from './report.sr';
import { nodulesInput, scoreNodules } from '../tirads.findings';

const study: SrStudy = {
  studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
  patientName: '张^三',
  patientId: 'P-1',
  patientBirthDate: '19800101',
  patientSex: 'F',
  studyDate: '20240110',
  studyTime: '101500',
  accessionNumber: 'A1',
  referringPhysicianName: null,
  studyId: '1',
};

const version: SrVersion = {
  reportId: '0b7d2a8e-6f5a-4f61-9d0e-2d9a8f6f3b11',
  version: 1,
  kind: 'report',
  findings: 'Thyroid normal in size.',
  impression: 'No suspicious nodule.',
  nodules: [],
  signedAt: new Date('2026-12-04T10:00:00Z'),
  readerName: 'Reader^One',
  institutionName: 'Demo Clinic',
  predecessor: null,
  images: new Map(),
};

function parse(bytes: Uint8Array): Record<string, unknown> {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab).dict);
}

describe('report SR builder', () => {
  it('is deterministic: the same signed row gives the same bytes (a retried sign stores one SR)', () => {
    const a = buildReportSr(study, version);
    const b = buildReportSr(study, version);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(a.sha256).toBe(b.sha256);
    // Another signing time is another document (same UID: it would be a new version, never silently equal).
    const later = buildReportSr(study, { ...version, signedAt: new Date('2026-12-04T10:00:01Z') });
    expect(later.sha256).not.toBe(a.sha256);
    expect(later.sopInstanceUid).toBe(a.sopInstanceUid);
  });

  it('writes the study’s patient and study, a verified TID 2000 document, and an addendum’s predecessor', () => {
    const first = buildReportSr(study, version);
    const ds = parse(first.bytes);
    expect(ds).toMatchObject({ SOPClassUID: ENHANCED_SR, StudyInstanceUID: study.studyInstanceUid, PatientID: 'P-1', Modality: 'SR', VerificationFlag: 'VERIFIED', CompletionFlag: 'COMPLETE' });
    expect(JSON.stringify(ds.PatientName)).toContain('张');
    expect(ds.PredecessorDocumentsSequence).toBeUndefined();
    const addendum = parse(buildReportSr(study, { ...version, reportId: 'c3f0b0f2-5d0e-4d8c-8b8e-0c7e7f6b2a22', version: 2, kind: 'addendum', predecessor: { sopInstanceUid: first.sopInstanceUid } }).bytes);
    expect(addendum.SeriesInstanceUID).toBe(ds.SeriesInstanceUID);
    expect(addendum.SOPInstanceUID).not.toBe(ds.SOPInstanceUID);
    expect(JSON.stringify(addendum.PredecessorDocumentsSequence)).toContain(first.sopInstanceUid);
  });
});

describe('report SR in C-TIRADS 2020', () => {
  it('codes comet-tail artefacts, the feature count, the C-TIRADS category and its recommendation beside the ACR items', () => {
    const reader = (code: string) => ({ code, source: 'reader', confirmed: true });
    const nodules = scoreNodules(
      nodulesInput.parse([
        {
          composition: reader('solid'),
          echogenicity: reader('very-hypo'),
          shape: reader('wider'),
          margin: reader('lobulated-irregular'),
          echogenicFoci: { codes: ['punctate'], source: 'reader', confirmed: true },
          size: { longMm: 12, shortMm: 9, source: 'reader', confirmed: true },
          cometTail: { present: false, source: 'reader' },
        },
      ]),
      'c-tirads-2020',
    );
    const json = JSON.stringify(parse(buildReportSr(study, { ...version, nodules }).bytes).ContentSequence);
    // Longer than SH's 16 characters: Long Code Value, never an over-long Code Value.
    expect(json).toContain('"LongCodeValue":"CTIRADS_COMET_TAIL"');
    expect(json).not.toMatch(/"CodeValue":"[^"]{17,}"/);
    expect(json).toContain('"CodeValue":"373067005"');
    expect(json).toMatch(/"CodeValue":"CTIRADS_COUNT".*?"NumericValue":4/);
    expect(json).toContain('"CodeValue":"C-TR4C"');
    expect(json).toContain('C-TIRADS fna: C-TR4C: FNA if > 1 cm');
    // The ACR reading is still coded.
    expect(json).toContain('"CodeValue":"TR5"');
  });
});

describe('canonical JSON', () => {
  it('does not depend on key order and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson({ a: 'x', skipped: undefined })).toBe('{"a":"x"}');
  });
});

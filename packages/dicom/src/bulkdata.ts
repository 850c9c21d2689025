/**
 * Bulk data values (PS3.18 10.4.1.1.4, F.2.6): every value the DICOM JSON advertises by BulkDataURI
 * (binary values over the inline threshold: palette and segmented LUTs, overlay and curve data, long
 * private OB/UN values, at any sequence depth) can be read back by its path, `<tag>` or
 * `<seqTag>/<itemIndex>/.../<tag>` (json.ts writes the same paths). Values are returned in Little
 * Endian byte order (PS3.18 8.7.3.5: bulk data is sent as Explicit VR Little Endian would hold it), so
 * a big-endian instance's OW/OF/OL/OD words are swapped; UN and OB bytes are as stored.
 */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { dictionaryVr } from './dictionary';
import { readStoredDataSet } from './parse';

const PATH = /^[0-9A-Fa-f]{8}(\/\d{1,6}\/[0-9A-Fa-f]{8}){0,16}$/;

/** Whether `path` has the shape of a bulk data path (checked before anything is read). */
export function isBulkDataPath(path: string): boolean {
  return PATH.test(path);
}

function locate(dataSet: DataSet, parts: string[]): { dataSet: DataSet; element: Element } | null {
  let current = dataSet;
  for (let i = 0; i < parts.length; i += 2) {
    const element = current.elements[`x${(parts[i] ?? '').toLowerCase()}`];
    if (element === undefined) return null;
    if (i === parts.length - 1) return { dataSet: current, element };
    const item = element.items?.[Number(parts[i + 1])];
    if (item?.dataSet === undefined) return null;
    current = item.dataSet;
  }
  return null;
}

function wordSize(vr: string): number {
  if (vr === 'OW' || vr === 'US' || vr === 'SS') return 2;
  if (vr === 'OF' || vr === 'OL' || vr === 'FL' || vr === 'UL' || vr === 'SL') return 4;
  if (vr === 'OD' || vr === 'FD' || vr === 'OV' || vr === 'UV' || vr === 'SV') return 8;
  return 1;
}

/** The value at `path` (Little Endian), or null when the instance has no such value. */
export function readBulkValue(bytes: Uint8Array, path: string): Uint8Array | null {
  if (!isBulkDataPath(path)) return null;
  const found = locate(readStoredDataSet(bytes), path.split('/'));
  if (found === null || found.element.items !== undefined || found.element.length === 0xffffffff) return null;
  const { dataSet, element } = found;
  const value = dataSet.byteArray.subarray(element.dataOffset, element.dataOffset + element.length);
  const size = wordSize(element.vr ?? dictionaryVr(element.tag));
  if (dataSet.byteArrayParser !== dicomParser.bigEndianByteArrayParser || size === 1) return value;
  const swapped = new Uint8Array(value.length);
  for (let i = 0; i + size <= value.length; i += size) {
    for (let b = 0; b < size; b += 1) swapped[i + b] = value[i + size - 1 - b] ?? 0;
  }
  return swapped;
}

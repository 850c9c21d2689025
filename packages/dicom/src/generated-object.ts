/**
 * What the archive's own DICOM objects (the triage SR, the signed report SR) share: UIDs derived from
 * a seed, so a retried write produces the same object; DA/TM values of an instant; and the Part 10
 * bytes (File Meta Information + dataset in Explicit VR Little Endian) of a naturalized dcmjs dataset.
 */
import { createHash } from 'node:crypto';
import dcmjs from 'dcmjs';
import { TransferSyntax } from './uids';

/** A 2.25 UID (PS3.5 B.2) derived from a seed; the same seed always gives the same UID. */
export function derivedUid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  return `2.25.${(BigInt(`0x${hex}`) >> 2n).toString()}`;
}

/** DA (YYYYMMDD) of an instant, in UTC. */
export function dicomDate(d: Date): string {
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** TM (HHMMSS) of an instant, in UTC. */
export function dicomTime(d: Date): string {
  return d.toISOString().slice(11, 19).replace(/:/g, '');
}

/** Part 10 bytes of a naturalized dataset whose SOPClassUID and SOPInstanceUID name it. */
export function part10Bytes(dataset: Record<string, unknown>): Uint8Array {
  const meta = {
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: TransferSyntax.ExplicitVRLittleEndian,
    ImplementationClassUID: derivedUid('yunying-implementation'),
    ImplementationVersionName: 'YUNYING_0_1',
  };
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

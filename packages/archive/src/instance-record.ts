import type { InstanceRecord } from '@yunying/catalog';
import type { ParsedInstance } from '@yunying/dicom';

/** What the catalog records of an instance that comes from its parse (ingest and rebuild-catalog alike). */
export function recordedOfParsed(
  parsed: ParsedInstance,
): Pick<InstanceRecord, 'studyInstanceUid' | 'seriesInstanceUid' | 'sopInstanceUid' | 'sopClassUid' | 'transferSyntaxUid' | 'attributes' | 'dicomJson' | 'frames'> {
  return {
    studyInstanceUid: parsed.studyInstanceUid,
    seriesInstanceUid: parsed.seriesInstanceUid,
    sopInstanceUid: parsed.sopInstanceUid,
    sopClassUid: parsed.sopClassUid,
    transferSyntaxUid: parsed.transferSyntaxUid,
    attributes: parsed.attributes,
    dicomJson: parsed.dicomJson,
    frames: parsed.frames,
  };
}

/** What the AI objects share: the study's Patient/General Study attributes, codes, the result's UID seeds. */
import type { StoredAiResult, StudyHeader } from '@yunying/catalog';
import { derivedUid } from '@yunying/dicom';

export type Item = Record<string, unknown>;

export const code = (value: string, meaning: string, scheme: string): Item => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning.slice(0, 64) });

export const THYROID = code('69748006', 'Thyroid structure', 'SCT');
export const NODULE = code('27925004', 'Nodule', 'SCT');

/** The model as equipment (General / Enhanced General Equipment: all four are Type 1 in a SEG). */
export function equipmentAttributes(result: StoredAiResult): Item {
  return {
    Manufacturer: 'Yunying',
    ManufacturerModelName: result.modelId.slice(0, 64),
    // The model's digest names the exact weights and rules; it is the closest thing to a serial number.
    DeviceSerialNumber: result.modelSha256.slice(0, 64),
    SoftwareVersions: result.modelVersion.slice(0, 64),
  };
}

/** The device observer UID of a model version (TID 1004): the same model version is the same observer. */
export function modelDeviceUid(result: StoredAiResult): string {
  return derivedUid(`yunying-model-device/${result.modelId}/${result.modelVersion}/${result.modelSha256}`);
}

/** Seeds of the AI objects' UIDs: the result's key, so a re-run writes the same objects. */
export function resultSeed(header: StudyHeader, result: StoredAiResult): string {
  return `${header.studyInstanceUid}/${result.modelId}/${result.modelVersion}`;
}

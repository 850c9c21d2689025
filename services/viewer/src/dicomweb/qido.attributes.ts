/**
 * The attributes QIDO-RS matches and returns from catalog columns (PS3.18 10.6.1.2 and Tables
 * 10.6.3-3/4/5). Anything else asked for by includefield comes from instances.dicom_json.
 */
export type QidoLevel = 'study' | 'series' | 'instance';

/** How a value is matched (PS3.4 C.2.2.2): by VR family, with the catalog column's type. */
export type MatchKind = 'uid' | 'string' | 'description' | 'pn' | 'date' | 'time' | 'int' | 'modalities';

export interface ColumnAttribute {
  tag: string;
  keyword: string;
  vr: string;
  level: QidoLevel;
  /** SQL expression over the aliases s (studies), se (series), i (instances). From code only. */
  sql: string;
  kind: MatchKind;
}

const LEVELS: readonly QidoLevel[] = ['study', 'series', 'instance'];

export const COLUMN_ATTRIBUTES: readonly ColumnAttribute[] = [
  { tag: '00080020', keyword: 'StudyDate', vr: 'DA', level: 'study', sql: 's.study_date', kind: 'date' },
  { tag: '00080030', keyword: 'StudyTime', vr: 'TM', level: 'study', sql: 's.study_time', kind: 'time' },
  { tag: '00080050', keyword: 'AccessionNumber', vr: 'SH', level: 'study', sql: 's.accession_number', kind: 'string' },
  { tag: '00080061', keyword: 'ModalitiesInStudy', vr: 'CS', level: 'study', sql: 's.modalities', kind: 'modalities' },
  { tag: '00080090', keyword: 'ReferringPhysicianName', vr: 'PN', level: 'study', sql: 's.referring_physician_name', kind: 'pn' },
  { tag: '00081030', keyword: 'StudyDescription', vr: 'LO', level: 'study', sql: 's.study_description', kind: 'description' },
  { tag: '00100010', keyword: 'PatientName', vr: 'PN', level: 'study', sql: 's.patient_name', kind: 'pn' },
  { tag: '00100020', keyword: 'PatientID', vr: 'LO', level: 'study', sql: 's.patient_id', kind: 'string' },
  { tag: '00100030', keyword: 'PatientBirthDate', vr: 'DA', level: 'study', sql: 's.patient_birth_date', kind: 'date' },
  { tag: '00100040', keyword: 'PatientSex', vr: 'CS', level: 'study', sql: 's.patient_sex', kind: 'string' },
  { tag: '0020000D', keyword: 'StudyInstanceUID', vr: 'UI', level: 'study', sql: 's.study_instance_uid', kind: 'uid' },
  { tag: '00200010', keyword: 'StudyID', vr: 'SH', level: 'study', sql: 's.study_id', kind: 'string' },
  { tag: '00201206', keyword: 'NumberOfStudyRelatedSeries', vr: 'IS', level: 'study', sql: 's.number_of_series', kind: 'int' },
  { tag: '00201208', keyword: 'NumberOfStudyRelatedInstances', vr: 'IS', level: 'study', sql: 's.number_of_instances', kind: 'int' },
  { tag: '00080060', keyword: 'Modality', vr: 'CS', level: 'series', sql: 'se.modality', kind: 'string' },
  { tag: '00080021', keyword: 'SeriesDate', vr: 'DA', level: 'series', sql: 'se.series_date', kind: 'date' },
  { tag: '0008103E', keyword: 'SeriesDescription', vr: 'LO', level: 'series', sql: 'se.series_description', kind: 'description' },
  { tag: '00180015', keyword: 'BodyPartExamined', vr: 'CS', level: 'series', sql: 'se.body_part_examined', kind: 'string' },
  { tag: '0020000E', keyword: 'SeriesInstanceUID', vr: 'UI', level: 'series', sql: 'se.series_instance_uid', kind: 'uid' },
  { tag: '00200011', keyword: 'SeriesNumber', vr: 'IS', level: 'series', sql: 'se.series_number', kind: 'int' },
  { tag: '00201209', keyword: 'NumberOfSeriesRelatedInstances', vr: 'IS', level: 'series', sql: 'se.number_of_instances', kind: 'int' },
  { tag: '00080016', keyword: 'SOPClassUID', vr: 'UI', level: 'instance', sql: 'i.sop_class_uid', kind: 'uid' },
  { tag: '00080018', keyword: 'SOPInstanceUID', vr: 'UI', level: 'instance', sql: 'i.sop_instance_uid', kind: 'uid' },
  { tag: '00083002', keyword: 'AvailableTransferSyntaxUID', vr: 'UI', level: 'instance', sql: 'i.transfer_syntax_uid', kind: 'uid' },
  { tag: '00200013', keyword: 'InstanceNumber', vr: 'IS', level: 'instance', sql: 'i.instance_number', kind: 'int' },
  { tag: '00280008', keyword: 'NumberOfFrames', vr: 'IS', level: 'instance', sql: 'i.number_of_frames', kind: 'int' },
  { tag: '00280010', keyword: 'Rows', vr: 'US', level: 'instance', sql: 'i.rows', kind: 'int' },
  { tag: '00280011', keyword: 'Columns', vr: 'US', level: 'instance', sql: 'i.columns', kind: 'int' },
];

export const COLUMN_BY_TAG: ReadonlyMap<string, ColumnAttribute> = new Map(COLUMN_ATTRIBUTES.map((a) => [a.tag, a]));

/** Computed or constant attributes every level can return. */
export const SPECIFIC_CHARACTER_SET = '00080005';
export const INSTANCE_AVAILABILITY = '00080056';
export const RETRIEVE_URL = '00081190';

/** Default return attributes per level (PS3.18 Tables 10.6.3-3, -4, -5, as far as the archive holds them). */
export const DEFAULT_TAGS: Record<QidoLevel, readonly string[]> = {
  study: [
    SPECIFIC_CHARACTER_SET,
    '00080020',
    '00080030',
    '00080050',
    INSTANCE_AVAILABILITY,
    '00080061',
    '00080090',
    '00081030',
    RETRIEVE_URL,
    '00100010',
    '00100020',
    '00100030',
    '00100040',
    '0020000D',
    '00200010',
    '00201206',
    '00201208',
  ],
  series: [SPECIFIC_CHARACTER_SET, '00080060', '0008103E', RETRIEVE_URL, '0020000D', '0020000E', '00200011', '00201209'],
  instance: [
    SPECIFIC_CHARACTER_SET,
    '00080016',
    '00080018',
    INSTANCE_AVAILABILITY,
    RETRIEVE_URL,
    '0020000D',
    '0020000E',
    '00200013',
    '00280008',
    '00280010',
    '00280011',
    // BitsAllocated is not a column: it comes from dicom_json.
    '00280100',
  ],
};

/** Levels at or above `level`: their attributes may be matched (PS3.18 10.6.1.2: study attributes in series queries, ...). */
export function levelsUpTo(level: QidoLevel): QidoLevel[] {
  return LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}

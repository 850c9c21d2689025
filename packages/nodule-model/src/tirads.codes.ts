/**
 * The ACR TI-RADS lexicon as DICOM codes, shared by every SR the archive writes (the reader's signed
 * report, the AI measurement report), so a receiving system sees one vocabulary for what the AI
 * suggested and what the reader confirmed. No standard terminology we could cite codes the lexicon,
 * its points or its levels, so they are under the private scheme 99YUNYING (docs/conformance-dicom.md).
 */
import type { LexiconItem, TrLevel } from './tirads';
import { ACR_LEXICON } from './tirads';

export const PRIVATE_SCHEME = '99YUNYING';

/** A code of a sequence item; Code Value when it fits SH (16 characters), else Long Code Value (UC). */
export type CodedConcept =
  | { CodeValue: string; CodingSchemeDesignator: string; CodeMeaning: string }
  | { LongCodeValue: string; CodingSchemeDesignator: string; CodeMeaning: string };

/** Longest Code Value (SH, PS3.5 6.2); longer values go in Long Code Value (PS3.3 8.8, CP-1031). */
const CODE_VALUE_MAX = 16;

export function codedConcept(value: string, meaning: string, scheme: string): CodedConcept {
  // The meaning is LO (64 characters).
  const tail = { CodingSchemeDesignator: scheme, CodeMeaning: meaning.slice(0, 64) };
  return value.length <= CODE_VALUE_MAX ? { CodeValue: value, ...tail } : { LongCodeValue: value, ...tail };
}

export const privateCode = (value: string, meaning: string): CodedConcept => codedConcept(value, meaning, PRIVATE_SCHEME);

const ITEM_CONCEPTS: Readonly<Record<LexiconItem, CodedConcept>> = {
  composition: privateCode('ACR_TIRADS_COMPOSITION', 'ACR TI-RADS composition'),
  echogenicity: privateCode('ACR_TIRADS_ECHOGENICITY', 'ACR TI-RADS echogenicity'),
  shape: privateCode('ACR_TIRADS_SHAPE', 'ACR TI-RADS shape'),
  margin: privateCode('ACR_TIRADS_MARGIN', 'ACR TI-RADS margin'),
  echogenicFoci: privateCode('ACR_TIRADS_ECHOGENIC_FOCI', 'ACR TI-RADS echogenic foci'),
};

/** The concept name of one lexicon item (e.g. ACR_TIRADS_COMPOSITION). */
export function tiradsItemConcept(item: LexiconItem): CodedConcept {
  return ITEM_CONCEPTS[item];
}

/** A lexicon value: ACR_<ITEM>_<CATEGORY>, meaning the ACR chart label. */
export function tiradsValueCode(item: LexiconItem, value: string): CodedConcept {
  const category = ACR_LEXICON[item].find((c) => c.code === value);
  return privateCode(`ACR_${item.toUpperCase()}_${value.toUpperCase().replace(/-/g, '_')}`.slice(0, 64), category?.label ?? value);
}

export const TIRADS_POINTS_CONCEPT = privateCode('ACR_TIRADS_POINTS', 'ACR TI-RADS points');
export const TIRADS_LEVEL_CONCEPT = privateCode('ACR_TIRADS_LEVEL', 'ACR TI-RADS level');
export const tiradsLevelCode = (level: TrLevel): CodedConcept => privateCode(level, `ACR TI-RADS ${level}`);

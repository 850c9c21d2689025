/**
 * @yunying/dicom: DICOM Part 10 parsing and validation (PS3.10, PS3.5), the DICOM JSON Model
 * (PS3.18 Annex F) and frame location for WADO-RS. See README.md for what is implemented.
 */
export { DEFAULT_PARSE_LIMITS, isValidUid, parseInstance, readFrame } from './parse';
export type {
  ByteRange,
  FrameLocation,
  ParseLimits,
  ParseOptions,
  ParsedInstance,
  PixelDataLocation,
  QidoAttributes,
} from './parse';
export type { DicomJsonAttribute, DicomJsonObject, DicomJsonPersonName, DicomJsonValue, JsonOptions } from './json';
export { DicomRejection, FailureReason, isDicomRejection, rejectionFailureReason } from './rejection';
export type { RejectionContext, RejectionReason } from './rejection';
export {
  SopClass,
  TransferSyntax,
  isNativeTransferSyntax,
  isStorableSopClass,
  isUltrasoundSopClass,
  knownTransferSyntaxes,
  storageSopClasses,
} from './uids';
export { charsetDecoder } from './charset';
export { attributeOfKeyword, keywordOfTag } from './dictionary';
export type { KeywordAttribute } from './dictionary';
export { derivedUid, dicomDate, dicomLabOf, dicomTime, naturalizedDataset, packBinaryFrames, part10Bytes, unpackBinaryPixels } from './generated-object';
export { isBulkDataPath, readBulkValue } from './bulkdata';
export { normaliseDate, normaliseDateTime, normaliseTime } from './temporal';
export type { CharsetDecoder } from './charset';
export {
  PixelDecodeError,
  decodeFrame,
  encodeNativeFrame,
  isPixelDecodeError,
  nativeAttributes,
  sampleFrameIndices,
  toGray8,
  toRgb8,
  toRgba8,
} from './pixels';
export type { DecodeOptions, DecodedFrame, Gray8, NativeAttributes, PixelData, PixelDecodeReason, Rgb8, Window } from './pixels';
export { STOW_PRIVATE_CREATOR, STOW_RETRY_LATER_REASON, STORED_STATUSES, StowTag, failureNote, failureReasonValue, isStoredStatus, parseFailureNote } from './stow-wire';
export type { StoredStatus } from './stow-wire';

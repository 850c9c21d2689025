import { TransferSyntax, isNativeTransferSyntax, isStorableSopClass, knownTransferSyntaxes, storageSopClasses } from '@yunying/dicom';

/**
 * Presentation context negotiation (PS3.8 9.3.2.2, PS3.7 D.3.3.2) for the gateway's SCP: Verification and
 * storage SOP classes; transfer syntaxes the archive's parser knows, the first compressed one proposed
 * preferred (an ultrasound machine's JPEG stays JPEG). The same rules as the archive's own SCP
 * (services/ingest/src/dimse/negotiation.ts), so what the gateway accepts the archive will too.
 */
export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';
const STANDARD_STORAGE_BRANCH = '1.2.840.10008.5.1.4.1.1.';

export type ContextDecision =
  | { result: 'accept'; transferSyntaxUid: string }
  | { result: 'abstract_syntax_not_supported' }
  | { result: 'transfer_syntaxes_not_supported' };

export function isAcceptedStorageClass(uid: string): boolean {
  if (storageSopClasses[uid] !== undefined) return true;
  if (uid.startsWith(STANDARD_STORAGE_BRANCH)) return true;
  return !uid.startsWith('1.2.840.10008.') && isStorableSopClass(uid);
}

const isKnown = (uid: string): boolean => knownTransferSyntaxes[uid] !== undefined;

export function negotiate(abstractSyntaxUid: string, proposed: readonly string[]): ContextDecision {
  const known = proposed.filter(isKnown);
  let chosen: string | undefined;
  if (abstractSyntaxUid === VERIFICATION_SOP_CLASS) {
    const native = known.filter(isNativeTransferSyntax);
    chosen = native.find((uid) => uid === TransferSyntax.ImplicitVRLittleEndian) ?? native[0];
  } else if (isAcceptedStorageClass(abstractSyntaxUid)) {
    chosen = known.find((uid) => !isNativeTransferSyntax(uid)) ?? known.find((uid) => uid === TransferSyntax.ExplicitVRLittleEndian) ?? known[0];
  } else {
    return { result: 'abstract_syntax_not_supported' };
  }
  return chosen === undefined ? { result: 'transfer_syntaxes_not_supported' } : { result: 'accept', transferSyntaxUid: chosen };
}

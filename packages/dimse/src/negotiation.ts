import { TransferSyntax, isNativeTransferSyntax, isStorableSopClass, knownTransferSyntaxes, storageSopClasses } from '@yunying/dicom';

/**
 * Presentation context negotiation (PS3.8 9.3.2.2, 7.1.1.13; PS3.7 D.3.3.2) for the C-STORE SCP.
 *
 * Abstract syntaxes: Verification, storage SOP classes (the named ones (`storageSopClasses`), any other
 * standard class under the storage branch 1.2.840.10008.5.1.4.1.1., and private classes: a root outside
 * 1.2.840.10008., accepted as the parser accepts them), and the Query/Retrieve FIND, GET and MOVE classes
 * the service offers. Worklist and every other standard service is refused (abstract syntax not supported).
 *
 * Transfer syntaxes: only those the parser knows (`knownTransferSyntaxes`); the SCP never transcodes,
 * so the accepted syntax is what gets stored. Within one context: the first compressed syntax the SCU
 * lists, else Explicit VR LE, else the first known one. Preferring compressed keeps an ultrasound
 * machine's JPEG as it is instead of making it decompress (INTEROP-NOTES); an SCU that wants to send
 * both (storescu -xy, dcmsend) proposes one context per syntax, and each is accepted as proposed.
 */

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/** Query/Retrieve FIND SOP classes (PS3.4 C.6): the information model each one queries. */
export const FIND_SOP_CLASSES = {
  '1.2.840.10008.5.1.4.1.2.1.1': 'patient_root',
  '1.2.840.10008.5.1.4.1.2.2.1': 'study_root',
} as const satisfies Record<string, QueryModel>;

export type QueryModel = 'patient_root' | 'study_root';

export function findModelOf(sopClassUid: string): QueryModel | undefined {
  return (FIND_SOP_CLASSES as Record<string, QueryModel>)[sopClassUid];
}

/** Query/Retrieve GET SOP classes (PS3.4 C.6). */
export const GET_SOP_CLASSES = {
  '1.2.840.10008.5.1.4.1.2.1.3': 'patient_root',
  '1.2.840.10008.5.1.4.1.2.2.3': 'study_root',
} as const satisfies Record<string, QueryModel>;

/** Query/Retrieve MOVE SOP classes (PS3.4 C.6). */
export const MOVE_SOP_CLASSES = {
  '1.2.840.10008.5.1.4.1.2.1.2': 'patient_root',
  '1.2.840.10008.5.1.4.1.2.2.2': 'study_root',
} as const satisfies Record<string, QueryModel>;

export function getModelOf(sopClassUid: string): QueryModel | undefined {
  return (GET_SOP_CLASSES as Record<string, QueryModel>)[sopClassUid];
}

export function moveModelOf(sopClassUid: string): QueryModel | undefined {
  return (MOVE_SOP_CLASSES as Record<string, QueryModel>)[sopClassUid];
}

/** Which services beyond Verification and Storage the SCP offers; their contexts are refused otherwise. */
export interface OfferedServices {
  find?: boolean;
  get?: boolean;
  move?: boolean;
  /** Storage Commitment Push Model (PS3.4 J). */
  commitment?: boolean;
}

export const STORAGE_COMMITMENT_PUSH_MODEL = '1.2.840.10008.1.20.1';

/** SCP/SCU Role Selection (PS3.7 D.3.3.4) as proposed for one abstract syntax; undefined: no item. */
export interface ProposedRole {
  scu: boolean;
  scp: boolean;
}

/**
 * The roles granted back. The requestor is always allowed its SCU role when it proposed it. It gets the
 * SCP role (it receives C-STOREs from us) only for a storage class, when C-GET is offered: that is how a
 * C-GET SCU asks for its storage sub-operations (PS3.4 C.4.3). Never a role the requestor did not propose.
 */
export function negotiateRole(abstractSyntaxUid: string, proposed: ProposedRole, offered: OfferedServices = {}): ProposedRole {
  const scp = proposed.scp && offered.get === true && isAcceptedStorageClass(abstractSyntaxUid);
  return { scu: proposed.scu, scp };
}
const STANDARD_STORAGE_BRANCH = '1.2.840.10008.5.1.4.1.1.';

export interface ProposedContext {
  id: number;
  abstractSyntaxUid: string;
  transferSyntaxUids: readonly string[];
  /** Role selection gave the requestor the SCP role only: it will receive on this context, never send. */
  receiveOnly?: boolean;
}

export type ContextDecision =
  | { id: number; result: 'accept'; transferSyntaxUid: string }
  | { id: number; result: 'abstract_syntax_not_supported' }
  | { id: number; result: 'transfer_syntaxes_not_supported' };

export function isAcceptedStorageClass(uid: string): boolean {
  if (storageSopClasses[uid] !== undefined) return true;
  if (uid.startsWith(STANDARD_STORAGE_BRANCH)) return true;
  return !uid.startsWith('1.2.840.10008.') && isStorableSopClass(uid);
}

function isKnown(uid: string): boolean {
  return knownTransferSyntaxes[uid] !== undefined;
}

export function chooseStorageTransferSyntax(proposed: readonly string[]): string | undefined {
  const known = proposed.filter(isKnown);
  return known.find((uid) => !isNativeTransferSyntax(uid)) ?? known.find((uid) => uid === TransferSyntax.ExplicitVRLittleEndian) ?? known[0];
}

/** Query identifiers are small: a native syntax, Explicit VR LE preferred, Implicit VR LE otherwise. */
function chooseQueryTransferSyntax(proposed: readonly string[]): string | undefined {
  const native = proposed.filter((uid) => isKnown(uid) && isNativeTransferSyntax(uid));
  return native.find((uid) => uid === TransferSyntax.ExplicitVRLittleEndian) ?? native.find((uid) => uid === TransferSyntax.ImplicitVRLittleEndian);
}

/** C-ECHO carries no dataset: any native syntax will do; Implicit VR LE is the default every SCU offers. */
function chooseVerificationTransferSyntax(proposed: readonly string[]): string | undefined {
  const native = proposed.filter((uid) => isKnown(uid) && isNativeTransferSyntax(uid));
  return native.find((uid) => uid === TransferSyntax.ImplicitVRLittleEndian) ?? native[0];
}

/**
 * A storage context on which the requestor only receives (C-GET's sub-operations): the requestor's own
 * order decides, since the archive cannot know at negotiation which encodings the instances it will send
 * have (getscu's default lists Explicit VR LE first; `getscu +xy` lists JPEG Baseline first). Explicit VR
 * Big Endian (retired) only when nothing else is offered: no stored instance can be sent in it.
 */
function chooseRetrieveTransferSyntax(proposed: readonly string[]): string | undefined {
  const known = proposed.filter(isKnown);
  return known.find((uid) => uid !== TransferSyntax.ExplicitVRBigEndian) ?? known[0];
}

export function negotiateContext(context: ProposedContext, offered: OfferedServices = {}): ContextDecision {
  const { id, abstractSyntaxUid } = context;
  const isQuery = (offered.find === true && findModelOf(abstractSyntaxUid) !== undefined) || (offered.get === true && getModelOf(abstractSyntaxUid) !== undefined) || (offered.move === true && moveModelOf(abstractSyntaxUid) !== undefined) || (offered.commitment === true && abstractSyntaxUid === STORAGE_COMMITMENT_PUSH_MODEL);
  let chosen: string | undefined;
  if (abstractSyntaxUid === VERIFICATION_SOP_CLASS) chosen = chooseVerificationTransferSyntax(context.transferSyntaxUids);
  else if (isQuery) chosen = chooseQueryTransferSyntax(context.transferSyntaxUids);
  else if (isAcceptedStorageClass(abstractSyntaxUid)) chosen = context.receiveOnly === true ? chooseRetrieveTransferSyntax(context.transferSyntaxUids) : chooseStorageTransferSyntax(context.transferSyntaxUids);
  else return { id, result: 'abstract_syntax_not_supported' };
  return chosen === undefined ? { id, result: 'transfer_syntaxes_not_supported' } : { id, result: 'accept', transferSyntaxUid: chosen };
}

/**
 * The asynchronous operations window of the A-ASSOCIATE-AC (PS3.7 D.3.3.3, sub-item 0x53), from the
 * requestor's side: `invoked` is how many operations it may have outstanding with us (at most ours; its 0
 * means unlimited), `performed` how many of ours it must take at once (always 1: we invoke one at a time).
 * Without a proposal both stay 1 (the default, no sub-item).
 */
export function asyncWindow(assoc: { getNegotiateAsyncOps(): boolean; getMaxAsyncOpsInvoked(): number }, ours: number): { invoked: number; performed: number } {
  if (!assoc.getNegotiateAsyncOps()) return { invoked: 1, performed: 1 };
  const proposed = assoc.getMaxAsyncOpsInvoked();
  return { invoked: Math.max(1, proposed === 0 ? ours : Math.min(proposed, ours)), performed: 1 };
}

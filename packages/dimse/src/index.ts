/**
 * The C-ECHO / C-STORE SCP shared by the archive's DICOM port (services/ingest) and the clinic gateway
 * (services/gateway): PS3.8 upper layer over dcmjs-dimse, PS3.7 DIMSE, PS3.4 A and B (SCP role), PS3.10
 * wrapping of the raw dataset. See README.md for what is implemented and what is left out.
 */
export { SCP_DEFAULTS, startScpServer, type ScpServer, type ScpServerOptions, type ScpTlsOptions } from './scp.server';
export type { CommitmentDelivery, CommitmentHandler, CommitmentPlan, CommitmentReference, CommitmentReportRoute, CommitmentRequest, CommitmentResult, FindContext, FindFinal, FindHandler, FindMatch, FindRequest, MoveDestination, OutboundTls, RetrieveHandler, RetrieveItem, RetrieveOutcome, RetrievePlan, RetrieveRequest, AssociationDecision, AssociationEnd, AssociationRejection, AssociationRequest, ReceivedInstance, ScpObserver, StoreContext, StoreHandler } from './scp.types';
export { FIND_SOP_CLASSES, GET_SOP_CLASSES, MOVE_SOP_CLASSES, VERIFICATION_SOP_CLASS, findModelOf, getModelOf, moveModelOf, negotiateRole, type ProposedRole, type OfferedServices, type QueryModel, chooseStorageTransferSyntax, isAcceptedStorageClass, negotiateContext, type ContextDecision, type ProposedContext } from './negotiation';
export { part10Header, splitPart10, wrapPart10, type ImplementationIdentity, type Part10Meta, type Part10Parts } from './part10';
export { RetrieveStatus } from './retrieve.scp';
export { CommitmentEvent, STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE } from './commitment';
export { sendCommitmentReportOnNewAssociation, type NewAssociationReportOptions } from './commitment-report';
export { chooseOutgoingSyntax, convertNativeDataset } from './outgoing';
export { StoreStatus, answerForException, errorComment, statusLabel, type StoreAnswer } from './store-status';
export { TimeoutError, withTimeout } from './timeout';
export { FindStatus } from './association.scp';
export type { TlsPeer, UserIdentity, UserIdentityKind } from './credentials';

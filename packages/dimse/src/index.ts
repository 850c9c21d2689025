/**
 * The C-ECHO / C-STORE SCP shared by the archive's DICOM port (services/ingest) and the clinic gateway
 * (services/gateway): PS3.8 upper layer over dcmjs-dimse, PS3.7 DIMSE, PS3.4 A and B (SCP role), PS3.10
 * wrapping of the raw dataset. See README.md for what is implemented and what is left out.
 */
export { startScpServer, type ScpServer, type ScpServerOptions } from './scp.server';
export type { FindContext, FindFinal, FindHandler, FindMatch, FindRequest, AssociationDecision, AssociationEnd, AssociationRejection, AssociationRequest, ReceivedInstance, ScpObserver, StoreContext, StoreHandler } from './scp.types';
export { FIND_SOP_CLASSES, VERIFICATION_SOP_CLASS, findModelOf, type OfferedServices, type QueryModel, chooseStorageTransferSyntax, isAcceptedStorageClass, negotiateContext, type ContextDecision, type ProposedContext } from './negotiation';
export { part10Header, wrapPart10, type ImplementationIdentity, type Part10Meta } from './part10';
export { StoreStatus, answerForException, errorComment, statusLabel, type StoreAnswer } from './store-status';
export { TimeoutError, withTimeout } from './timeout';
export { FindStatus } from './association.scp';

import { requests } from 'dcmjs-dimse';
import { TransferSyntax } from '@yunying/dicom';
import { STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, eventReport } from './commitment';
import type { CommitmentResult, MoveDestination } from './scp.types';
import { openAssociation } from './storage-scu';
import { acceptedSyntaxesOf, sendRequest, SubOperationError } from './store-channel';
import { WireDataset } from './wire-dataset';

export interface NewAssociationReportOptions {
  /** The SCU's registered address; its AE title is the called AE. */
  destination: MoveDestination;
  /** Our AE title as the calling AE. */
  callingAe: string;
  /** Connect + A-ASSOCIATE-AC, the N-EVENT-REPORT-RSP, and the A-RELEASE-RP, each. */
  timeoutMs: number;
  maxPduLength: number;
}

/**
 * PS3.4 J.3.3: the Storage Commitment result sent on an association the archive opens to the SCU. The
 * archive proposes the Storage Commitment Push Model with an SCP/SCU Role Selection item giving itself the
 * SCP role only (PS3.4 J.3.3.1 / PS3.7 D.3.3.4: the requestor of this association is the SOP class's SCP),
 * sends the N-EVENT-REPORT-RQ and releases. Resolves with the N-EVENT-REPORT-RSP status; rejects with a
 * SubOperationError saying why when the SCU cannot be reached, refuses the association or the context, or
 * does not answer in time.
 */
export async function sendCommitmentReportOnNewAssociation(options: NewAssociationReportOptions, transactionUid: string, result: CommitmentResult): Promise<number> {
  const { destination } = options;
  const outbound = await openAssociation(
    {
      host: destination.host,
      port: destination.port,
      callingAe: options.callingAe,
      calledAe: destination.aeTitle,
      timeoutMs: options.timeoutMs,
      maxPduLength: options.maxPduLength,
      ...(destination.tls !== undefined ? { tls: destination.tls } : {}),
    },
    [{ sopClassUid: STORAGE_COMMITMENT_SOP_CLASS, transferSyntaxUids: [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian], role: { scu: false, scp: true } }],
  );
  try {
    const accepted = acceptedSyntaxesOf(outbound.assoc, STORAGE_COMMITMENT_SOP_CLASS);
    const syntax = accepted[0];
    if (syntax === undefined) throw new SubOperationError('the SCU did not accept the Storage Commitment context on the new association');
    const { eventTypeId, elements } = eventReport(transactionUid, result);
    const report = new requests.NEventReportRequest(STORAGE_COMMITMENT_SOP_CLASS, STORAGE_COMMITMENT_SOP_INSTANCE, eventTypeId);
    report.setDataset(new WireDataset(elements, syntax));
    return await sendRequest(outbound.network, report, options.timeoutMs, outbound.ended);
  } finally {
    await outbound.release();
  }
}

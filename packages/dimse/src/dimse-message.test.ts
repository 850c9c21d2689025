import { Dataset, Scp, log as dimseLibraryLog, requests, responses } from 'dcmjs-dimse';
import { encodeFlatDataset } from './flat-dataset';
import { CommandField, encodeResponseCommand, pDataTfMessage } from './dimse-message';

const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** What dcmjs-dimse's Network writes to the socket for one DIMSE message (its private _sendPDataTF, on a stand-in). */
function writtenByDcmjsDimse(command: responses.CFindResponse | responses.CStoreResponse, pcId: number, maxPduLength: number): Buffer {
  const writes: Buffer[] = [];
  const standIn = { socket: { write: (b: Buffer) => writes.push(Buffer.from(b)) }, statistics: { addBytesSent: () => undefined }, logId: 'test', logCommandDatasets: false, logDatasets: false, datasetWriteOptions: undefined, datasetNameMap: undefined };
  const send = (Scp.prototype as unknown as { _sendPDataTF: (this: typeof standIn, c: unknown, id: number, max: number) => void })._sendPDataTF;
  send.call(standIn, command, pcId, maxPduLength);
  return Buffer.concat(writes);
}

function findResponse(messageId: number, status: number, identifier?: Record<string, unknown>, comment?: string): responses.CFindResponse {
  const request = new requests.CFindRequest();
  request.setMessageId(messageId);
  const response = responses.CFindResponse.fromRequest(request);
  response.setStatus(status);
  if (identifier !== undefined) response.setDataset(new Dataset(identifier, EXPLICIT_LE));
  if (comment !== undefined) response.setErrorComment(comment);
  return response;
}

describe('DIMSE messages written without dcmjs', () => {
  beforeAll(() => dimseLibraryLog.setLevel('silent'));

  const identifier = { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '2.25.881234', PatientName: '王^小明', PatientID: 'FP1', StudyDate: '20150101', ModalitiesInStudy: ['US', 'SR'], NumberOfStudyRelatedInstances: 5 };

  it.each([
    ['pending with an identifier', 7, 0xff00, identifier, undefined],
    ['pending, optional keys unsupported', 65535, 0xff01, identifier, undefined],
    ['final success', 1, 0x0000, undefined, undefined],
    ['final at the cap, odd-length comment', 300, 0xa700, undefined, 'More than 1000 matches; narrow the query'],
    ['final cancel, even-length comment', 2, 0xfe00, undefined, 'Cancelled'],
  ] as const)('C-FIND-RSP %s: the same bytes as dcmjs-dimse, command set and PDUs', (_name, messageId, status, dataset, comment) => {
    const theirs = findResponse(messageId, status, dataset, comment);
    const command = encodeResponseCommand({ commandField: CommandField.CFindResponse, affectedSopClassUid: STUDY_ROOT_FIND, messageIdBeingRespondedTo: messageId, status, hasDataSet: dataset !== undefined, ...(comment !== undefined ? { errorComment: comment } : {}) });
    expect(command.toString('hex')).toBe(theirs.getCommandDataset().getDenaturalizedCommandDataset().toString('hex'));
    const dataSet = dataset === undefined ? null : encodeFlatDataset(dataset, EXPLICIT_LE);
    for (const maxPduLength of [16384, 0]) {
      expect(pDataTfMessage(3, command, dataSet, maxPduLength).toString('hex')).toBe(writtenByDcmjsDimse(theirs, 3, maxPduLength).toString('hex'));
    }
  });

  it.each([
    ['success', 1, 0x0000, undefined],
    ['refused with an odd-length comment', 65535, 0xa700, 'Store timed out; retry later'],
    ['error with an even-length comment', 12, 0xc000, 'Cannot understand'],
  ] as const)('C-STORE-RSP %s: the same bytes as dcmjs-dimse', (_name, messageId, status, comment) => {
    const request = new requests.CStoreRequest(new Dataset({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.6.1', SOPInstanceUID: '2.25.3311.7' }, EXPLICIT_LE));
    request.setMessageId(messageId);
    const theirs = responses.CStoreResponse.fromRequest(request);
    theirs.setStatus(status);
    if (comment !== undefined) theirs.setErrorComment(comment);
    const command = encodeResponseCommand({
      commandField: CommandField.CStoreResponse,
      affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.6.1',
      affectedSopInstanceUid: '2.25.3311.7',
      messageIdBeingRespondedTo: messageId,
      status,
      hasDataSet: false,
      ...(comment !== undefined ? { errorComment: comment } : {}),
    });
    expect(pDataTfMessage(5, command, null, 16384).toString('hex')).toBe(writtenByDcmjsDimse(theirs, 5, 16384).toString('hex'));
  });

  it('splits a data set over several PDUs within the peer\'s Maximum Length, as dcmjs-dimse does', () => {
    const big = { ...identifier, StudyDescription: 'x'.repeat(60), AccessionNumber: 'A'.repeat(16) };
    const theirs = findResponse(9, 0xff00, big);
    const command = encodeResponseCommand({ commandField: CommandField.CFindResponse, affectedSopClassUid: STUDY_ROOT_FIND, messageIdBeingRespondedTo: 9, status: 0xff00, hasDataSet: true });
    const dataSet = encodeFlatDataset(big, EXPLICIT_LE);
    expect(dataSet).not.toBeNull();
    for (const maxPduLength of [32, 64, 100, (dataSet as Buffer).length + 6]) {
      const ours = pDataTfMessage(1, command, dataSet, maxPduLength);
      expect(ours.toString('hex')).toBe(writtenByDcmjsDimse(theirs, 1, maxPduLength).toString('hex'));
      // Every data PDU's variable field stays within the limit.
      for (let at = 0; at < ours.length; at += 6 + ours.readUInt32BE(at + 2)) {
        if ((ours.readUInt8(at + 11) & 0x01) === 0) expect(ours.readUInt32BE(at + 2)).toBeLessThanOrEqual(maxPduLength);
      }
    }
  });

  it('sends an empty data set as one empty last fragment rather than none', () => {
    const command = encodeResponseCommand({ commandField: CommandField.CFindResponse, affectedSopClassUid: STUDY_ROOT_FIND, messageIdBeingRespondedTo: 1, status: 0xff00, hasDataSet: true });
    const out = pDataTfMessage(1, command, Buffer.alloc(0), 16384);
    const second = 12 + command.length;
    expect(out.length).toBe(second + 12);
    expect(out.readUInt8(second + 11)).toBe(0x02);
  });
});

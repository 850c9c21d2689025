import { constants, type association, type requests, type responses } from 'dcmjs-dimse';

/**
 * Where storage sub-operations (PS3.4 C.4.2.3, C.4.3.3) go: the C-GET requestor on its own association,
 * or a C-MOVE destination on an association the archive opened. One C-STORE at a time: the archive
 * negotiates no asynchronous operations window, in either direction.
 */
export interface StorageChannel {
  /** Transfer syntaxes accepted for this SOP class on a context usable for sending; empty if none. */
  acceptedSyntaxes(sopClassUid: string): string[];
  /** Sends one C-STORE-RQ and resolves with the C-STORE-RSP's status; rejects if none comes in time or the association ends. */
  store(request: requests.CStoreRequest): Promise<number>;
}

/** What sends requests on an established association (a dcmjs-dimse Network: our SCP or an outbound one). */
export interface RequestSender {
  sendRequests(requests: requests.Request | requests.Request[]): void;
}

export class SubOperationError extends Error {}

/** The transfer syntaxes accepted for `sopClassUid` on the contexts `usable` admits. */
export function acceptedSyntaxesOf(assoc: association.Association, sopClassUid: string, usable: (context: association.PresentationContext) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const { context } of assoc.getPresentationContexts()) {
    if (context.getAbstractSyntaxUid() !== sopClassUid || context.getResult() !== constants.PresentationContextResult.Accept || !usable(context)) continue;
    const uid = context.getAcceptedTransferSyntaxUid();
    if (uid !== undefined && !out.includes(uid)) out.push(uid);
  }
  return out;
}

/**
 * Sends `request` and waits for its response: within `timeoutMs`, and not past `ended` (the association
 * closing). dcmjs-dimse matches the response by Message ID and raises 'response' on the request.
 */
export function sendStore(sender: RequestSender, request: requests.CStoreRequest, timeoutMs: number, ended: AbortSignal): Promise<number> {
  return sendRequest(sender, request, timeoutMs, ended);
}

/** Any request we send as the invoker (a C-STORE sub-operation, a Storage Commitment N-EVENT-REPORT): its response status. */
export function sendRequest(sender: RequestSender, request: requests.Request, timeoutMs: number, ended: AbortSignal): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    if (ended.aborted) {
      reject(new SubOperationError('association ended'));
      return;
    }
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ended.removeEventListener('abort', onEnded);
      outcome();
    };
    const onEnded = (): void => finish(() => reject(new SubOperationError('association ended before the response')));
    const timer = setTimeout(() => finish(() => reject(new SubOperationError(`no response within ${timeoutMs} ms`))), timeoutMs);
    ended.addEventListener('abort', onEnded, { once: true });
    request.on('response', (response: responses.Response) => finish(() => resolve(response.getStatus())));
    // 'done' without a response: dcmjs-dimse gave up on sending it (it could not encode the dataset).
    request.on('done', () => finish(() => reject(new SubOperationError('the request could not be sent'))));
    sender.sendRequests(request);
  });
}

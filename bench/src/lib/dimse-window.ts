import fs from 'node:fs';
import { splitPart10 } from '@yunying/dimse';
import { RawScu, cStoreCommand, statusOf, storePdus, type RawContext } from '@yunying/dimse/testing';

/**
 * A C-STORE SCU that uses the asynchronous operations window (PS3.7 D.3.3.3), which dcmtk's storescu
 * (3.6.7) cannot: one association, `window` C-STOREs outstanding, the next sent as soon as a response
 * comes back. One presentation context per (SOP class, transfer syntax) of the files, each dataset sent
 * in its stored encoding. Returns how many were not answered 0x0000 (or not at all).
 */
export async function storeWithWindow(options: { port: number; callingAe: string; calledAe: string; files: string[]; window: number }): Promise<{ failed: number; window: number }> {
  const items = options.files.map((file) => {
    const { sopClassUid, transferSyntaxUid, sopInstanceUid } = splitPart10(fs.readFileSync(file));
    return { file, sopClassUid, transferSyntaxUid, sopInstanceUid };
  });
  const contexts: RawContext[] = [];
  const contextOf = new Map<string, number>();
  for (const item of items) {
    const key = `${item.sopClassUid}|${item.transferSyntaxUid}`;
    if (contextOf.has(key)) continue;
    const id = 1 + 2 * contexts.length;
    contextOf.set(key, id);
    contexts.push({ id, abstractSyntaxUid: item.sopClassUid, transferSyntaxUids: [item.transferSyntaxUid] });
  }
  const scu = await RawScu.connect(options.port);
  try {
    const { pdu, asyncOps } = await scu.associate(options.callingAe, options.calledAe, contexts, { asyncOps: { invoked: options.window, performed: 1 } });
    if (pdu?.type !== 0x02) throw new Error(`association not accepted (PDU type ${pdu?.type ?? 'none'})`);
    // The acceptor's answer bounds us; none means synchronous (PS3.7 D.3.3.3), 0 means unlimited.
    const window = asyncOps === null ? 1 : asyncOps.invoked === 0 ? options.window : asyncOps.invoked;
    // PDVs as large as the archive's advertised 256 KiB Maximum Length allows (6 bytes of PDV header).
    const chunk = 256 * 1024 - 6;
    let failed = 0;
    let outstanding = 0;
    let next = 0;
    while (next < items.length || outstanding > 0) {
      while (next < items.length && outstanding < window) {
        const item = items[next]!;
        const contextId = contextOf.get(`${item.sopClassUid}|${item.transferSyntaxUid}`) ?? 1;
        const { dataset } = splitPart10(fs.readFileSync(item.file));
        scu.send(storePdus(contextId, cStoreCommand({ messageId: (next % 0xffff) + 1, sopClassUid: item.sopClassUid, sopInstanceUid: item.sopInstanceUid }), dataset, chunk));
        next += 1;
        outstanding += 1;
      }
      const response = await scu.next();
      if (response?.type !== 0x04) throw new Error(`association ended with ${outstanding} C-STOREs unanswered`);
      if (statusOf(response) !== 0x0000) failed += 1;
      outstanding -= 1;
    }
    await scu.release();
    return { failed, window };
  } finally {
    scu.destroy();
  }
}

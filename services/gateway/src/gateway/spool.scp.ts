import { describeError, type Logger } from '@yunying/core';
import { StoreStatus, startScpServer, type AssociationDecision, type AssociationRequest, type ReceivedInstance, type ScpServer, type StoreAnswer, type StoreContext } from '@yunying/dimse';
import type { GatewayMetrics } from './gateway.metrics';
import type { Spool } from './spool';

/**
 * The gateway's SCP for clinic modalities: the shared SCP (@yunying/dimse: PS3.8 upper layer, PS3.7 DIMSE,
 * PS3.4 Annex A Verification and Annex B Storage, SCP role; raw datasets, bounded waits) with what is
 * particular to the gateway:
 *  - calling AE titles: `allowedCallingAe` (empty accepts any non-empty title); others get A-ASSOCIATE-RJ
 *    permanent, "calling AE not recognized". The called AE title is not checked.
 *  - C-STORE success (0x0000) is sent only after the instance is durable in the spool (Spool.put: fsync +
 *    rename + fsync of the folder). When the spool is over its limit, or the write fails, the answer is
 *    0xA700 (Refused: Out of Resources), which modalities treat as "retry later".
 *  - a modality that proposes an asynchronous operations window gets up to `maxOperationsInvoked`
 *    C-STOREs outstanding: their spool writes (fsync each) overlap instead of one waiting for the other,
 *    and each C-STORE-RSP still waits for its own instance's Spool.put.
 * The dataset is not validated here: the archive does that, and a refusal lands in failed/ with its reason.
 */

/** (0002,0012) / (0002,0013) of the gateway: an instance's file meta says which hop wrapped it. */
export const GATEWAY_IMPLEMENTATION = { classUid: '1.2.826.0.1.3680043.10.1557.2', versionName: 'YUNYING_GW_0_1' };

export interface SpoolScpOptions {
  host: string;
  port: number;
  /** Calling AE titles accepted; empty accepts any. */
  allowedCallingAe: readonly string[];
  spool: Spool;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Called when a C-STORE is refused because the spool is full (raises the alarm). */
  onSpoolFull(): void;
  /**
   * Asynchronous operations window (PS3.7 D.3.3.3): the most C-STOREs a modality that proposes a window
   * may have outstanding on one association, each answered once its own instance is spooled; 1 answers
   * every proposal with the synchronous default. Default 1.
   */
  maxOperationsInvoked?: number;
}

export function startSpoolScp(options: SpoolScpOptions): Promise<ScpServer> {
  const { allowedCallingAe: allowed, spool, metrics } = options;

  const onAssociation = (request: AssociationRequest): AssociationDecision<void> => {
    if (request.callingAe === '' || (allowed.length > 0 && !allowed.includes(request.callingAe))) {
      return { accept: false, reason: 'calling_ae_not_recognized', outcome: 'calling_ae_not_allowed' };
    }
    return { accept: true, session: undefined };
  };

  const onStore = async (instance: ReceivedInstance, context: StoreContext<void>): Promise<StoreAnswer> => {
    const size = instance.byteLength;
    if (!spool.reserve(size)) {
      options.onSpoolFull();
      return { status: StoreStatus.OutOfResources, errorComment: 'Gateway spool full; retry later' };
    }
    try {
      // Durable before the answer: this await is the guarantee that an acknowledged instance is never lost.
      await spool.put(instance.chunks);
    } catch (error) {
      context.log.error({ err: describeError(error) }, 'could not spool an instance');
      return { status: StoreStatus.OutOfResources, errorComment: 'Gateway could not write the spool; retry later' };
    } finally {
      spool.release(size);
    }
    return { status: StoreStatus.Success };
  };

  return startScpServer<void>({
    host: options.host,
    port: options.port,
    implementation: GATEWAY_IMPLEMENTATION,
    logger: options.logger,
    onAssociation,
    onStore,
    shuttingDownComment: 'Gateway shutting down; retry later',
    observer: {
      associationDecided: (outcome) => metrics.associations.inc({ result: outcome }),
      associationEnded: () => undefined,
      storeAnswered: (status) => metrics.received.inc({ outcome: status === StoreStatus.Success ? 'spooled' : status === StoreStatus.OutOfResources ? 'refused_out_of_resources' : 'refused' }),
    },
    // The gateway's bounds (the package defaults): 256 KiB PDUs, 30 s to associate, 60 s of peer silence,
    // 1 GiB per instance. A spool write is not bounded here: it is a local fsync, not a remote wait.
    maxOperationsInvoked: options.maxOperationsInvoked ?? 1,
  });
}

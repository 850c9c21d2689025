import type { Registry } from 'prom-client';
import { AuditAnchor, auditAnchorStores, AuditSegmentKeeper, loadCheckpointSigner } from '@yunying/audit';
import type { Authenticator, AuthService } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import type { Config } from '@yunying/config';
import { describeError, type Logger } from '@yunying/core';
import type { Lifecycle } from '@yunying/http';
import type { DerivedStore, ReplicatedStore } from '@yunying/storage';
import { DisposalService } from './disposal.service';
import { KEEPER_ACTOR } from './keeper.audit';
import { keeperMetrics } from './keeper.metrics';
import { keeperRoutes } from './keeper.route';
import { LockExtender } from './lock.extender';
import { OrphanSweeper } from './orphan.sweeper';
import { RepairService } from './repair.service';
import { Scrubber } from './scrub.service';

export interface KeeperDeps {
  config: Config;
  pool: Pool;
  store: ReplicatedStore;
  /** Derived objects (thumbnails): a disposal removes the study's with its copies. */
  derived: DerivedStore;
  /** Authenticates the admin routes; its `disableDormantAccounts` is the dormant-account loop (AUTH_DORMANT_DISABLE_DAYS). */
  auth: Authenticator & Pick<AuthService, 'disableDormantAccounts'>;
  logger: Logger;
  metrics: Registry;
  lifecycle: Lifecycle;
  /** Run the scheduled loops (scrub, repair, disposal executor, orphan sweep) here. Only the keeper role
   * does; the ingest role serves the on-demand admin routes without them (issue #18). */
  loops: boolean;
}

/**
 * Runs `fn` every `seconds` (0 = never), one run at a time; stop() waits for the run in flight. With `atStart`
 * the first run is at start, not one interval later: an hourly check in a keeper restarted more often than
 * hourly (rolling deploys, a crash loop) would otherwise never run.
 */
class Every {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly seconds: number,
    private readonly fn: () => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
    private readonly atStart = false,
  ) {}

  start(): void {
    if (this.seconds <= 0) return;
    this.timer = setInterval(() => this.tick(), this.seconds * 1000);
    this.timer.unref();
    if (this.atStart) {
      this.first = setTimeout(() => this.tick(), 0);
      this.first.unref();
    }
  }

  private tick(): void {
    if (this.running) return;
    this.running = this.fn()
      .then(() => undefined, this.onError)
      .finally(() => {
        this.running = undefined;
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.first) clearTimeout(this.first);
    await this.running;
  }
}

/**
 * Keep and prove (#8): the scheduled loops (and the lock extender, #20) run in the keeper role (ROLE=keeper, or within ROLE=all), the
 * admin/auditor routes are served by the ingest role (and the keeper's own port). The scrubber, the repair worker (which also completes
 * copies that failed at write time with a write quorum below 3), the orphan sweeper and the disposal
 * executor, plus their admin/auditor routes. See docs/keep-and-prove.md.
 */
export function startKeeper(deps: KeeperDeps): { router: ReturnType<typeof keeperRoutes>['router'] } {
  const { config, pool, store } = deps;
  const settings = config.keeper;
  const logger = deps.logger.child({ component: 'keeper' });
  const metrics = keeperMetrics(deps.metrics);
  const repair = new RepairService({ pool, store, logger, metrics, retrySeconds: settings.repairRetrySeconds });
  const scrubber = new Scrubber({
    pool,
    store,
    repair,
    logger,
    metrics,
    batch: settings.scrubBatch,
    maxBytesPerSecond: settings.scrubMaxBytesPerSecond,
    cycleSeconds: settings.scrubCycleDays * 86_400,
    unreachableRetrySeconds: Math.max(settings.repairRetrySeconds, settings.scrubIntervalSeconds),
  });
  const sweeper = new OrphanSweeper({ pool, store, logger, metrics });
  const disposals = new DisposalService({ pool, store, derived: deps.derived, logger, metrics });
  const locks = new LockExtender({ pool, store, logger, metrics });

  const warn = (what: string) => (error: unknown) => logger.warn({ err: describeError(error) }, `keeper: ${what} failed; will retry`);
  const signer = () => loadCheckpointSigner(config.audit.signingKeyFile, config.audit.generateMissing.signingKey);
  // AUDIT_ANCHOR_STORE=replicas: checkpoints and segments are write-once objects in the three copy targets (#17).
  const anchorStores = auditAnchorStores(config, store.targets);
  const anchor = new AuditAnchor(pool, signer, anchorStores.checkpoints);
  const segments =
    anchorStores.segmentTargets === null
      ? null
      : new AuditSegmentKeeper({ pool, targets: anchorStores.segmentTargets, chain: config.audit.chain, retentionDays: anchorStores.retentionDays, signer });
  const checkpointAuditChain = async (): Promise<void> => {
    const outcome = await anchor.tick();
    if (outcome.written) logger.info({ seq: outcome.checkpoint.seq }, 'audit chain checkpoint signed');
    // The detail names record numbers and the kind of break only, never record content.
    else if (outcome.reason === 'chain-broken') logger.error({ verification: outcome.verification }, 'audit chain does not verify: checkpoint NOT signed');
    if (segments === null) return;
    const { exported, restored } = await segments.tick();
    for (const e of exported) if (e.exported) logger.info({ firstSeq: e.firstSeq, lastSeq: e.lastSeq }, 'audit segment exported');
    if (exported.some((e) => !e.exported && e.reason === 'last-segment-invalid')) logger.error({}, 'no recent exported audit segment verifies: NOT exporting');
    if (restored.length > 0) logger.warn({ restored: restored.length }, 'audit anchor copies restored from a valid copy');
  };
  const dormantDays = config.auth.dormantDisableDays;
  const disableDormantAccounts = async (): Promise<void> => {
    const disabled = await deps.auth.disableDormantAccounts(dormantDays, KEEPER_ACTOR);
    // Counts only: who was disabled is in the audit trail, not in the logs.
    if (disabled.length > 0) logger.info({ disabled: disabled.length, afterDays: dormantDays }, 'dormant accounts disabled');
  };
  const loops = [
    new Every(settings.scrubIntervalSeconds, () => scrubber.tick(), warn('scrub tick')),
    new Every(settings.repairRetrySeconds, () => repair.runDue(), warn('repair pass')),
    new Every(settings.repairRetrySeconds, () => disposals.kick(), warn('disposal executor')),
    // A later instance raises its study's retain-until past the copies already written: extend them soon.
    new Every(settings.repairRetrySeconds, () => locks.tick(), warn('lock extension')),
    new Every(settings.orphanSweepIntervalSeconds, () => sweeper.sweep(), warn('orphan sweep')),
    new Every(config.audit.checkpointIntervalSeconds, checkpointAuditChain, warn('audit checkpoint')),
    new Every(dormantDays > 0 ? 3600 : 0, disableDormantAccounts, warn('dormant-account check'), true),
  ];
  if (!deps.loops) return { router: keeperRoutes({ auth: deps.auth, scrubber, repair, sweeper, disposals }).router };
  for (const loop of loops) loop.start();
  deps.lifecycle.add({ name: 'keeper', close: () => Promise.all(loops.map((l) => l.stop())).then(() => undefined) });

  return { router: keeperRoutes({ auth: deps.auth, scrubber, repair, sweeper, disposals }).router };
}

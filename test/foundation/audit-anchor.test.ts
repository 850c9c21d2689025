import fs from 'node:fs';
import path from 'node:path';
import * as Minio from 'minio';
import { s3SystemEnv, s3TestSettings, uniqueBucketName } from '@yunying/storage/testing';
import { signIn } from '../keep/keep.support';
import { describeUnless } from '../support/skip';
import { startLauncher } from '../support/processes';
import { startSystem, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';

/**
 * Issue #17, the audit chain a database superuser cannot re-forge, end to end: the real launcher generates
 * the MAC key and the SM2 signing key outside the database (embedded defaults), the keeper signs checkpoints
 * of the chain head into the checkpoint directory, and GET /api/audit/verify checks the chain against them,
 * so records removed from the tail together with a rewritten head are reported as truncated.
 */
describe('launcher: audit keys are required in production', () => {
  it('refuses to boot without AUDIT_MAC_KEY_FILE and AUDIT_SIGNING_KEY_FILE in production', async () => {
    const launcher = startLauncher({ AUTH_TOKEN_SECRET: 'k'.repeat(40), NODE_ENV: 'production' });
    expect(await launcher.exited).toBe(78);
    expect(launcher.output()).toMatch(/AUDIT_MAC_KEY_FILE: required in production/);
    expect(launcher.output()).toMatch(/AUDIT_SIGNING_KEY_FILE: required in production/);
  });
});

/** The running system's anchors after the cut, checked where they are stored (S3: in the buckets). */
type AnchorCheck = (system: RunningSystem) => Promise<void>;

function anchoredChain(title: string, env: () => Record<string, string>, checkStore?: AnchorCheck): void {
  describe(title, () => {
    let system: RunningSystem;
    beforeAll(async () => {
      system = await startSystem({ env: { ...env(), AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1' } });
    });
    afterAll(async () => {
      await system?.stop();
    });

    const verify = async (token: string): Promise<Record<string, unknown>> => {
      const res = await fetch(`${system.urls.viewer}/api/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as Record<string, unknown>;
    };

    it('keeps the keys outside the database, signs checkpoints, and reports a truncated tail', async () => {
      const keyFile = path.join(system.dataDir, 'secrets', 'audit-mac.keys');
      expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.join(system.dataDir, 'secrets', 'audit-signing.pem')).mode & 0o777).toBe(0o600);
      const keyLine = fs.readFileSync(keyFile, 'utf8').split('\n').find((l) => /^[^#].*:/.test(l)) ?? '';
      const keyMaterial = keyLine.slice(keyLine.indexOf(':') + 1);

      const auditor = await signIn(system, 'auditor');
      for (const user of ['admin', 'auditor', 'admin']) await signIn(system, user);
      const { rows } = await system.pool.query<{ n: string; keyed: string; dump: string }>(
        "SELECT count(*) AS n, count(mac_key_id) AS keyed, string_agg(row_to_json(audit_events)::text, ',') AS dump FROM audit_events",
      );
      expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(4);
      expect(rows[0]?.keyed).toBe(rows[0]?.n);
      expect(rows[0]?.dump).not.toContain(keyMaterial);

      // The keeper checkpoints the head every second and exports the new records as a segment, both as
      // write-once objects in the three replica targets (AUDIT_ANCHOR_STORE=replicas, the default); wait until
      // it has caught up with both sign-ins.
      const head = Number(rows[0]?.n);
      let ok: Record<string, unknown> = {};
      await waitFor('a checkpoint and a segment of the chain head', async () => {
        ok = await verify(auditor);
        const latest = ok.latestCheckpoint as { seq: number } | null;
        const segments = ok.segments as { exportedThrough: number; ok: boolean } | undefined;
        // A verification that lists the targets while a copy is being written sees it on some only: wait for all.
        const settled = segments?.ok === true && Array.isArray(ok.anchorProblems) && ok.anchorProblems.length === 0;
        return latest !== null && latest.seq >= head && (segments?.exportedThrough ?? 0) >= head && settled;
      });
      expect(ok).toMatchObject({ ok: true, legacyCount: 0, keyedFromSeq: 1, anchorProblems: [], segments: { ok: true, problems: [] } });
      expect(ok.checkpointsChecked).toBeGreaterThanOrEqual(1);
      // No checkpoint file outside the replica targets any more.
      expect(fs.existsSync(path.join(system.dataDir, 'audit-checkpoints'))).toBe(false);

      // A superuser removes the last two records and points the head at the record before them.
      const client = await system.pool.connect();
      try {
        await client.query('SET session_replication_role = replica');
        const last = Number((await client.query<{ last_seq: string }>('SELECT last_seq FROM audit_chain_head')).rows[0]?.last_seq);
        const keep = (await client.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [head - 2])).rows[0]?.hash;
        await client.query('DELETE FROM audit_events WHERE seq > $1', [head - 2]);
        await client.query('UPDATE audit_chain_head SET last_seq = $1, last_hash = $2', [head - 2, keep]);
        expect(last).toBeGreaterThanOrEqual(head);
      } finally {
        await client.query('RESET session_replication_role');
        client.release();
      }
      const broken = await verify(auditor);
      // Verification itself is not audited, so nothing new is appended between the cut and the check.
      expect(broken).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: head - 1 });
      expect(String(broken.detail)).toMatch(/are missing: the checkpoint signed at .* records the chain up to record/);
      // The exported segment still holds the deleted records: named by number.
      const segments = broken.segments as { ok: boolean; problems: { problem: string; seqs?: string }[] };
      expect(segments.ok).toBe(false);
      expect(new Set(segments.problems.map((p) => p.problem))).toEqual(new Set(['removed']));
      const removed = segments.problems.flatMap((p) =>
        (p.seqs ?? '').split(',').flatMap((r) => {
          const [a, b = a] = r.split('-').map(Number);
          return Array.from({ length: (b ?? 0) - (a ?? 0) + 1 }, (_, i) => (a ?? 0) + i);
        }),
      );
      expect(removed).toEqual(expect.arrayContaining([head - 1, head]));
      expect(Math.min(...removed)).toBe(head - 1);
      await checkStore?.(system);
    });
  });
}

anchoredChain('audit chain: keyed links and signed checkpoints in the running system (fs replica targets)', () => ({}));

const s3 = s3TestSettings();

describeUnless(s3 === null ? 'no S3 endpoint (S3_ENDPOINT unset; Ceph RGW not running)' : null, 'audit anchors in the Object Lock buckets (system, Ceph RGW)', () => {
  const buckets = ['a', 'b', 'c'].map((r) => uniqueBucketName(`yy-audit-${r}`));
  anchoredChain('audit chain: checkpoints and segments in three Object Lock buckets', () => s3SystemEnv(s3!, buckets), async () => {
    const s = s3!;
    const url = new URL(s.endpoint);
    const client = new Minio.Client({ endPoint: url.hostname, port: Number(url.port), useSSL: false, accessKey: s.accessKey, secretKey: s.secretKey, region: s.region, pathStyle: true });
    for (const bucket of buckets) {
      const listed: { name?: string; versionId?: string | null }[] = [];
      for await (const item of client.listObjects(bucket, 'audit/', true, { IncludeVersion: true }) as AsyncIterable<{ name?: string; versionId?: string | null }>) listed.push(item);
      const checkpoint = listed.find((o) => o.name?.includes('/checkpoints/'));
      expect(checkpoint).toBeDefined();
      expect(listed.some((o) => o.name?.includes('/segments/'))).toBe(true);
      const versionId = checkpoint?.versionId ?? '';
      // Locked COMPLIANCE for AUDIT_ANCHOR_RETENTION_DAYS (default 5479 days), and the store refuses the delete.
      const retention = await client.getObjectRetention(bucket, checkpoint?.name ?? '', { versionId });
      expect(retention?.mode).toBe('COMPLIANCE');
      expect(new Date(String(retention?.retainUntilDate)).getTime()).toBeGreaterThan(Date.now() + 5478 * 86_400_000);
      const refused = await client.removeObject(bucket, checkpoint?.name ?? '', { versionId }).then(
        () => null,
        (e: unknown) => e as { code?: string },
      );
      expect(refused?.code).toBe('AccessDenied');
    }
  });
});

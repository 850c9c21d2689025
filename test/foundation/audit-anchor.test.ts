import fs from 'node:fs';
import path from 'node:path';
import { signIn } from '../keep/keep.support';
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

describe('audit chain: keyed links and signed checkpoints in the running system', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({ env: { AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1' } });
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
      const segments = ok.segments as { exportedThrough: number } | undefined;
      return latest !== null && latest.seq >= head && (segments?.exportedThrough ?? 0) >= head;
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
  });
});

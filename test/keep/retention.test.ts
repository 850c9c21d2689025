import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeStudy } from '@yunying/dicom/testing';
import { FsReplicaTarget, seriesThumbnailKey } from '@yunying/storage';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { waitFor } from '../support/wait';
import { api, sha256, signIn } from './keep.support';

/**
 * #8 retention expiry: nothing is deleted before retain-until through any path; after expiry a study is
 * disposed of only by an admin's request that an auditor (not the requester) approves and a job carries
 * out, all audited; a legal hold blocks it. The short retention is made in the test (catalog rows set to
 * the past and the fs retention records rewritten), never by lowering a default: the clinic policy has a
 * floor of 15 years.
 */

interface Disposal {
  id: string;
  status: string;
  studyInstanceUid: string;
  result: unknown;
}

const TARGETS = ['fs-1', 'fs-2', 'fs-3'];

describe('retention expiry and disposal (system, fs replicas)', () => {
  let system: RunningSystem;
  let admin: string;
  let auditor: string;
  let deviceKey: string;
  const root = (i: number): string => path.join(system.dataDir, `replica-${'abc'[i]}`);

  async function storeStudy(count: number, patient: { patientName?: string; patientId?: string } = {}): Promise<{ uid: string; keys: string[] }> {
    const study = makeStudy(count, { rows: 8, columns: 8, ...patient });
    expect((await stow(system.urls.ingest ?? '', deviceKey, study.files)).status).toBe(200);
    const { rows } = await system.pool.query<{ object_key: string }>('SELECT object_key FROM objects WHERE sha256 = ANY($1) ORDER BY 1', [study.files.map(sha256)]);
    // The later instances raised the study's retain-until past the first ones' locks; the keeper's lock
    // extender (#20) brings every copy up to it. Waiting for that also keeps it from re-extending a sidecar
    // that expire() below has just rewritten.
    await waitFor('every copy locked until the study retain-until', async () => {
      const behind = await system.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM copies c JOIN instances i ON i.sha256 = c.sha256 JOIN studies s ON s.id = i.study_ref
          WHERE s.study_instance_uid = $1 AND c.retain_until < s.retain_until`,
        [study.studyInstanceUid],
      );
      return behind.rows[0]?.n === 0;
    });
    return { uid: study.studyInstanceUid, keys: rows.map((r) => r.object_key) };
  }

  /** Test-only expiry: catalog rows in the past, and each copy's fs retention record rewritten to match. */
  async function expire(uid: string, keys: string[]): Promise<void> {
    const past = new Date(Date.now() - 86_400_000);
    await system.pool.query('UPDATE studies SET retain_until = $2 WHERE study_instance_uid = $1', [uid, past]);
    await system.pool.query('UPDATE objects SET retain_until = $2 WHERE object_key = ANY($1)', [keys, past]);
    await system.pool.query('UPDATE copies SET retain_until = $2 WHERE object_key = ANY($1)', [keys, past]);
    for (let i = 0; i < 3; i++) {
      for (const key of keys) {
        const sidecar = path.join(root(i), `${key}.lock.json`);
        const old = JSON.parse(fs.readFileSync(sidecar, 'utf8')) as Record<string, unknown>;
        fs.rmSync(sidecar);
        fs.writeFileSync(sidecar, JSON.stringify({ ...old, retainUntil: past.toISOString() }), { mode: 0o444 });
      }
    }
  }

  async function disposal(id: string): Promise<Disposal | undefined> {
    const list = await api<{ disposals: Disposal[] }>(system, 'GET', '/api/audit/disposals', auditor);
    return list.body.disposals.find((d) => d.id === id);
  }

  beforeAll(async () => {
    system = await startSystem({ env: { REPAIR_RETRY_SECONDS: '1', SCRUB_INTERVAL_SECONDS: '0' } });
    admin = await signIn(system, 'admin');
    auditor = await signIn(system, 'auditor');
    deviceKey = system.credentials.apiKey?.key ?? '';
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('refuses deletion before retain-until on every path', async () => {
    const { uid, keys } = await storeStudy(2);
    // The disposal path: 409 with the reason; nothing is recorded as requested.
    const early = await api<{ detail?: string; title?: string }>(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'test' });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.body)).toContain('retained until');
    expect((await system.pool.query('SELECT count(*)::int AS n FROM disposal_requests')).rows[0].n).toBe(0);
    // No HTTP route deletes a study or an instance, on either service, for any caller.
    const instancePath = (await system.pool.query<{ sop: string; series: string }>(
      'SELECT i.sop_instance_uid AS sop, se.series_instance_uid AS series FROM instances i JOIN series se ON se.id = i.series_ref JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1 LIMIT 1',
      [uid],
    )).rows[0];
    for (const base of [system.urls.ingest, system.urls.viewer]) {
      for (const p of [`/dicomweb/studies/${uid}`, `/dicomweb/studies/${uid}/series/${instancePath?.series}/instances/${instancePath?.sop}`, `/api/admin/studies/${uid}`]) {
        for (const credential of [`Bearer ${admin}`, `ApiKey ${deviceKey}`]) {
          const res = await fetch(`${base}${p}`, { method: 'DELETE', headers: { authorization: credential } });
          expect([404, 405]).toContain(res.status);
        }
      }
    }
    // The store itself: remove() of an unexpired copy throws retention_locked on every target.
    for (let i = 0; i < 3; i++) {
      const target = new FsReplicaTarget({ name: TARGETS[i] ?? '', root: root(i), createRoot: false });
      for (const key of keys) {
        await expect(target.remove(key, new Date())).rejects.toMatchObject({ code: 'retention_locked' });
        // A `now` in the future is not believed.
        await expect(target.remove(key, new Date(Date.now() + 100 * 365 * 86_400_000))).rejects.toMatchObject({ code: 'retention_locked' });
        expect(fs.existsSync(path.join(root(i), key))).toBe(true);
      }
    }
    expect((await system.pool.query('SELECT count(*)::int AS n FROM instances i JOIN studies s ON s.id = i.study_ref WHERE s.study_instance_uid = $1', [uid])).rows[0].n).toBe(2);
  });

  it('after expiry: only an auditor other than the requester approves; a legal hold blocks; the job disposes and leaves a tombstone', async () => {
    // A patient of their own, whose only study this is: the disposal forgets them too.
    const { uid, keys } = await storeStudy(3, { patientName: 'Disposed^Only', patientId: 'PID-DISPOSED' });
    // Its series thumbnails (rendered after the commit) show the patient's images.
    const thumbnailFiles = (
      await system.pool.query<{ uid: string }>('SELECT se.series_instance_uid AS uid FROM series se JOIN studies s ON s.id = se.study_ref WHERE s.study_instance_uid = $1', [uid])
    ).rows.map((r) => path.join(system.dataDir, 'derived', seriesThumbnailKey(r.uid)));
    expect(thumbnailFiles.length).toBeGreaterThan(0);
    await waitFor('the series thumbnails', () => Promise.resolve(thumbnailFiles.every((f) => fs.existsSync(f))));
    // An admin corrected its birth date: the patient index files it at once under a person with that identity.
    const corrected = await viewerApi('POST', `/api/admin/patient-index/studies/${uid}/correction`, admin, { patientId: 'PID-DISPOSED', name: 'Disposed^Only', birthDate: '19700101', sex: 'F', reason: 'birth date typed wrong at the scanner' });
    expect(corrected.status).toBe(200);
    const personOf = async (): Promise<{ id: string; patient_name: string | null; birth_date: string | null; sex: string | null; identifiers: number }[]> =>
      (
        await system.pool.query(
          `SELECT p.id::text, p.patient_name, p.birth_date, p.sex, (SELECT count(*)::int FROM patient_index_identifiers i WHERE i.person_ref = p.id) AS identifiers
             FROM patient_index_studies x JOIN studies s ON s.id = x.study_ref JOIN patient_index_persons p ON p.id = x.person_ref WHERE s.study_instance_uid = $1`,
          [uid],
        )
      ).rows;
    const filed = await personOf();
    expect(filed).toEqual([expect.objectContaining({ patient_name: 'Disposed^Only', birth_date: '19700101', sex: 'F' })]);
    expect(filed[0]?.identifiers).toBeGreaterThan(0);
    await expire(uid, keys);

    // Requested by the admin; only an auditor may decide.
    const requested = await api<Disposal>(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired' });
    expect(requested.status).toBe(201);
    expect(requested.body.status).toBe('requested');
    expect((await api(system, 'POST', '/api/admin/disposals', auditor, { studyInstanceUid: uid, reason: 'x' })).status).toBe(403);
    expect((await api(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'again' })).status).toBe(409);
    expect((await api(system, 'POST', `/api/audit/disposals/${requested.body.id}/approve`, admin, {})).status).toBe(403);
    expect((await api(system, 'POST', `/api/audit/disposals/${requested.body.id}/approve`, deviceKey, {})).status).toBe(403);
    // The four-eyes rule holds in the catalog too: the requester can never be recorded as approver.
    await expect(system.pool.query('UPDATE disposal_requests SET approved_by = requested_by WHERE id = $1', [requested.body.id])).rejects.toMatchObject({ code: '23514' });

    // A legal hold placed after the request blocks the execution, and nothing is removed.
    expect((await api(system, 'PUT', `/api/admin/studies/${uid}/legal-hold`, admin, { on: true })).status).toBe(200);
    const approved = await api<Disposal>(system, 'POST', `/api/audit/disposals/${requested.body.id}/approve`, auditor, {});
    expect(approved.status).toBe(200);
    const blocked = await waitFor('the disposal to be blocked', async () => {
      const d = await disposal(requested.body.id);
      return d?.status === 'approved' || d?.status === 'requested' ? undefined : d;
    });
    expect(blocked.status).toBe('blocked');
    expect(JSON.stringify(blocked.result)).toContain('legal hold');
    for (let i = 0; i < 3; i++) for (const key of keys) expect(fs.existsSync(path.join(root(i), key))).toBe(true);
    // The store refuses too while the hold is on (the sidecar carries it).
    const target = new FsReplicaTarget({ name: 'fs-1', root: root(0), createRoot: false });
    await expect(target.remove(keys[0] ?? '', new Date())).rejects.toMatchObject({ code: 'retention_locked' });
    const refused = await api(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired' });
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain('legal hold');

    // Hold lifted: a new request, rejected once, then requested and approved: the job disposes of the study.
    // Lifting the hold is a request (#17 four eyes): the hold stays until an auditor approves.
    const release = await api<{ release: { id: string; status: string } }>(system, 'PUT', `/api/admin/studies/${uid}/legal-hold`, admin, { on: false, reason: 'case closed' });
    expect(release.status).toBe(202);
    expect(release.body.release.status).toBe('requested');
    expect((await system.pool.query('SELECT legal_hold FROM studies WHERE study_instance_uid = $1', [uid])).rows[0].legal_hold).toBe(true);
    expect((await api(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired' })).status).toBe(409);
    expect((await api(system, 'POST', `/api/audit/legal-hold-releases/${release.body.release.id}/approve`, admin, {})).status).toBe(403);
    expect((await api(system, 'POST', `/api/audit/legal-hold-releases/${release.body.release.id}/approve`, auditor)).status).toBe(200);
    expect((await system.pool.query('SELECT legal_hold FROM studies WHERE study_instance_uid = $1', [uid])).rows[0].legal_hold).toBe(false);
    const second = await api<Disposal>(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired' });
    expect(second.status).toBe(201);
    expect((await api<Disposal>(system, 'POST', `/api/audit/disposals/${second.body.id}/reject`, auditor, { note: 'check first' })).body.status).toBe('rejected');
    const third = await api<Disposal>(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired, checked' });
    expect(third.status).toBe(201);
    expect((await api(system, 'POST', `/api/audit/disposals/${third.body.id}/approve`, auditor, {})).status).toBe(200);
    const executed = await waitFor('the disposal to be executed', async () => {
      const d = await disposal(third.body.id);
      return d?.status === 'executed' || d?.status === 'blocked' ? d : undefined;
    });
    expect(executed.status).toBe('executed');

    // Every copy is gone from every target, data and retention record.
    for (let i = 0; i < 3; i++) {
      for (const key of keys) {
        expect(fs.existsSync(path.join(root(i), key))).toBe(false);
        expect(fs.existsSync(path.join(root(i), `${key}.lock.json`))).toBe(false);
      }
    }
    // The tombstone: the study row stays, disposed, with the request and without patient attributes.
    const tomb = await system.pool.query('SELECT disposed_at, disposal_request_ref, patient_name, number_of_instances FROM studies WHERE study_instance_uid = $1', [uid]);
    expect(tomb.rows[0].disposed_at).not.toBeNull();
    expect(String(tomb.rows[0].disposal_request_ref)).toBe(third.body.id);
    expect(tomb.rows[0].patient_name).toBeNull();
    expect(tomb.rows[0].number_of_instances).toBe(0);
    const left = await system.pool.query('SELECT (SELECT count(*) FROM objects WHERE object_key = ANY($1))::int AS o, (SELECT count(*) FROM copies WHERE object_key = ANY($1))::int AS c', [keys]);
    expect(left.rows[0]).toEqual({ o: 0, c: 0 });
    // Its patient had no other study: the patient row is forgotten (the tombstone still points at it), and
    // the patient of the first test's study, still live, is not.
    const patient = await system.pool.query('SELECT p.patient_key, p.patient_id, p.patient_name FROM patients p JOIN studies s ON s.patient_ref = p.id WHERE s.study_instance_uid = $1', [uid]);
    expect(patient.rows).toEqual([{ patient_key: expect.stringMatching(/^disposed:\d+$/), patient_id: '', patient_name: null }]);
    const identities = await system.pool.query<{ patient_id: string; patient_name: string | null }>('SELECT patient_id, patient_name FROM patients');
    expect(identities.rows.map((r) => r.patient_id)).not.toContain('PID-DISPOSED');
    expect(JSON.stringify(identities.rows)).not.toContain('Disposed^Only');
    expect(identities.rows).toContainEqual({ patient_id: 'PID0001', patient_name: 'Test^Patient' });
    expect(executed.result).toMatchObject({ patientForgotten: true, thumbnailsRemoved: thumbnailFiles.length });
    // The thumbnails went with the copies.
    expect(thumbnailFiles.filter((f) => fs.existsSync(f))).toEqual([]);
    // The patient index forgets the person too (the id stays: merges and corrections refer to it), and the
    // correction keeps who made it and why, not the identity it named.
    expect(await personOf()).toEqual([{ id: filed[0]?.id, patient_name: null, birth_date: null, sex: null, identifiers: 0 }]);
    const corrections = await system.pool.query('SELECT c.patient_id, c.issuer, c.patient_name, c.birth_date, c.sex, c.reason FROM patient_index_corrections c JOIN studies s ON s.id = c.study_ref WHERE s.study_instance_uid = $1', [uid]);
    expect(corrections.rows).toEqual([{ patient_id: null, issuer: null, patient_name: null, birth_date: null, sex: null, reason: 'birth date typed wrong at the scanner' }]);

    // The audit trail: requested, decided, blocked, executed; and the study's deletion as 'DICOM Study Deleted'.
    // (The keeper's copy.lock-extended alerts for the study may come in between, depending on its schedule.)
    const events = await system.pool.query<{ event_type: string; outcome: number; event: string; actor_username: string }>(
      "SELECT event_type, outcome, details->>'event' AS event, actor_username FROM audit_events WHERE study_instance_uid = $1 AND event_type IN ('Security Alert', 'DICOM Study Deleted') AND details->>'event' NOT LIKE 'copy.%' ORDER BY seq",
      [uid],
    );
    expect(events.rows.map((e) => `${e.event_type}/${e.event}/${e.outcome}`)).toEqual([
      'Security Alert/disposal.requested/0',
      'Security Alert/legal-hold.set/0',
      'Security Alert/disposal.approved/0',
      'DICOM Study Deleted/disposal.blocked/8',
      'Security Alert/legal-hold.release-requested/0',
      'Security Alert/legal-hold.lifted/0',
      'Security Alert/disposal.requested/0',
      'Security Alert/disposal.rejected/0',
      'Security Alert/disposal.requested/0',
      'Security Alert/disposal.approved/0',
      'DICOM Study Deleted/disposal.executed/0',
    ]);
    expect(events.rows.find((e) => e.event === 'disposal.approved')?.actor_username).toBe('auditor');

    // Disposed of once: a new request is refused.
    expect((await api(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'again' })).status).toBe(409);
  });

  /** An admin call to the viewer, which serves the account API. */
  async function viewerApi<T = Record<string, unknown>>(method: string, route: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${system.urls.viewer}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  async function createAndSignIn(creator: string, username: string, role: 'auditor' | 'admin'): Promise<{ id: string; token: string }> {
    const password = `pw-${randomUUID()}`;
    const created = await viewerApi<{ id: string }>('POST', '/api/admin/users', creator, { username, role, password });
    expect(created.status).toBe(201);
    const res = await fetch(`${system.urls.viewer}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password, client: 'api' }),
    });
    expect(res.status).toBe(200);
    return { id: created.body.id, token: ((await res.json()) as { accessToken: string }).accessToken };
  }

  it('four eyes for real (#17 finding 4): an auditor account the requester created or changed cannot approve a disposal or a hold release', async () => {
    const { uid, keys } = await storeStudy(1);
    await expire(uid, keys);

    // The penetration test's path: the admin creates an auditor, signs in as it and approves their own request.
    const puppet = await createAndSignIn(admin, 'puppet-auditor', 'auditor');
    const first = await api<Disposal>(system, 'POST', '/api/admin/disposals', admin, { studyInstanceUid: uid, reason: 'retention expired' });
    expect(first.status).toBe(201);
    const refused = await api<{ detail: string }>(system, 'POST', `/api/audit/disposals/${first.body.id}/approve`, puppet.token, {});
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/created the approver's account/);
    expect((await disposal(first.body.id))?.status).toBe('requested');
    // Same for lifting a legal hold: the puppet cannot approve the admin's release; the hold stays.
    expect((await api(system, 'PUT', `/api/admin/studies/${uid}/legal-hold`, admin, { on: true })).status).toBe(200);
    const release = await api<{ release: { id: string } }>(system, 'PUT', `/api/admin/studies/${uid}/legal-hold`, admin, { on: false, reason: 'case closed' });
    expect(release.status).toBe(202);
    const holdRefused = await api<{ detail: string }>(system, 'POST', `/api/audit/legal-hold-releases/${release.body.release.id}/approve`, puppet.token);
    expect(holdRefused.status).toBe(403);
    expect(holdRefused.body.detail).toMatch(/created the approver's account/);
    expect((await system.pool.query('SELECT legal_hold FROM studies WHERE study_instance_uid = $1', [uid])).rows[0].legal_hold).toBe(true);
    const rejected = await api<{ status: string }>(system, 'POST', `/api/audit/legal-hold-releases/${release.body.release.id}/reject`, puppet.token);
    expect(rejected.body.status).toBe('rejected');
    expect((await system.pool.query('SELECT legal_hold FROM studies WHERE study_instance_uid = $1', [uid])).rows[0].legal_hold).toBe(true);
    const release2 = await api<{ release: { id: string } }>(system, 'PUT', `/api/admin/studies/${uid}/legal-hold`, admin, { on: false, reason: 'case closed' });
    expect((await api(system, 'POST', `/api/audit/legal-hold-releases/${release2.body.release.id}/approve`, auditor)).status).toBe(200);

    // A second admin (created by the first) changes the seeded auditor's account: that auditor can no longer
    // approve the second admin's requests, while the puppet (created by the first admin) is independent of them.
    const admin2 = await createAndSignIn(admin, 'second-admin', 'admin');
    const auditorId = (await system.pool.query<{ id: string }>("SELECT id::text FROM users WHERE username = 'auditor'")).rows[0]?.id ?? '';
    expect((await viewerApi('PATCH', `/api/admin/users/${auditorId}`, admin2.token, { displayName: 'Auditor (renamed)' })).status).toBe(200);
    expect((await api(system, 'POST', `/api/audit/disposals/${first.body.id}/reject`, auditor, { note: 'requested again by another admin' })).status).toBe(200);
    const second = await api<Disposal>(system, 'POST', '/api/admin/disposals', admin2.token, { studyInstanceUid: uid, reason: 'retention expired' });
    expect(second.status).toBe(201);
    const changed = await api<{ detail: string }>(system, 'POST', `/api/audit/disposals/${second.body.id}/approve`, auditor, {});
    expect(changed.status).toBe(403);
    expect(changed.body.detail).toMatch(/changed the approver's account/);
    expect((await api(system, 'POST', `/api/audit/disposals/${second.body.id}/approve`, puppet.token, {})).status).toBe(200);

    // The audit shows who asked and who approved, and that they were checked independent.
    const approved = await system.pool.query<{ actor_user_id: string; details: Record<string, string> }>(
      "SELECT actor_user_id::text, details FROM audit_events WHERE study_instance_uid = $1 AND details->>'event' = 'disposal.approved'",
      [uid],
    );
    expect(approved.rows).toHaveLength(1);
    expect(approved.rows[0]?.actor_user_id).toBe(puppet.id);
    expect(approved.rows[0]?.details).toMatchObject({ requestedBy: admin2.id, approvedBy: puppet.id, fourEyes: 'independent' });
    // The change that made the seeded auditor dependent is on record (migration 1710).
    const changes = await system.pool.query<{ change: string }>('SELECT change FROM user_account_changes WHERE user_id = $1 ORDER BY change', [auditorId]);
    expect(changes.rows.map((r) => r.change)).toEqual(['updated']);
  });
});

import { startSystem, type RunningSystem } from '../support/system';
import { call, clinicId, createDeviceKey, createRadiologist, demoPassword, setTriage, signIn, uploadStudies } from './reading.support';

interface Item {
  studyInstanceUid: string;
  clinic: { id: string; code: string };
  patientName: string | null;
  priority: string;
  status: string;
  modalities: string[];
  studyDate: string | null;
  waitingSeconds: number;
  claim: { mine: boolean; userId: string; username: string | null; expiresAt: string } | null;
  thumbnailUrl: string | null;
}
interface Page {
  items: Item[];
  nextCursor: string | null;
}

/**
 * #6 reading queue over the real system: triage order, filters, keyset paging, atomic claims with expiry,
 * release, and tenancy (#7: another clinic's study never appears and cannot be claimed).
 */
describe('reading queue (system)', () => {
  let system: RunningSystem;
  let viewer: string;
  let admin: string;
  let reader: string;
  let demoClinic: string;
  let otherClinic: string;
  /** Demo-clinic studies in the expected queue order. */
  let expected: string[];
  let ctStudies: string[];
  let february: string[];
  let otherStudies: string[];

  const queuePage = (token: string, query = ''): Promise<{ status: number; body: Page }> => call<Page>(viewer, 'GET', `/api/queue${query}`, token);

  async function allPages(token: string, query: string): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 50; guard += 1) {
      const res = await queuePage(token, `${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i) => i.studyInstanceUid));
      cursor = res.body.nextCursor;
      if (cursor === null) return seen;
    }
    throw new Error('paging did not end');
  }

  beforeAll(async () => {
    system = await startSystem();
    viewer = system.urls.viewer ?? '';
    demoClinic = clinicId(system, 'demo-clinic');
    otherClinic = clinicId(system, 'other-clinic');
    admin = await signIn(viewer, 'admin', demoPassword(system, 'admin'));
    reader = await signIn(viewer, 'radiologist', demoPassword(system, 'radiologist'));

    // 12 demo-clinic studies (3 CT, 3 dated February), 3 of the other clinic.
    const specs = Array.from({ length: 12 }, (_, i) => ({ modality: i % 4 === 1 ? 'CT' : 'US', studyDate: i % 4 === 2 ? '20240215' : '20240110' }));
    const uids = await uploadStudies(system, system.credentials.apiKey?.key ?? '', specs);
    ctStudies = uids.filter((_, i) => specs[i]?.modality === 'CT');
    february = uids.filter((_, i) => specs[i]?.studyDate === '20240215');
    otherStudies = await uploadStudies(system, await createDeviceKey(viewer, admin, otherClinic), [{ patientName: 'Other^One' }, { patientName: 'Other^Two' }, {}]);

    // Triage's priorities and a spread of arrival times, so the expected order is unambiguous: the
    // arrival order is the reverse of the upload order, and priorities cycle over the studies.
    const priorities = ['routine', 'urgent', 'priority'] as const;
    const rank = { urgent: 0, priority: 1, routine: 2 };
    const plan = uids.map((uid, i) => ({ uid, priority: priorities[i % 3] ?? 'routine', minutesAgo: 10 + i }));
    for (const p of plan) {
      await setTriage(system, p.uid, p.priority);
      // Arrival times minutes and days apart: no API sets received_at (the write path stamps now()), and waiting
      // that long is not a test; shifting the stamp back is the clock, not a result the test then checks.
      await system.pool.query(`UPDATE studies SET received_at = now() - make_interval(mins => $2) WHERE study_instance_uid = $1`, [p.uid, p.minutesAgo]);
    }
    for (const [i, uid] of otherStudies.entries()) {
      // The other clinic's studies would sort first if tenancy failed: urgent and oldest.
      await setTriage(system, uid, 'urgent');
      await system.pool.query(`UPDATE studies SET received_at = now() - make_interval(days => $2) WHERE study_instance_uid = $1`, [uid, 5 + i]);
    }
    expected = [...plan].sort((a, b) => rank[a.priority] - rank[b.priority] || b.minutesAgo - a.minutesAgo).map((p) => p.uid);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('orders by priority (urgent, priority, routine), then oldest first, and shows what a reader needs', async () => {
    const res = await queuePage(reader, '?limit=100');
    expect(res.status).toBe(200);
    expect(res.body.items.map((i) => i.studyInstanceUid)).toEqual(expected);
    expect(res.body.nextCursor).toBeNull();
    const priorities = res.body.items.map((i) => i.priority);
    expect(priorities.slice(0, 4)).toEqual(['urgent', 'urgent', 'urgent', 'urgent']);
    expect(priorities.slice(-4)).toEqual(['routine', 'routine', 'routine', 'routine']);
    const first = res.body.items[0];
    expect(first).toMatchObject({ clinic: { id: demoClinic, code: 'demo-clinic' }, status: 'triaged', claim: null });
    expect(first?.patientName).toMatch(/^Test\^Patient/);
    expect(first?.waitingSeconds).toBeGreaterThanOrEqual(10 * 60);
  });

  it('pages with a keyset cursor: every study exactly once, in order, for any page size', async () => {
    for (const size of [1, 5, 7]) {
      expect(await allPages(reader, `?limit=${size}`)).toEqual(expected);
    }
  });

  it('filters by modality, study date, status and clinic, also across pages', async () => {
    expect(await allPages(reader, '?modality=ct&limit=2')).toEqual(expected.filter((u) => ctStudies.includes(u)));
    expect(await allPages(reader, '?from=2024-02-01&to=20240228&limit=2')).toEqual(expected.filter((u) => february.includes(u)));
    expect(await allPages(reader, '?status=reported')).toEqual([]);
    expect(await allPages(reader, '?status=new,triaged&clinic=demo-clinic&limit=4')).toEqual(expected);
    expect(await allPages(reader, `?clinic=${demoClinic}&limit=4`)).toEqual(expected);
    const bad = await queuePage(reader, '?status=done');
    expect(bad.status).toBe(400);
    expect((await queuePage(reader, '?cursor=not-a-cursor')).status).toBe(400);
  });

  it("never shows another clinic's study, even when asked for that clinic, and refuses to claim it as absent", async () => {
    for (const query of ['?limit=100', '?limit=1', `?clinic=${otherClinic}`, '?clinic=other-clinic', '?status=new,triaged,in_reading,reported&limit=3']) {
      const uids = await allPages(reader, query);
      expect(uids.filter((u) => otherStudies.includes(u))).toEqual([]);
    }
    expect((await queuePage(reader, `?clinic=${otherClinic}`)).body.items).toEqual([]);
    const otherUid = otherStudies[0] ?? '';
    const claim = await call(viewer, 'POST', `/api/queue/${otherUid}/claim`, reader);
    expect(claim.status).toBe(404);
    const unknown = await call(viewer, 'POST', '/api/queue/1.2.3.4.5/claim', reader);
    expect(unknown.status).toBe(404);
    // Nothing changed on the other clinic's study.
    const row = await system.pool.query('SELECT claimed_by, reading_status FROM studies WHERE study_instance_uid = $1', [otherUid]);
    expect(row.rows[0]).toEqual({ claimed_by: null, reading_status: 'triaged' });
  });

  it('is for readers: admins, auditors and clinic users are refused, and anonymous callers are asked to sign in', async () => {
    expect((await queuePage(admin)).status).toBe(403);
    expect((await queuePage(await signIn(viewer, 'auditor', demoPassword(system, 'auditor')))).status).toBe(403);
    expect((await queuePage(await signIn(viewer, 'clinic', demoPassword(system, 'clinic')))).status).toBe(403);
    expect((await call(viewer, 'GET', '/api/queue')).status).toBe(401);
  });

  it('lets exactly one of 20 concurrent readers claim a study; the others get 409', async () => {
    const readers = await Promise.all(Array.from({ length: 20 }, (_, i) => createRadiologist(viewer, admin, `race-reader-${i}`, [demoClinic])));
    const target = expected[expected.length - 1] ?? '';
    const results = await Promise.all(readers.map((r) => call<{ claimExpiresAt?: string }>(viewer, 'POST', `/api/queue/${target}/claim`, r.token)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const winner = readers[statuses.indexOf(200)];
    const row = await system.pool.query('SELECT claimed_by, reading_status, claim_expires_at > now() + interval \'25 minutes\' AS long FROM studies WHERE study_instance_uid = $1', [target]);
    expect(row.rows[0]).toEqual({ claimed_by: winner?.id, reading_status: 'in_reading', long: true });

    // The queue shows the claim: as the holder's own to the winner, as someone else's to the rest.
    const mine = (await queuePage(winner?.token ?? '', '?limit=100')).body.items.find((i) => i.studyInstanceUid === target);
    expect(mine).toMatchObject({ status: 'in_reading', claim: { mine: true, userId: winner?.id } });
    const theirs = (await queuePage(reader, '?limit=100')).body.items.find((i) => i.studyInstanceUid === target);
    expect(theirs).toMatchObject({ status: 'in_reading', claim: { mine: false, userId: winner?.id, username: expect.stringMatching(/^race-reader-/) } });
    expect(await allPages(reader, '?status=in_reading')).toEqual([target]);

    // Only the holder can release; then the study is back in the queue, unclaimed.
    const loser = readers.find((r) => r !== winner);
    expect((await call(viewer, 'POST', `/api/queue/${target}/release`, loser?.token)).status).toBe(409);
    expect((await call(viewer, 'POST', `/api/queue/${target}/release`, reader)).status).toBe(409);
    const released = await call(viewer, 'POST', `/api/queue/${target}/release`, winner?.token);
    expect(released).toEqual({ status: 200, body: { studyInstanceUid: target, status: 'triaged' } });
    const after = await system.pool.query('SELECT claimed_by, claim_expires_at, reading_status FROM studies WHERE study_instance_uid = $1', [target]);
    expect(after.rows[0]).toEqual({ claimed_by: null, claim_expires_at: null, reading_status: 'triaged' });
    expect((await call(viewer, 'POST', `/api/queue/${target}/claim`, loser?.token)).status).toBe(200);
  });

  it('renews a claim for its holder, and frees an abandoned one when it expires', async () => {
    const other = await createRadiologist(viewer, admin, 'expiry-reader', [demoClinic]);
    const target = expected[0] ?? '';
    const first = await call<{ claimExpiresAt: string }>(viewer, 'POST', `/api/queue/${target}/claim`, reader);
    expect(first.status).toBe(200);
    const renewed = await call<{ claimExpiresAt: string }>(viewer, 'POST', `/api/queue/${target}/claim`, reader);
    expect(renewed.status).toBe(200);
    expect(Date.parse(renewed.body.claimExpiresAt)).toBeGreaterThan(Date.parse(first.body.claimExpiresAt));
    expect((await call(viewer, 'POST', `/api/queue/${target}/claim`, other.token)).status).toBe(409);

    // The reader walks away; the claim runs out.
    await system.pool.query("UPDATE studies SET claim_expires_at = now() - interval '1 minute' WHERE study_instance_uid = $1", [target]);
    const listed = (await queuePage(other.token, '?limit=100')).body.items.find((i) => i.studyInstanceUid === target);
    expect(listed).toMatchObject({ status: 'triaged', claim: null });
    expect(await allPages(other.token, '?status=triaged&limit=3')).toContain(target);
    expect(await allPages(other.token, '?status=in_reading')).not.toContain(target);

    const taken = await call(viewer, 'POST', `/api/queue/${target}/claim`, other.token);
    expect(taken.status).toBe(200);
    expect((await call(viewer, 'POST', `/api/queue/${target}/release`, reader)).status).toBe(409);
    const row = await system.pool.query('SELECT claimed_by FROM studies WHERE study_instance_uid = $1', [target]);
    expect(row.rows[0]?.claimed_by).toBe(other.id);
  });

  it('records each queue read and claim in the audit log without patient names', async () => {
    const events = await system.pool.query(
      "SELECT event_type, action, actor_username, details FROM audit_events WHERE details->>'what' IN ('reading-queue', 'claim', 'release') ORDER BY seq",
    );
    expect(events.rows.some((e) => e.event_type === 'Query' && e.actor_username === 'radiologist')).toBe(true);
    expect(events.rows.some((e) => e.event_type === 'DICOM Instances Accessed' && e.action === 'U' && e.details.what === 'claim')).toBe(true);
    expect(JSON.stringify(events.rows)).not.toMatch(/Patient|Other\^/);
  });
});

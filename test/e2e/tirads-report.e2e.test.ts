import type { Browser } from 'playwright-core';
import { describeUnless } from '../support/skip';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { noduleFrameStudy, settledResult, type ResultRow } from '../triage/triage.support';
import { chromiumMissing, DESKTOP, launchBrowser, newPage, screenshotPath } from './pages/browser';
import { QueuePage } from './pages/queue.page';
import { SignInPage } from './pages/sign-in.page';
import { TiradsReportPage, type FieldView } from './pages/tirads-report.page';
import { ViewerPage } from './pages/viewer.page';

/** The AI's nodule as the triage stored it (services/inference/src/triage/result.ts). */
interface AiNodule {
  lexicon: { item: string; code: string }[];
  sizeMm: { long: number; short: number } | null;
}

const AMBER = 'rgb(255, 232, 181)';
const GREEN = 'rgb(219, 238, 216)';

function password(system: RunningSystem, role: string): { username: string; password: string } {
  const user = system.credentials.users.find((u) => u.role === role);
  if (!user) throw new Error(`no demo ${role}`);
  return { username: user.username, password: user.password };
}

/** What the form should show for an AI nodule before anything is confirmed: the AI's codes, marked AI. */
const ITEMS = ['composition', 'echogenicity', 'shape', 'margin', 'echogenicFoci'];
function expectAiMarked(fields: FieldView[], nodule: AiNodule, items = ITEMS): void {
  const code = (item: string): string => nodule.lexicon.find((l) => l.item === item)?.code ?? '';
  const byField = Object.fromEntries(fields.map((f) => [f.field, f]));
  for (const item of items) {
    expect([item, byField[item]?.value, byField[item]?.source, byField[item]?.confirmed, byField[item]?.mark]).toEqual([item, code(item), 'ai', 'false', 'AI · not confirmed']);
    expect([item, byField[item]?.markShown, byField[item]?.markColour, byField[item]?.confirmShown]).toEqual([item, true, AMBER, true]);
  }
  if (nodule.sizeMm) expect(Number(byField.size?.value)).toBeCloseTo(nodule.sizeMm.long, 5);
}

/**
 * Issue #20 end to end: the AI's descriptors prefill the structured TI-RADS report, drawn as AI
 * suggestions until the reader confirms them; a reader who agrees goes from the queue to a signed report
 * in at most six counted actions; fields not confirmed stay visibly unconfirmed, also after a reload, and
 * the report cannot be signed with them.
 */
describeUnless(chromiumMissing(), 'structured TI-RADS report (e2e, chromium)', () => {
  let system: RunningSystem;
  let browser: Browser;
  let viewerUrl: string;
  const studies: { uid: string; ai: ResultRow }[] = [];

  beforeAll(async () => {
    system = await startSystem({ env: { TRIAGE_QUIET_SECONDS: '1', TRIAGE_CONCURRENCY: '1' } });
    viewerUrl = system.urls.viewer ?? '';
    const made = [noduleFrameStudy({ patientName: 'Li^Na', patientId: 'HC-TR-1' }), noduleFrameStudy({ patientName: 'Li^Na', patientId: 'HC-TR-1' })];
    for (const s of made) expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', [s.file], s.studyUid)).status).toBe(200);
    // Triaged before the browser starts: the prefill comes from the model's own result.
    const results = await Promise.all(made.map((s) => settledResult(system.pool, s.studyUid)));
    made.forEach((s, i) => studies.push({ uid: s.studyUid, ai: results[i] as ResultRow }));
    browser = await launchBrowser();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
  });

  const topNodules = (ai: ResultRow): AiNodule[] => ((ai.images[0] as { nodules?: AiNodule[] } | undefined)?.nodules ?? []).slice(0, 4);

  test('a reader who agrees with the AI: queue -> signed structured report in at most six actions', async () => {
    const [{ uid, ai } = { uid: '', ai: {} as ResultRow }] = studies;
    expect(ai.status).toBe('triaged');
    const aiNodules = topNodules(ai);
    expect(aiNodules.length).toBeGreaterThan(0);

    const { context, page, errors } = await newPage(browser, DESKTOP);
    await TiradsReportPage.installActionCounter(page);
    const signIn = new SignInPage(page);
    const reader = password(system, 'radiologist');
    await signIn.open(viewerUrl);
    await signIn.signIn(reader.username, reader.password);
    const queue = new QueuePage(page);
    await queue.waitForLoaded();
    const report = new TiradsReportPage(page);
    // Counting starts at the queue (signing in is not part of reading).
    await report.resetActions();

    await queue.open(uid); // action 1
    expect(await report.waitForPrefill()).toBe(aiNodules.length);
    const first = aiNodules[0] as AiNodule;
    expectAiMarked(await report.fields(0), first);
    expect(await report.pending()).toMatch(/^\d+ fields still to confirm or change\.$/);
    const shownScore = await report.score(0);
    expect(shownScore).toMatch(/^\d+ points · TR[1-5], [a-z ]+ · (FNA recommended|Ultrasound follow-up|No FNA or follow-up)/);
    await page.getByTestId('nodule-list').screenshot({ path: screenshotPath('tirads-prefilled.png') });

    await report.acceptAi(); // action 2
    for (const f of await report.fields(0)) expect([f.field, f.source, f.confirmed, f.mark, f.markColour, f.confirmShown]).toEqual([f.field, 'ai', 'true', 'AI · confirmed', GREEN, false]);
    await page.getByTestId('nodule-list').screenshot({ path: screenshotPath('tirads-confirmed.png') });

    // Actions 3 and 4: the password (re-authentication, #20; one click, filled by a password manager), Sign.
    const signed = await report.sign(reader.password);
    const level = /TR[1-5]/.exec(shownScore)?.[0] ?? '';
    expect(signed.levels[0]).toBe(level);
    expect(signed.levels).toHaveLength(aiNodules.length);
    expect(signed.text).toContain(shownScore);
    expect(signed.text).toContain('(AI, confirmed)');
    expect(signed.text).not.toContain('not confirmed');
    expect(await report.actions()).toBeLessThanOrEqual(6);
    expect(await report.actions()).toBe(4);

    // The signed report as a document, in a tab of its own: the same nodule and level, the study still open here.
    const [printed] = await Promise.all([page.context().waitForEvent('page'), page.getByTestId('print-report').click()]);
    const signedNodule = printed.getByTestId('report-print').getByTestId('signed-nodule').first();
    await signedNodule.waitFor();
    expect(await signedNodule.getAttribute('data-level')).toBe(level);
    // On paper each term is in Chinese and English (the client's copy), the confirmed AI values marked as such.
    const printedText = await signedNodule.innerText();
    expect(printedText).toContain('结节 1 Nodule 1');
    expect(printedText).toMatch(/成分 Composition: [\u4e00-\u9fff]+/);
    expect(printedText).toContain('（AI 提示，医生已确认 AI, confirmed）');
    expect(printedText).toMatch(new RegExp(`分 points · ${level} [\u4e00-\u9fff]+`));
    await printed.screenshot({ path: screenshotPath('report-print-nodules.png'), fullPage: true });
    await printed.close();
    expect(await page.getByTestId('signed-report').count()).toBeGreaterThan(0);

    // What was stored is the server's own score of the confirmed AI values, signed.
    const { rows } = await system.pool.query<{ status: string; tirads_category: string; nodules: { composition: { source: string; confirmed: boolean }; score: { trLevel: string } }[] }>(
      'SELECT r.status, r.tirads_category, r.nodules FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1',
      [uid],
    );
    expect(rows[0]?.status).toBe('signed');
    expect(rows[0]?.nodules[0]?.score.trLevel).toBe(level);
    // Reports are records (#20): the signed version is an SR in the archive, three locked copies, signed.
    const record = await system.pool.query<{ stored: boolean; copies: number }>(
      `SELECT rr.sr_stored_at IS NOT NULL AS stored,
              (SELECT count(*) FROM copies c JOIN instances i ON i.sha256 = c.sha256 WHERE i.sop_instance_uid = rr.sr_sop_instance_uid AND c.state = 'ok')::int AS copies
         FROM report_records rr JOIN reports r ON r.id = rr.report_id JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1`,
      [uid],
    );
    expect(record.rows).toEqual([{ stored: true, copies: 3 }]);
    // The form shows the server's verification of the signature and the SR's copies.
    expect(await report.signature(1)).toMatch(/^Signature verified \(ECDSA P-256, key [0-9a-f]{8}\) · DICOM SR stored, 3 locked copies$/);
    expect(rows[0]?.nodules[0]?.composition).toEqual({ code: first.lexicon.find((l) => l.item === 'composition')?.code, source: 'ai', confirmed: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);

  test('fields the reader did not confirm stay visibly unconfirmed, after a reload too, and block signing', async () => {
    const [, { uid, ai } = { uid: '', ai: {} as ResultRow }] = studies;
    const first = topNodules(ai)[0];
    if (!first) throw new Error('no AI nodule');
    const { context, page, errors } = await newPage(browser, DESKTOP);
    await ViewerPage.installRenderCounter(page);
    const reader = password(system, 'radiologist');
    await QueuePage.openStudyAs(page, viewerUrl, reader, uid);
    const report = new TiradsReportPage(page);
    await report.waitForPrefill();

    // The reader confirms the composition only, and saves.
    await report.confirmField(0, 'composition');
    const partly = await report.fields(0);
    expect(partly.filter((f) => f.confirmed === 'true').map((f) => [f.field, f.mark, f.markColour, f.confirmShown])).toEqual([['composition', 'AI · confirmed', GREEN, false]]);
    await report.saveDraft();
    expect(await report.signRefused()).toMatch(/^\d+ nodule fields are not confirmed/);

    // Reloaded, the draft shows the same: one confirmed, the rest still drawn as unconfirmed AI values.
    await page.reload();
    await new ViewerPage(page).waitForRenders(1);
    await report.waitForPrefill();
    const reloaded = await report.fields(0);
    expect(reloaded.map((f) => [f.field, f.confirmed])).toEqual(partly.map((f) => [f.field, f.confirmed]));
    expectAiMarked(reloaded, first, ITEMS.slice(1));
    expect(reloaded[0]).toMatchObject({ field: 'composition', mark: 'AI · confirmed', markColour: GREEN });
    const { rows } = await system.pool.query<{ status: string }>('SELECT r.status FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1', [uid]);
    expect(rows).toEqual([{ status: 'draft' }]);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);

  test('a reader who disagrees replaces the AI nodule with their own: live score, signed with the server’s level; an addendum adds a nodule', async () => {
    const [, { uid } = { uid: '' }] = studies;
    const { context, page, errors } = await newPage(browser, DESKTOP);
    const reader = password(system, 'radiologist');
    await QueuePage.openStudyAs(page, viewerUrl, reader, uid);
    const report = new TiradsReportPage(page);
    await report.waitForPrefill();

    // Solid 2 + very hypoechoic 3 + taller-than-wide 3 + smooth 0 + punctate 3 = 11 points, TR5; 12 mm: FNA.
    await report.replaceWithOwnNodule({ composition: 'solid', echogenicity: 'very-hypo', shape: 'taller', margin: 'smooth' }, 'punctate', 12);
    await page.getByTestId('nodule-score').filter({ hasText: 'TR5' }).waitFor();
    expect(await report.score(0)).toBe('11 points · TR5, highly suspicious · FNA recommended (TR5: FNA if ≥ 1 cm)');
    const own = await report.fields(0);
    expect(own.map((f) => [f.field, f.source, f.confirmed, f.mark])).toEqual(
      ['composition', 'echogenicity', 'shape', 'margin', 'echogenicFoci', 'size'].map((f) => [f, 'reader', 'true', 'Reader']),
    );
    expect(await report.pending()).toBe('Every field confirmed.');
    // The overall category follows the most suspicious nodule and is locked.
    expect(await page.getByLabel('TI-RADS category').inputValue()).toBe('TR5');
    expect(await page.getByLabel('TI-RADS category').isDisabled()).toBe(true);

    const signed = await report.sign(reader.password);
    expect(signed.levels).toEqual(['TR5']);
    expect(signed.text).not.toContain('(AI');
    const { rows } = await system.pool.query<{ status: string; tirads_category: string; nodules: { score: { totalPoints: number; recommendation: { action: string } } }[] }>(
      'SELECT r.status, r.tirads_category, r.nodules FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1',
      [uid],
    );
    expect(rows.map((r) => [r.status, r.tirads_category, r.nodules.map((n) => [n.score.totalPoints, n.score.recommendation.action])])).toEqual([['signed', 'TR5', [[11, 'fna']]]]);

    // A second nodule found on review goes into an addendum, with its own findings: mixed 1 + iso 1 +
    // wider 0 + smooth 0 + macrocalcifications 1 = 3 points, TR3; 16 mm: follow-up.
    await report.replaceWithOwnNodule({ composition: 'mixed', echogenicity: 'hyper-iso', shape: 'wider', margin: 'smooth' }, 'macro', 16);
    expect(await report.score(0)).toBe('3 points · TR3, mildly suspicious · Ultrasound follow-up (TR3: follow-up if ≥ 1.5 cm)');
    expect(await report.signAddendum('Addendum: second nodule, left lobe.', reader.password)).toEqual([['TR5'], ['TR3']]);
    const kept = await system.pool.query<{ version: number; tirads_category: string }>(
      'SELECT r.version, r.tirads_category FROM reports r JOIN studies s ON s.id = r.study_ref WHERE s.study_instance_uid = $1 ORDER BY r.version',
      [uid],
    );
    expect(kept.rows).toEqual([
      { version: 1, tirads_category: 'TR5' },
      { version: 2, tirads_category: 'TR3' },
    ]);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);
});

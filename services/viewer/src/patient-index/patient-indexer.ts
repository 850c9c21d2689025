import { inTransaction, type Pool, type PoolClient } from '@yunying/catalog';
import { contradictions, decideLink, sameDemographics, studyIdentifiers, type Demographics, type MatchedGroup } from './identity.rules';
import { PatientIndexRepository, type PendingStudy, type PersonVariant } from './patient-index.repository';

/** Studies indexed per transaction: the index lock is held for one batch at a time. */
export const INDEX_BATCH = 100;

function groups(variants: readonly PersonVariant[]): MatchedGroup[] {
  const byRoot = new Map<string, MatchedGroup>();
  for (const v of variants) {
    const group = byRoot.get(v.root) ?? { root: v.root, variants: [] };
    group.variants.push({ name: v.name, birthDate: v.birthDate, sex: v.sex });
    byRoot.set(v.root, group);
  }
  return [...byRoot.values()];
}

/** Of the persons under `root` that hold one of the study's identifiers, the first one it does not contradict. */
function holderFor(study: Demographics, root: string, holders: readonly { person: string; root: string }[], variants: readonly PersonVariant[]): string {
  const candidates = holders.filter((h) => h.root === root).map((h) => h.person);
  const fitting = candidates.find((id) => {
    const v = variants.find((x) => x.id === id);
    return v !== undefined && contradictions(study, v).length === 0;
  });
  return fitting ?? candidates[0] ?? root;
}

/**
 * Files every study not yet in the patient index under a person (#20), oldest first so earlier visits
 * create the persons later ones link to. Runs from the viewer's sweep and, bounded, before priors are read
 * (a study received since the last sweep still finds its priors). All writes under the index lock.
 */
export class PatientIndexer {
  private readonly repo = new PatientIndexRepository();

  constructor(private readonly pool: Pool) {}

  /** Indexes pending studies in batches until none is left or `max` were done; returns how many. */
  async indexPending(max = 10_000): Promise<number> {
    let done = 0;
    while (done < max) {
      const n = await inTransaction(this.pool, (client) => this.indexPendingIn(client, Math.min(INDEX_BATCH, max - done)));
      done += n;
      if (n === 0) break;
    }
    return done;
  }

  /** Indexes up to `limit` pending studies inside the caller's transaction (which then holds the index lock). */
  async indexPendingIn(client: PoolClient, limit: number): Promise<number> {
    await this.repo.lock(client);
    const pending = await this.repo.pending(client, limit);
    if (pending.length === 0) return 0;
    const issuers = await this.repo.configuredIssuers(client);
    for (const study of pending) await this.indexOne(client, study, issuers);
    return pending.length;
  }

  /**
   * Files one study again (after a demographics correction) inside the caller's transaction, under the
   * index lock: its old link and the undecided reviews it raised are withdrawn, and it is filed by the
   * same rules as a new study, so an ambiguous correction goes to the admin queue like any other study.
   */
  async reindexStudyIn(client: PoolClient, studyId: string): Promise<{ root: string; linkedBy: string; withdrawnReviews: number }> {
    await this.repo.lock(client);
    const { withdrawnReviews } = await this.repo.unlinkStudy(client, studyId);
    const study = await this.repo.study(client, studyId);
    if (study === null) throw new Error('patient index: the corrected study is gone');
    await this.indexOne(client, study, await this.repo.configuredIssuers(client));
    const filed = await this.repo.filing(client, studyId);
    if (filed === null) throw new Error('patient index: the study was not filed again');
    return { ...filed, withdrawnReviews };
  }

  private async indexOne(client: PoolClient, study: PendingStudy, issuers: ReadonlySet<string>): Promise<void> {
    const identifiers = studyIdentifiers(study, issuers);
    const holders = await this.repo.holders(client, identifiers);
    const variants = await this.repo.variants(client, [...new Set(holders.map((h) => h.root))]);
    const decision = decideLink(study.demographics, groups(variants));
    let person: string;
    if (decision.kind === 'link') {
      // Filed under the person that holds the identifier (not the root), so an unmerge takes it back along.
      person = holderFor(study.demographics, decision.root, holders, variants);
      // Identifiers first seen with this study (a national ID sent this year) now find the person too.
      await this.repo.addIdentifiers(client, person, identifiers);
      await this.repo.linkStudy(client, study.id, person, 'identifier');
      person = decision.root;
    } else {
      person = await this.repo.createPerson(client, study.demographics);
      await this.repo.addIdentifiers(client, person, identifiers);
      await this.repo.linkStudy(client, study.id, person, decision.kind);
      if (decision.kind === 'review') {
        for (const r of decision.against) await this.repo.addReview(client, { study: study.id, person, candidate: r.root, reason: r.reason, differs: r.differs });
      }
    }
    await this.checkDuplicates(client, study, person);
  }

  /**
   * Same name, birth date and sex as a person under another identifier: perhaps a client registered twice
   * (a new card number, another clinic's local number). Queued once per pair of persons, whatever the
   * decision was, so a pair an admin kept apart does not come back with every visit.
   */
  private async checkDuplicates(client: PoolClient, study: PendingStudy, person: string): Promise<void> {
    const { birthDate, sex } = study.demographics;
    if (birthDate === null || sex === null || birthDate.trim() === '' || sex.trim() === '') return;
    const candidates = await this.repo.sameBirth(client, birthDate, sex);
    const seen = new Set<string>([person]);
    for (const c of candidates) {
      if (seen.has(c.root) || !sameDemographics(study.demographics, c)) continue;
      seen.add(c.root);
      if (await this.repo.reviewedBetween(client, person, c.root)) continue;
      await this.repo.addReview(client, { study: study.id, person, candidate: c.root, reason: 'demographics-match', differs: ['identifier'] });
    }
  }
}

import { kyselyOn, lockPatientIndex, personRootSql, sql, type CatalogReader, type PoolClient } from '@yunying/catalog';
import type { Demographics, Identifier } from './identity.rules';

/** A study waiting to be indexed, with what the rules need. */
export interface PendingStudy {
  id: string;
  clinicId: string;
  patientId: string | null;
  issuer: string | null;
  otherIds: Record<string, { Value?: unknown[] } | undefined>[];
  demographics: Demographics;
}

export interface PersonVariant extends Demographics {
  id: string;
  root: string;
}

/** The root of a person: merges are flattened, so merged_into is always a root. */
export const ROOT_SQL = personRootSql;

/** A person's root as text, for typed queries over patient_index_persons aliased `alias`. */
export const rootOf = (alias: string) => sql<string>`${sql.raw(ROOT_SQL(alias))}::text`;

/** A person with its root and demographics, under the names the rules use. */
function personVariants(client: PoolClient) {
  return kyselyOn(client)
    .selectFrom('patientIndexPersons as p')
    .select(['p.id', rootOf('p').as('root'), 'p.patientName as name', 'p.birthDate', 'p.sex'])
    .orderBy('p.id');
}

/** A study's identity as the rules read it: the demographics grouped, Other Patient IDs kept only as items (objects). */
function toPending(r: { id: string; clinicId: string; patientId: string | null; patientName: string | null; patientBirthDate: string | null; patientSex: string | null; issuer: string | null; otherIds: unknown }): PendingStudy {
  return {
    id: r.id,
    clinicId: r.clinicId,
    patientId: r.patientId,
    issuer: r.issuer,
    otherIds: Array.isArray(r.otherIds) ? (r.otherIds.filter((x) => typeof x === 'object' && x !== null) as PendingStudy['otherIds']) : [],
    demographics: { name: r.patientName, birthDate: r.patientBirthDate, sex: r.patientSex },
  };
}

/** SQL of the patient index (migration 2030). Every write runs under the index lock (PatientIndexService). */
export class PatientIndexRepository {
  /** Serializes index writes per schema: linking, merging and unmerging each see a settled index. */
  async lock(client: PoolClient): Promise<void> {
    await lockPatientIndex(client);
  }

  async pending(client: PoolClient, limit: number): Promise<PendingStudy[]> {
    const rows = await this.indexable(client)
      .where(sql<boolean>`NOT EXISTS (SELECT 1 FROM patient_index_studies x WHERE x.study_ref = s.id)`)
      .orderBy('s.id')
      .limit(limit)
      .execute();
    return rows.map(toPending);
  }

  /** One study as the rules see it (its latest correction applied), indexed or not; null when gone. */
  async study(client: PoolClient, studyId: string): Promise<PendingStudy | null> {
    const row = await this.indexable(client).where('s.id', '=', studyId).executeTakeFirst();
    return row === undefined ? null : toPending(row);
  }

  /**
   * Studies with what the rules need. A corrected study is filed by its latest correction: its identity
   * replaces the header's, Other Patient IDs included (those came with the header the correction overrules).
   */
  private indexable(client: PoolClient) {
    return kyselyOn(client)
      .selectFrom('studies as s')
      // The first current instance carries the issuer and Other Patient IDs (the catalog has no columns for them).
      // At most one row each, and a study without instances or corrections keeps its row (ON true).
      .leftJoinLateral(
        (eb) => eb.selectFrom('instances as i').select('i.dicomJson as json').whereRef('i.studyRef', '=', 's.id').where('i.isCurrent', '=', true).orderBy('i.id').limit(1).as('f'),
        (join) => join.onTrue(),
      )
      .leftJoinLateral(
        (eb) => eb.selectFrom('patientIndexCorrections as pc').selectAll('pc').whereRef('pc.studyRef', '=', 's.id').orderBy('pc.id', 'desc').limit(1).as('c'),
        (join) => join.onTrue(),
      )
      .select([
        's.id',
        's.clinicId',
        sql<string | null>`CASE WHEN c.id IS NULL THEN nullif(trim(s.patient_id), '') ELSE c.patient_id END`.as('patientId'),
        sql<string | null>`CASE WHEN c.id IS NULL THEN s.patient_name ELSE c.patient_name END`.as('patientName'),
        sql<string | null>`CASE WHEN c.id IS NULL THEN s.patient_birth_date ELSE c.birth_date END`.as('patientBirthDate'),
        sql<string | null>`CASE WHEN c.id IS NULL THEN s.patient_sex ELSE c.sex END`.as('patientSex'),
        sql<string | null>`CASE WHEN c.id IS NULL THEN nullif(trim(f.json #>> '{00100021,Value,0}'), '') ELSE c.issuer END`.as('issuer'),
        sql<unknown>`CASE WHEN c.id IS NULL THEN f.json #> '{00101002,Value}' END`.as('otherIds'),
      ])
      .where('s.disposedAt', 'is', null);
  }

  /** Takes a study out of the index (before it is filed again): its link, and the reviews it raised that nobody decided. */
  async unlinkStudy(client: PoolClient, studyId: string): Promise<{ withdrawnReviews: number }> {
    const db = kyselyOn(client);
    await db.deleteFrom('patientIndexStudies').where('studyRef', '=', studyId).execute();
    const { numDeletedRows } = await db.deleteFrom('patientIndexReviews').where('studyRef', '=', studyId).where('status', '=', 'open').executeTakeFirst();
    return { withdrawnReviews: Number(numDeletedRows) };
  }

  /** How a study is filed now: its person's root and how it was linked; null when it is not indexed. */
  async filing(client: PoolClient, studyId: string): Promise<{ root: string; linkedBy: string } | null> {
    const row = await kyselyOn(client)
      .selectFrom('patientIndexStudies as x')
      .innerJoin('patientIndexPersons as p', 'p.id', 'x.personRef')
      .select([rootOf('p').as('root'), 'x.linkedBy'])
      .where('x.studyRef', '=', studyId)
      .executeTakeFirst();
    return row ?? null;
  }

  async configuredIssuers(client: PoolClient): Promise<Set<string>> {
    const rows = await kyselyOn(client).selectFrom('patientIdentifierIssuers').select('issuer').execute();
    return new Set(rows.map((r) => r.issuer));
  }

  /** The persons holding any of these identifiers, with their roots. */
  async holders(client: PoolClient, identifiers: readonly Identifier[]): Promise<{ person: string; root: string }[]> {
    if (identifiers.length === 0) return [];
    const { rows } = await client.query<{ person: string; root: string }>(
      `SELECT DISTINCT p.id::text AS person, ${ROOT_SQL('p')}::text AS root
         FROM patient_index_identifiers i JOIN patient_index_persons p ON p.id = i.person_ref
        WHERE (i.namespace, i.value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        ORDER BY 1`,
      [identifiers.map((i) => i.namespace), identifiers.map((i) => i.value)],
    );
    return rows;
  }

  /** Every person under these roots, with its demographics. */
  async variants(client: PoolClient, roots: readonly string[]): Promise<PersonVariant[]> {
    if (roots.length === 0) return [];
    return personVariants(client).where(sql.raw(ROOT_SQL('p')), '=', sql`ANY(${[...roots]}::bigint[])`).execute();
  }

  /** Persons (any root) born that day with that sex: the candidates of the duplicate check. */
  async sameBirth(client: PoolClient, birthDate: string, sex: string): Promise<PersonVariant[]> {
    return personVariants(client)
      .where('p.birthDate', '=', birthDate.trim())
      .where(sql`upper(trim(p.sex))`, '=', sex.trim().toUpperCase())
      .limit(500)
      .execute();
  }

  async createPerson(client: PoolClient, d: Demographics): Promise<string> {
    const { id } = await kyselyOn(client)
      .insertInto('patientIndexPersons')
      .values({ patientName: d.name, birthDate: d.birthDate, sex: d.sex })
      .returning('id')
      .executeTakeFirstOrThrow(() => new Error('patient index: person insert returned no row'));
    return id;
  }

  async addIdentifiers(client: PoolClient, person: string, identifiers: readonly Identifier[]): Promise<void> {
    if (identifiers.length === 0) return;
    await client.query(
      `INSERT INTO patient_index_identifiers (namespace, value, person_ref)
       SELECT n, v, $3::bigint FROM unnest($1::text[], $2::text[]) AS t(n, v) ON CONFLICT DO NOTHING`,
      [identifiers.map((i) => i.namespace), identifiers.map((i) => i.value), person],
    );
  }

  async linkStudy(client: PoolClient, study: string, person: string, linkedBy: 'identifier' | 'new' | 'review'): Promise<void> {
    await kyselyOn(client).insertInto('patientIndexStudies').values({ studyRef: study, personRef: person, linkedBy }).execute();
  }

  /** Whether any review, open or decided, already concerns these two person groups. */
  async reviewedBetween(client: PoolClient, rootA: string, rootB: string): Promise<boolean> {
    const { rows } = await client.query(
      `SELECT 1 FROM patient_index_reviews r
         JOIN patient_index_persons a ON a.id = r.person_ref JOIN patient_index_persons b ON b.id = r.candidate_ref
        WHERE (${ROOT_SQL('a')} = $1 AND ${ROOT_SQL('b')} = $2) OR (${ROOT_SQL('a')} = $2 AND ${ROOT_SQL('b')} = $1) LIMIT 1`,
      [rootA, rootB],
    );
    return rows.length > 0;
  }

  async addReview(client: PoolClient, review: { study: string; person: string; candidate: string; reason: string; differs: readonly string[] }): Promise<void> {
    await kyselyOn(client)
      .insertInto('patientIndexReviews')
      .values({ studyRef: review.study, personRef: review.person, candidateRef: review.candidate, reason: review.reason, differs: [...review.differs] })
      .onConflict((oc) => oc.columns(['personRef', 'candidateRef']).doNothing())
      .execute();
  }

  /** The root person of an indexed study; null when it is not indexed. */
  async rootOfStudy(client: CatalogReader, studyId: string): Promise<string | null> {
    const row = await kyselyOn(client)
      .selectFrom('patientIndexStudies as x')
      .innerJoin('patientIndexPersons as p', 'p.id', 'x.personRef')
      .select(rootOf('p').as('root'))
      .where('x.studyRef', '=', studyId)
      .executeTakeFirst();
    return row?.root ?? null;
  }

  /** Open reviews that concern this person group. */
  async openReviewsOf(client: CatalogReader, root: string): Promise<number> {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM patient_index_reviews r
         JOIN patient_index_persons a ON a.id = r.person_ref JOIN patient_index_persons b ON b.id = r.candidate_ref
        WHERE r.status = 'open' AND (${ROOT_SQL('a')} = $1 OR ${ROOT_SQL('b')} = $1)`,
      [root],
    );
    return rows[0]?.n ?? 0;
  }
}

import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';

/**
 * Catalog access for a clinic's registered remote AEs (`dimse_move_destinations`, migrations
 * 0800/0802/0810): the admin's list and changes, and the C-MOVE / Storage Commitment lookup.
 */
export type CommitmentReports = 'same_association' | 'new_association';

/** A registered remote AE, its commitment_reports narrowed as the migration 0810 check holds it. */
export type Destination = Omit<Selectable<Tables.DimseMoveDestinations>, 'commitmentReports'> & { commitmentReports: CommitmentReports };

/** What the admin sets of a destination (the key is clinic and AE title). */
export type DestinationSettings = Pick<Destination, 'host' | 'port' | 'tls' | 'tlsCaPem' | 'tlsServerName' | 'commitmentReports'>;

type Db = Pool | PoolClient;

function destinations(db: Db) {
  return kyselyOn(db)
    .selectFrom('dimseMoveDestinations')
    .select(['clinicId', 'aeTitle', 'host', 'port', 'tls', 'tlsCaPem', 'tlsServerName', 'commitmentReports', 'createdAt'])
    .$narrowType<{ commitmentReports: CommitmentReports }>();
}

export async function listDestinations(db: Db, clinicId: string): Promise<Destination[]> {
  return destinations(db).where('clinicId', '=', clinicId).orderBy('aeTitle').execute();
}

/** The clinic's destination with this AE title; undefined when the clinic has none by that title. */
export async function findDestination(db: Db, clinicId: string, aeTitle: string): Promise<Destination | undefined> {
  return destinations(db).where('clinicId', '=', clinicId).where('aeTitle', '=', aeTitle).executeTakeFirst();
}

/** Registers the destination or changes its settings; `created` tells which. */
export async function upsertDestination(
  client: PoolClient,
  clinicId: string,
  aeTitle: string,
  settings: DestinationSettings,
): Promise<Destination & { created: boolean }> {
  const { host, port, tls, tlsCaPem, tlsServerName, commitmentReports } = settings;
  return kyselyOn(client)
    .insertInto('dimseMoveDestinations')
    .values({ clinicId, aeTitle, host, port, tls, tlsCaPem, tlsServerName, commitmentReports })
    .onConflict((conflict) =>
      conflict.columns(['clinicId', 'aeTitle']).doUpdateSet((eb) => ({
        host: eb.ref('excluded.host'),
        port: eb.ref('excluded.port'),
        tls: eb.ref('excluded.tls'),
        tlsCaPem: eb.ref('excluded.tlsCaPem'),
        tlsServerName: eb.ref('excluded.tlsServerName'),
        commitmentReports: eb.ref('excluded.commitmentReports'),
      })),
    )
    // xmax is 0 on a row this statement inserted, the updating transaction's id on one it changed.
    .returning(['clinicId', 'aeTitle', 'host', 'port', 'tls', 'tlsCaPem', 'tlsServerName', 'commitmentReports', 'createdAt', sql<boolean>`xmax = 0`.as('created')])
    .$narrowType<{ commitmentReports: CommitmentReports }>()
    .executeTakeFirstOrThrow();
}

/** Removes the destination; false when the clinic had none by that title. */
export async function deleteDestination(client: PoolClient, clinicId: string, aeTitle: string): Promise<boolean> {
  const result = await kyselyOn(client).deleteFrom('dimseMoveDestinations').where('clinicId', '=', clinicId).where('aeTitle', '=', aeTitle).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

import { kyselyOn, sql, type Pool, type PoolClient, type Selectable, type Tables } from '@yunying/catalog';

/**
 * Catalog access for a clinic's DICOM credentials (issue #17, migrations 0901/0910): its policy
 * (`clinics.dimse_auth`), the networks its associations must come from (`clinics.dimse_source_networks`)
 * and its device certificates (`clinic_dimse_certificates`). Used by the admin service and by the
 * association check.
 */
export type DimseAuthPolicy = 'credentials' | 'ae_only';

/** A registered device certificate, as the admin API shows it. */
export type DeviceCertificate = Selectable<Tables.ClinicDimseCertificates>;

type Db = Pool | PoolClient;

const CERTIFICATE_COLUMNS = ['fingerprintSha256', 'clinicId', 'aeTitle', 'label', 'createdAt', 'revokedAt'] as const;

/** cidr[] read as text: "10.1.0.0/16", as the admin wrote it. */
const sourceNetworksText = sql<string[] | null>`dimse_source_networks::text[]`;

export async function clinicExists(db: Db, clinicId: string): Promise<boolean> {
  return (await kyselyOn(db).selectFrom('clinics').select('id').where('id', '=', clinicId).executeTakeFirst()) !== undefined;
}

/** The clinic's policy and source networks; undefined when there is no such clinic. */
export async function findClinicDimse(db: Db, clinicId: string): Promise<{ dimseAuth: DimseAuthPolicy; sourceNetworks: string[] | null } | undefined> {
  return kyselyOn(db)
    .selectFrom('clinics')
    .select(['dimseAuth', sourceNetworksText.as('sourceNetworks')])
    .where('id', '=', clinicId)
    // clinics_dimse_auth_check (migration 0901) holds dimse_auth to DimseAuthPolicy.
    .$narrowType<{ dimseAuth: DimseAuthPolicy }>()
    .executeTakeFirst();
}

export async function listCertificates(db: Db, clinicId: string): Promise<DeviceCertificate[]> {
  return kyselyOn(db).selectFrom('clinicDimseCertificates').select(CERTIFICATE_COLUMNS).where('clinicId', '=', clinicId).orderBy('createdAt').execute();
}

/** Sets the clinic's policy under a row lock; returns the policy before, or undefined when there is no such clinic. */
export async function swapDimseAuth(client: PoolClient, clinicId: string, dimseAuth: DimseAuthPolicy): Promise<DimseAuthPolicy | undefined> {
  const db = kyselyOn(client);
  const before = await db.selectFrom('clinics').select('dimseAuth').where('id', '=', clinicId).forUpdate().$narrowType<{ dimseAuth: DimseAuthPolicy }>().executeTakeFirst();
  if (before === undefined) return undefined;
  await db.updateTable('clinics').set({ dimseAuth }).where('id', '=', clinicId).execute();
  return before.dimseAuth;
}

/**
 * Sets the clinic's source networks (null: any address) under a row lock; returns the networks before
 * (null: none were set), or undefined when there is no such clinic.
 */
export async function swapSourceNetworks(client: PoolClient, clinicId: string, networks: string[] | null): Promise<{ before: string[] | null } | undefined> {
  const db = kyselyOn(client);
  const row = await db.selectFrom('clinics').select(sourceNetworksText.as('before')).where('id', '=', clinicId).forUpdate().executeTakeFirst();
  if (row === undefined) return undefined;
  await db
    .updateTable('clinics')
    .set({ dimseSourceNetworks: sql<string[] | null>`${networks}::cidr[]` })
    .where('id', '=', clinicId)
    .execute();
  return row;
}

/**
 * Parses each network with PostgreSQL's cidr input, which decides what a network is (it refuses host bits
 * right of the mask, "10.0.0.1/8"): rejects with its error (code 22P02) on the first that is not one.
 */
export async function parseNetworks(db: Db, networks: readonly string[]): Promise<void> {
  await sql`SELECT n::cidr FROM unnest(${[...networks]}::text[]) AS n`.execute(kyselyOn(db));
}

export async function isAeTitleOfClinic(db: Db, aeTitle: string, clinicId: string): Promise<boolean> {
  const row = await kyselyOn(db).selectFrom('clinicAeTitles').select('aeTitle').where('aeTitle', '=', aeTitle).where('clinicId', '=', clinicId).executeTakeFirst();
  return row !== undefined;
}

/** Registers a certificate by fingerprint; undefined when that fingerprint is already registered. */
export async function insertCertificate(
  client: PoolClient,
  certificate: { fingerprintSha256: string; clinicId: string; aeTitle: string | null; label: string },
): Promise<DeviceCertificate | undefined> {
  return kyselyOn(client)
    .insertInto('clinicDimseCertificates')
    .values(certificate)
    .onConflict((conflict) => conflict.column('fingerprintSha256').doNothing())
    .returning(CERTIFICATE_COLUMNS)
    .executeTakeFirst();
}

/** Revokes a certificate (a revoked one keeps its first revocation time); undefined when it is not registered. */
export async function revokeCertificate(client: PoolClient, fingerprintSha256: string): Promise<DeviceCertificate | undefined> {
  return kyselyOn(client)
    .updateTable('clinicDimseCertificates')
    .set((eb) => ({ revokedAt: eb.fn.coalesce('revokedAt', sql<Date>`now()`) }))
    .where('fingerprintSha256', '=', fingerprintSha256)
    .returning(CERTIFICATE_COLUMNS)
    .executeTakeFirst();
}

/** The registration of a certificate presented on an association; undefined when it is not registered. */
export async function findCertificate(db: Db, fingerprintSha256: string): Promise<DeviceCertificate | undefined> {
  return kyselyOn(db).selectFrom('clinicDimseCertificates').select(CERTIFICATE_COLUMNS).where('fingerprintSha256', '=', fingerprintSha256).executeTakeFirst();
}

/**
 * Whether the clinic binds its associations to source networks, and whether `address` (null: unknown) is
 * inside one of them (null when unknown or not bound). undefined when there is no such clinic.
 */
export async function sourceNetworkCheck(db: Db, clinicId: string, address: string | null): Promise<{ bound: boolean; inside: boolean | null } | undefined> {
  return kyselyOn(db)
    .selectFrom('clinics')
    .select([sql<boolean>`dimse_source_networks IS NOT NULL`.as('bound'), sql<boolean | null>`${address}::inet <<= ANY (dimse_source_networks)`.as('inside')])
    .where('id', '=', clinicId)
    .executeTakeFirst();
}

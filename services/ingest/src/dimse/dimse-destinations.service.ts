import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { inTransaction, type Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { clinicExists } from './dimse-devices.repository';
import { recordSecurityConfiguration, type AdminCaller } from './dimse-devices.service';
import { deleteDestination, listDestinations, upsertDestination, type CommitmentReports, type Destination, type DestinationSettings } from './dimse-destinations.repository';

export type { CommitmentReports };

/** Where and how to reach the AE (its key, clinic and AE title, comes from the path). */
export type DestinationInput = DestinationSettings;

export type DestinationView = Destination;

/** AE titles (PS3.5 AE VR): up to 16 characters of the default repertoire, no backslash or control characters, not all spaces. */
export function validAeTitle(ae: string): boolean {
  return ae.length >= 1 && ae.length <= 16 && /^[\x20-\x5b\x5d-\x7e]+$/.test(ae) && ae.trim() !== '';
}

/** A host name (RFC 1123 labels) or an IP address. */
export function validHost(host: string): boolean {
  if (net.isIP(host) !== 0) return true;
  return host.length <= 253 && host.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

function checkInput(input: DestinationInput): void {
  if (!validHost(input.host)) throw new AppError('bad_request', 'host: not a host name or an IP address');
  if (!input.tls && (input.tlsCaPem !== null || input.tlsServerName !== null)) {
    throw new AppError('bad_request', 'tlsCaPem and tlsServerName apply only with tls: true');
  }
  if (input.tlsServerName !== null && !validHost(input.tlsServerName)) throw new AppError('bad_request', 'tlsServerName: not a host name');
  if (input.tlsCaPem !== null) {
    try {
      new X509Certificate(input.tlsCaPem);
    } catch {
      throw new AppError('bad_request', 'tlsCaPem: not a PEM X.509 certificate');
    }
  }
}

/**
 * A clinic's registered remote AEs (issue #16, migrations 0800/0802/0810): where C-MOVE sends a clinic's
 * studies and where Storage Commitment reports go on a new association. Until now they were set by SQL;
 * this is the admin's way, each change a Security Alert (subtype Security Configuration) in the same
 * transaction, since a destination decides where patients' images may leave the archive to.
 */
export class DimseDestinationsService {
  constructor(private readonly pool: Pool) {}

  async list(clinicId: string): Promise<DestinationView[]> {
    if (!(await clinicExists(this.pool, clinicId))) throw new AppError('not_found', 'No such clinic');
    return listDestinations(this.pool, clinicId);
  }

  /** Registers or changes the clinic's destination with this AE title. */
  async put(clinicId: string, ae: string, input: DestinationInput, caller: AdminCaller): Promise<{ destination: DestinationView; created: boolean }> {
    const aeTitle = ae.trim(); // leading and trailing spaces of an AE title are not significant (PS3.5 6.2)
    if (!validAeTitle(aeTitle)) throw new AppError('bad_request', 'aeTitle: 1-16 characters of the DICOM default repertoire, no backslash');
    checkInput(input);
    return inTransaction(this.pool, async (client) => {
      if (!(await clinicExists(client, clinicId))) throw new AppError('not_found', 'No such clinic');
      const { created, ...destination } = await upsertDestination(client, clinicId, aeTitle, input);
      await recordSecurityConfiguration(client, caller, clinicId, {
        change: created ? 'dimse-destination-registered' : 'dimse-destination-changed',
        aeTitle,
        host: input.host,
        port: input.port,
        tls: input.tls,
        commitmentReports: input.commitmentReports,
      });
      return { destination, created };
    });
  }

  /** Removes a destination: later C-MOVEs to it fail with 0xA801 (unknown destination). */
  async remove(clinicId: string, ae: string, caller: AdminCaller): Promise<void> {
    const aeTitle = ae.trim();
    await inTransaction(this.pool, async (client) => {
      if (!(await deleteDestination(client, clinicId, aeTitle))) throw new AppError('not_found', 'No such destination');
      await recordSecurityConfiguration(client, caller, clinicId, { change: 'dimse-destination-removed', aeTitle });
    });
  }
}

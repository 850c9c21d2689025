/**
 * DIMSE front end of ingest: C-ECHO and C-STORE SCP (PS3.4 A, B; PS3.7; PS3.8). See README.md.
 */
export { ARCHIVE_IMPLEMENTATION, startDimseServer, type DimseServer, type DimseServerOptions } from './dimse.server';
export { apiKeyVerifierOf, checkAssociationCredentials, type ApiKeyVerifier, type CredentialVerdict } from './association.credentials';
export { DimseDevicesService, type DeviceCertificateView, type DimseAuthPolicy, type DimseDevicesView } from './dimse-devices.service';
export { dimseDevicesRoutes } from './dimse-devices.route';
export { DimseDestinationsService, validAeTitle, validHost, type CommitmentReports, type DestinationInput, type DestinationView } from './dimse-destinations.service';
export { dimseDestinationsRoutes } from './dimse-destinations.route';

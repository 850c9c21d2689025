import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { makeStudy } from '@yunying/dicom/testing';
import { startSystem, stow, type RunningSystem } from '../support/system';
import { value, type DicomJson } from './client';

/**
 * Issue #15: the running system accepts an external OpenID Connect issuer's access tokens on DICOMweb
 * (OIDC_ISSUER): discovery and JWKS fetched over HTTP from the issuer, the token's user mapped to the
 * seeded Yunying user, whose clinic scope then decides what QIDO returns; unknown users refused.
 */
describe('OIDC access tokens on DICOMweb (system)', () => {
  let system: RunningSystem;
  let server: http.Server;
  let issuer: string;
  let key: KeyLike;
  const study = makeStudy(1, { rows: 8, columns: 8, patientId: 'PID-OIDC' });

  const token = (username: string): Promise<string> =>
    new SignJWT({ preferred_username: username })
      .setProtectedHeader({ alg: 'ES256', kid: 'sys-1' })
      .setIssuer(issuer)
      .setAudience('yunying-dicomweb')
      .setSubject(`idp|${username}`)
      .setExpirationTime('5m')
      .sign(key);

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'sys-1', alg: 'ES256', use: 'sig' };
    server = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      else if (req.url === '/keys') res.end(JSON.stringify({ keys: [jwk] }));
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    system = await startSystem({ env: { OIDC_ISSUER: issuer, OIDC_AUDIENCE: 'yunying-dicomweb' } });
    expect((await stow(system.urls.ingest ?? '', system.credentials.apiKey?.key ?? '', study.files)).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    await new Promise((r) => server?.close(r));
  });

  const qido = async (bearer: string): Promise<Response> =>
    fetch(`${system.urls.viewer ?? ''}/dicomweb/studies?PatientID=PID-OIDC`, { headers: { authorization: `Bearer ${bearer}`, accept: 'application/dicom+json' } });

  it('lets the demo clinic user search with the issuer’s token', async () => {
    const clinicUser = system.credentials.users.find((u) => u.role === 'clinic');
    const res = await qido(await token(clinicUser?.username ?? ''));
    expect(res.status).toBe(200);
    expect(((await res.json()) as DicomJson[]).map((s) => value(s, '0020000D'))).toEqual([study.studyInstanceUid]);
  });

  it('applies the mapped user’s role: an auditor is refused DICOMweb', async () => {
    const auditor = system.credentials.users.find((u) => u.role === 'auditor');
    expect((await qido(await token(auditor?.username ?? ''))).status).toBe(403);
  });

  it('refuses a subject with no Yunying user', async () => {
    expect((await qido(await token('nobody-here'))).status).toBe(401);
  });
});

import express from 'express';
import request from 'supertest';
import { webAppCors } from './web-app-cors';

const VIEWER = 'https://pacs.example:8443';

function app(): express.Express {
  const a = express();
  a.use(webAppCors(`${VIEWER}/`));
  a.all(/.*/, (_req, res) => void res.json({ reached: true }));
  return a;
}

describe('webAppCors', () => {
  it("answers the viewer's origin for uploads and the Clinics page's DICOM settings, with the methods each needs", async () => {
    const upload = await request(app()).options('/dicomweb/studies').set('origin', VIEWER).set('access-control-request-method', 'POST');
    expect(upload.status).toBe(204);
    expect(upload.headers['access-control-allow-origin']).toBe(VIEWER);
    expect(upload.headers['access-control-allow-methods']).toBe('POST');

    const clinic = '0b5c8d2e-1f00-4a7a-9c1e-5d4b3a2f1e0d';
    for (const path of [`/api/admin/clinics/${clinic}/dimse`, `/api/admin/clinics/${clinic}/dimse-source-networks`, `/api/admin/clinics/${clinic}/dimse-destinations/LAKE_WS`]) {
      const preflight = await request(app()).options(path).set('origin', VIEWER).set('access-control-request-method', 'PUT');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toBe('GET, PUT, POST, DELETE');
      expect(preflight.headers['access-control-allow-headers']).toContain('authorization');
    }
    const revoke = await request(app()).options(`/api/admin/dimse-certificates/${'AB:'.repeat(31)}AB/revoke`).set('origin', VIEWER).set('access-control-request-method', 'POST');
    expect(revoke.headers['access-control-allow-methods']).toBe('POST');

    const actual = await request(app()).get(`/api/admin/clinics/${clinic}/dimse`).set('origin', VIEWER);
    expect(actual.body).toEqual({ reached: true });
    expect(actual.headers['access-control-allow-origin']).toBe(VIEWER);
    // Never credentials mode: the cookie is not for other origins.
    expect(actual.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('says nothing to another origin, or about routes the web app does not call', async () => {
    const stranger = await request(app()).options('/api/admin/clinics/x/dimse').set('origin', 'https://evil.example').set('access-control-request-method', 'PUT');
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    expect(stranger.body).toEqual({ reached: true });
    for (const path of ['/api/admin/clinics/x/retention', '/api/keeper/scrub', '/api/admin/dimse-certificates/AB/other']) {
      const other = await request(app()).options(path).set('origin', VIEWER).set('access-control-request-method', 'POST');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    }
  });
});

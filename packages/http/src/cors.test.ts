import request from 'supertest';
import express from 'express';
import { corsMiddleware } from './cors';

function app(origins: string[]): express.Express {
  const a = express();
  a.use(corsMiddleware({ origins }));
  a.get('/dicomweb/studies', (_req, res) => {
    res.setHeader('Warning', '299 host: "There are additional results to be returned"');
    res.json([]);
  });
  return a;
}

describe('corsMiddleware', () => {
  const ohif = 'http://ohif.example:3000';

  it('answers a preflight from an allowed origin with the methods and headers a DICOMweb client needs', async () => {
    const res = await request(app([ohif]))
      .options('/dicomweb/studies')
      .set('Origin', ohif)
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Headers', 'authorization, accept');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ohif);
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toBe('authorization, accept, content-type, x-request-id');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers.vary).toContain('Origin');
  });

  it('exposes Warning, Content-Location and Content-Type on the actual response', async () => {
    const res = await request(app([ohif])).get('/dicomweb/studies').set('Origin', ohif);
    expect(res.headers['access-control-allow-origin']).toBe(ohif);
    expect(res.headers['access-control-expose-headers']).toEqual(expect.stringContaining('Warning'));
    expect(res.headers['access-control-expose-headers']).toEqual(expect.stringContaining('Content-Location'));
    expect(res.headers['access-control-expose-headers']).toEqual(expect.stringContaining('Content-Type'));
  });

  it('says nothing to an origin that is not configured', async () => {
    const preflight = await request(app([ohif])).options('/dicomweb/studies').set('Origin', 'http://evil.example').set('Access-Control-Request-Method', 'GET');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const res = await request(app([ohif])).get('/dicomweb/studies').set('Origin', 'http://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('sends * for a wildcard configuration, never with credentials', async () => {
    const res = await request(app(['*'])).get('/dicomweb/studies').set('Origin', 'http://any.example');
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

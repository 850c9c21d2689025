import express from 'express';
import { z } from 'zod';
import { parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { callerOf, studyUidParam } from '../reading/queue.route';
import { KOS_TITLES, type KosTitle } from './key-images.kos';
import type { KeyImageService } from './key-images.service';

const json = express.json({ limit: '32kb' });

// Readers mark key images; the sending clinic sees them too (its printed report, a share, any DICOM viewer as the KOS).
const READER = { scope: 'clinic-data', roles: ['radiologist'] } as const;
const VIEWER = { scope: 'clinic-data', roles: ['radiologist', 'clinic'] } as const;

/** More than a reader would mark; bounds the KOS and the share. */
const MAX_KEY_IMAGES = 50;

const saveBody = z
  .object({
    title: z.enum(Object.keys(KOS_TITLES) as [KosTitle, ...KosTitle[]]).default('of-interest'),
    images: z
      .array(z.object({ sopInstanceUid: z.string().regex(/^[0-9]+(\.[0-9]+)*$/).max(64), frameNumber: z.number().int().min(1).nullable().default(null) }).strict())
      .max(MAX_KEY_IMAGES)
      // No images: every mark removed.
      .default([]),
  })
  .strict();

/** The study's key images (#20): read the current revision; save a new one (stored as a DICOM KOS). */
export function keyImageRoutes(keyImages: KeyImageService, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.key-images', authenticator);

  routes.get('/api/studies/:studyUid/key-images', { ...VIEWER, description: 'the study’s key images (current revision)' }, async (req, res) => {
    res.json(await keyImages.current(callerOf(req), studyUidParam(req)));
  });

  routes.put('/api/studies/:studyUid/key-images', { ...READER, description: 'save the study’s key images: a new revision, stored as a Key Object Selection document' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    const body = parseInput(saveBody, req.body);
    res.json(await keyImages.save(callerOf(req), uid, body));
  });

  return routes;
}

import express from 'express';
import { z } from 'zod';
import { parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { callerOf, studyUidParam } from '../reading/queue.route';
import type { ReaderAiService } from './reader-ai.service';

const json = express.json({ limit: '4kb' });
const READER = { scope: 'clinic-data', roles: ['radiologist'] } as const;
const UID = /^[0-9]+(\.[0-9]+)*$/;

const noduleRequest = z
  .object({
    sopInstanceUid: z.string().max(64).regex(UID, 'a DICOM UID'),
    frameNumber: z.number().int().min(1).max(100_000).default(1),
    box: z.object({ x: z.number().finite(), y: z.number().finite(), width: z.number().finite().positive(), height: z.number().finite().positive() }).strict(),
  })
  .strict();

/** Reader-guided scoring: the model on a nodule the reader points at. */
export function readerAiRoutes(service: ReaderAiService, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.reader-ai', authenticator);
  routes.post('/api/studies/:studyUid/ai/nodules', { ...READER, description: 'score a nodule the reader boxed on a frame (reader-initiated AI result, audited)' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(await service.score(callerOf(req), uid, parseInput(noduleRequest, req.body)));
  });
  routes.get('/api/studies/:studyUid/ai/nodules', { ...READER, description: 'reader-initiated AI results of the study' }, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await service.list(callerOf(req), studyUidParam(req)));
  });
  return routes;
}

import express from 'express';
import { parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import { callerOf, studyUidParam } from './queue.route';
import { z } from 'zod';
import { addendumRequest, clinicStudiesQuery, reportContent, signRequest } from './reading.schemas';
import type { ReportService } from './report.service';

const json = express.json({ limit: '64kb' });

const versionParam = z.coerce.number().int().min(1).max(10_000);

const READER = { scope: 'clinic-data', roles: ['radiologist'] } as const;

/**
 * Reports and the clinic's view of its studies. The clinic that sent a study reads its signed versions;
 * readers of granted clinics read every version, drafts included, and write them.
 */
export function reportRoutes(reports: ReportService, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.reports', authenticator);

  routes.get(
    '/api/studies/:studyUid/report',
    { scope: 'clinic-data', roles: ['radiologist', 'clinic'], description: 'report versions (clinic users: signed only)' },
    async (req, res) => {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await reports.get(callerOf(req), studyUidParam(req)));
    },
  );

  routes.put('/api/studies/:studyUid/report/draft', { ...READER, description: 'create or replace the draft (claim holder)' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    res.json(await reports.saveDraft(callerOf(req), uid, parseInput(reportContent, req.body)));
  });

  routes.post('/api/studies/:studyUid/report/sign', { ...READER, description: 'sign the draft (password re-authentication): immutable, stored as a signed DICOM SR, claim released' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    const { password } = parseInput(signRequest, req.body ?? {});
    res.json(await reports.sign(callerOf(req), uid, password));
  });

  routes.post('/api/studies/:studyUid/report/addendum', { ...READER, description: 'add a signed addendum (password re-authentication) to a signed report' }, json, async (req, res) => {
    const uid = studyUidParam(req);
    const { password, content } = parseInput(addendumRequest, req.body);
    res.status(201).json(await reports.addAddendum(callerOf(req), uid, parseInput(reportContent, content), password));
  });

  routes.get(
    '/api/studies/:studyUid/report/versions/:version/signature',
    { scope: 'clinic-data', roles: ['radiologist', 'clinic', 'auditor'], description: 'verify a signed version: signature, signer, key, SR and its copies' },
    async (req, res) => {
      const version = parseInput(versionParam, req.params.version, 'path');
      res.setHeader('Cache-Control', 'no-store');
      res.json(await reports.verify(callerOf(req), studyUidParam(req), version));
    },
  );

  routes.get('/api/studies/:studyUid/ai', { ...READER, description: 'AI results of the study (shown, never copied into the report)' }, async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await reports.aiResults(callerOf(req), studyUidParam(req)));
  });

  routes.get('/api/clinic/studies', { scope: 'clinic-data', roles: ['clinic'], description: 'the clinic’s studies with reading status and signed reports' }, async (req, res) => {
    const query = parseInput(clinicStudiesQuery, req.query, 'query');
    res.setHeader('Cache-Control', 'no-store');
    res.json(await reports.clinicStudies(callerOf(req), query));
  });

  return routes;
}

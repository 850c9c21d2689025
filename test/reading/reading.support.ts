import { randomBytes } from 'node:crypto';
import { storeTriagedResult } from '@yunying/catalog/testing';
import { makeInstance, newUid } from '@yunying/dicom/testing';
import { scoredImage } from '@yunying/nodule-model/testing';
import { stow, type RunningSystem } from '../support/system';
import { nodulePattern } from '../triage/triage.support';

/** HTTP helpers for the reading API system tests: sign in as a user, call with a Bearer token. */

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export async function call<T = Record<string, unknown>>(baseUrl: string, method: string, path: string, token?: string, body?: unknown): Promise<ApiResponse<T>> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

export async function signIn(viewerUrl: string, username: string, password: string): Promise<string> {
  const res = await call<{ accessToken?: string }>(viewerUrl, 'POST', '/api/auth/sign-in', undefined, { username, password, client: 'api' });
  if (res.status !== 200 || typeof res.body.accessToken !== 'string') throw new Error(`sign-in of ${username} failed with ${res.status}`);
  return res.body.accessToken;
}

export function demoPassword(system: RunningSystem, username: string): string {
  const user = system.credentials.users.find((u) => u.username === username);
  if (!user) throw new Error(`no demo user ${username}`);
  return user.password;
}

export function clinicId(system: RunningSystem, code: string): string {
  const clinic = system.credentials.clinics.find((c) => c.code === code);
  if (!clinic) throw new Error(`no demo clinic ${code}`);
  return clinic.id;
}

/** A device key for `clinic`, created by the admin over the API (the seed makes one for demo-clinic only). */
export async function createDeviceKey(viewerUrl: string, adminToken: string, clinic: string): Promise<string> {
  const res = await call<{ key?: string }>(viewerUrl, 'POST', '/api/admin/api-keys', adminToken, { clinicId: clinic, name: `reading-test-${newUid().slice(-8)}` });
  if (res.status !== 201 || typeof res.body.key !== 'string') throw new Error(`api key creation failed with ${res.status}`);
  return res.body.key;
}

/** A radiologist created by the admin over the API and granted `clinics`; returns their id and token. */
export async function createRadiologist(viewerUrl: string, adminToken: string, username: string, clinics: string[]): Promise<{ id: string; token: string; password: string }> {
  // Random base64url: a UID's digit runs can read as a common password to the policy (#17) and be refused.
  const password = `Rd-${randomBytes(12).toString('base64url')}`;
  const created = await call<{ id?: string }>(viewerUrl, 'POST', '/api/admin/users', adminToken, { username, role: 'radiologist', password });
  if (created.status !== 201 || typeof created.body.id !== 'string') throw new Error(`user creation failed with ${created.status}`);
  for (const clinic of clinics) {
    const grant = await call(viewerUrl, 'POST', '/api/admin/grants', adminToken, { userId: created.body.id, clinicId: clinic });
    if (grant.status !== 201) throw new Error(`grant failed with ${grant.status}`);
  }
  // The password too: signing re-authenticates with it (#20).
  return { id: created.body.id, token: await signIn(viewerUrl, username, password), password };
}

export interface UploadSpec {
  modality?: string;
  studyDate?: string;
  patientName?: string;
  /** A thyroid-like frame with a dark nodule that the served model triages (a confident candidate), instead of 8 x 8 pixels. */
  nodule?: boolean;
}

/** One single-instance study per spec, all in one STOW-RS request with the given device key; returns their UIDs. */
export async function uploadStudies(system: RunningSystem, apiKey: string, specs: UploadSpec[]): Promise<string[]> {
  const uids = specs.map(() => newUid());
  const files = specs.map((spec, i) =>
    makeInstance({
      studyInstanceUid: uids[i] ?? newUid(),
      seriesInstanceUid: newUid(),
      ...(spec.nodule ? { rows: 120, columns: 160, pixelPattern: nodulePattern(60, 65, 20, 14) } : { rows: 8, columns: 8 }),
      modality: spec.modality ?? 'US',
      studyDate: spec.studyDate ?? '20240110',
      patientName: spec.patientName ?? `Test^Patient${i}`,
      patientId: `P-${i}`,
    }),
  );
  const result = await stow(system.urls.ingest ?? '', apiKey, files);
  if (result.status !== 200) throw new Error(`STOW failed with ${result.status}`);
  return uids;
}

/** The triage level whose score gives a study each queue priority (services/inference/src/triage/result.ts priorityFor). */
const LEVEL_OF_PRIORITY = { urgent: 'urgent', priority: 'flagged', routine: 'routine' } as const;

/**
 * What triage (#5) does when it has scored a study of one image: stores its result through the ai_results writer
 * and puts it on the study (priority, triage and reading status), with a nodule scored at the level that gives
 * `priority`. The model itself is not run (triage is off in these systems: it would be CPU and minutes per study).
 */
export async function setTriage(system: RunningSystem, studyUid: string, priority: 'urgent' | 'priority' | 'routine'): Promise<void> {
  const image = scoredImage({
    sopInstanceUid: newUid(),
    seriesInstanceUid: newUid(),
    category: LEVEL_OF_PRIORITY[priority],
    nodules: [{ codes: { composition: 'solid', echogenicity: 'hypo', shape: 'wider', margin: 'smooth', echogenicFoci: 'none' }, box: { x: 2, y: 2, width: 4, height: 3 }, sizeMm: null, score: { urgent: 0.95, priority: 0.7, routine: 0.2 }[priority] }],
  });
  await storeTriagedResult(system.pool, studyUid, { instanceCount: 1, images: [image] });
}

import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Pool } from '@yunying/catalog';
import { REPO_ROOT } from '../support/processes';
import type { RunningSystem } from '../support/system';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `yunying-archive <args>` from services/launcher/dist, with the system's own configuration. */
export function archiveCli(system: RunningSystem, args: string[]): Promise<CliResult> {
  const cli = path.join(REPO_ROOT, 'services/launcher/dist/archive.cli.js');
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...system.env } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * What a rebuild must reproduce, read the same way from either catalog: the identity and placement of
 * every study, series, instance version, object and copy, with the fields a rebuild can know (bigserial
 * ids and verification times differ by nature and are left out).
 */
export async function catalogSnapshot(pool: Pool, schema: string): Promise<Record<string, unknown[]>> {
  const q = async (sql: string): Promise<unknown[]> => (await pool.query(sql.replaceAll('$s', `"${schema}"`))).rows;
  return {
    // Not studies.received_at: live, it is the arrival time of the instance whose transaction created the
    // study row, which need not be the earliest when one request's instances commit out of order; a
    // rebuild sets the earliest (instances.received_at, compared below, is exact).
    studies: await q(`SELECT study_instance_uid, clinic_id, number_of_series, number_of_instances, modalities, study_date,
                        last_instance_at, retain_until, legal_hold FROM $s.studies ORDER BY 1`),
    series: await q(`SELECT se.series_instance_uid, s.study_instance_uid, se.modality, se.series_number, se.number_of_instances
                       FROM $s.series se JOIN $s.studies s ON s.id = se.study_ref ORDER BY 1`),
    instances: await q(`SELECT i.sop_instance_uid, i.version, i.is_current, i.clinic_id, s.study_instance_uid, se.series_instance_uid, i.sop_class_uid,
                          i.transfer_syntax_uid, i.sha256, i.dataset_sha256, i.size_bytes, i.instance_number, i.received_at
                          FROM $s.instances i JOIN $s.series se ON se.id = i.series_ref JOIN $s.studies s ON s.id = i.study_ref ORDER BY 1, 2`),
    objects: await q('SELECT sha256, object_key, size_bytes, retain_until, legal_hold FROM $s.objects ORDER BY 1'),
    copies: await q('SELECT sha256, target, object_key, version_id, size_bytes, retain_until, lock_mode, state FROM $s.copies ORDER BY 1, 2'),
    clinics: await q('SELECT DISTINCT i.clinic_id, c.code FROM $s.instances i JOIN $s.clinics c ON c.id = i.clinic_id ORDER BY 1'),
  };
}

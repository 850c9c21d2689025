import type { Pool } from '@yunying/catalog';
import type { MoveDestination } from '@yunying/dimse';

/**
 * The Move Destination of a C-MOVE, looked up among the calling clinic's registered AE titles only
 * (`dimse_move_destinations`, migration 0800): another clinic's workstation is as unknown as a typo.
 */
export async function findMoveDestination(pool: Pool, clinicId: string, aeTitle: string): Promise<MoveDestination | null> {
  if (aeTitle === '') return null;
  const { rows } = await pool.query<{ ae_title: string; host: string; port: number }>('SELECT ae_title, host, port FROM dimse_move_destinations WHERE clinic_id = $1 AND ae_title = $2', [clinicId, aeTitle]);
  const row = rows[0];
  return row === undefined ? null : { aeTitle: row.ae_title, host: row.host, port: row.port };
}

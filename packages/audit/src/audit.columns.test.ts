import { createSecretKey } from 'node:crypto';
import { AUDIT_EVENT_COLUMNS, HASHED_AUDIT_COLUMNS, type AuditContent } from './audit.columns';
import type { JsonValue } from './event-types';
import { hashAuditRecord, macAuditRecord } from './hash';

const key = { id: 'k1', key: createSecretKey(Buffer.alloc(32, 7)) };

const content: AuditContent = {
  id: '0b6f0c4e-8a5e-4a53-9a8e-6a0f0c7d1e21',
  occurredAt: new Date('2026-01-02T03:04:05.678Z'),
  eventType: 'Query',
  eventCode: '110112',
  action: 'E',
  outcome: 0,
  actorUserId: '1c9a8d6e-2f3b-4c5d-8e9f-0a1b2c3d4e5f',
  actorUsername: 'radiologist',
  actorRole: 'radiologist',
  actorClinic: '2d8b7c6a-1e2f-4a3b-9c8d-7e6f5a4b3c2d',
  sourceIp: '10.0.0.7',
  requestId: 'req-1',
  studyInstanceUid: '1.2.3.4',
  clinicId: '3e7a6b5c-4d3e-4f2a-8b1c-0d9e8f7a6b5c',
  details: { what: 'priors', count: 2, studies: ['1.2.3.4', '1.2.3.5'] },
  prevHash: 'ab'.repeat(32),
};

/** Another value of the same kind, so the record stays well-formed and only this field differs. */
function changed(value: AuditContent[keyof AuditContent]): JsonValue | Date {
  if (value instanceof Date) return new Date(value.getTime() + 1);
  // Outcomes are 0, 4, 8, 12 (DICOM audit): another one of them.
  if (typeof value === 'number') return value === 0 ? 4 : 0;
  if (typeof value === 'string') return `${value}x`;
  if (value === null) return 'set';
  return { ...value, extra: true };
}

describe('audit columns: one list for the insert, the select and the link', () => {
  it('keeps the link of a stored record as it was (the hashed fields, in order, serialized as before)', () => {
    // Computed with the serialization before the list existed: stored chains must still verify.
    expect(hashAuditRecord(content)).toBe('83741cfad8d66ce055cdfcf1338df1070d4d445819a7c2f7a44e8ce1d0fc8adf');
    expect(macAuditRecord(content, key, 'sm3')).toBe('7d4487141865d0f08f5a8334eeb5f3fcc97415b987daab1fdf0b8b8365024249');
  });

  it('covers every hashed column: changing any one changes both links', () => {
    const base = { legacy: hashAuditRecord(content), mac: macAuditRecord(content, key, 'sm3') };
    for (const column of HASHED_AUDIT_COLUMNS) {
      const edited = { ...content, [column.field]: changed(content[column.field]) };
      expect({ column: column.column, legacy: hashAuditRecord(edited) === base.legacy, mac: macAuditRecord(edited, key, 'sm3') === base.mac }).toEqual({
        column: column.column,
        legacy: false,
        mac: false,
      });
    }
  });

  it('leaves only the position and the link itself unhashed', () => {
    // seq is bound by the prev_hash links; hash, mac_key_id and mac_alg are the link and its labels.
    expect(AUDIT_EVENT_COLUMNS.filter((c) => !c.hashed).map((c) => c.column)).toEqual(['seq', 'hash', 'mac_key_id', 'mac_alg']);
    expect(new Set(AUDIT_EVENT_COLUMNS.map((c) => c.column)).size).toBe(AUDIT_EVENT_COLUMNS.length);
  });
});

import type { CatalogReader } from '@yunying/catalog';
import type { DicomJsonObject } from '@yunying/dicom';
import { COLUMN_BY_TAG, DEFAULT_TAGS, INSTANCE_AVAILABILITY, RETRIEVE_URL, SPECIFIC_CHARACTER_SET, levelsUpTo, type QidoLevel } from './qido.attributes';
import { allColumns, parseQidoQuery, type QidoScope } from './qido.query';
import { runQidoQuery, type QidoRow } from './qido.repository';
import { attributeFromColumn, sortedByTag, withoutBulkData } from './dicom-json';
import { AccessAudit, type AccessOrigin } from './access-audit';

const STUDY_INSTANCE_UID = '0020000D';

export interface QidoResult {
  body: DicomJsonObject[];
  /** Set when the answer was cut at the cap and more results exist (PS3.18 8.3.4.4). */
  truncated: boolean;
}

const COMPUTED = new Set([SPECIFIC_CHARACTER_SET, INSTANCE_AVAILABILITY, RETRIEVE_URL]);

/**
 * QIDO-RS (PS3.18 10.6): studies, series and instances from catalog columns; attributes the catalog
 * has no column for come from the stored DICOM JSON. A query not scoped to a study (or series) also
 * returns the study (series) attributes (PS3.18 10.6.3.3.2).
 */
export class QidoService {
  constructor(
    /** Read-only: may be a streaming replica (a study stored a moment ago may not be listed yet). */
    private readonly reads: CatalogReader,
    private readonly audit: AccessAudit,
    /** `<public viewer URL>/dicomweb`, for RetrieveURL. */
    private readonly baseUrl: string,
  ) {}

  async search(origin: AccessOrigin, level: QidoLevel, scope: QidoScope, query: Record<string, unknown>): Promise<QidoResult> {
    const request = parseQidoQuery(level, query, scope);
    const returned = this.returnedTags(level, scope, request.include);
    const levels = new Set(levelsUpTo(level));
    const fromColumn = (tag: string): boolean => {
      const column = COLUMN_BY_TAG.get(tag);
      return column !== undefined && levels.has(column.level);
    };
    const extraTags = level === 'instance' && request.include === 'all' ? 'all' : returned.filter((t) => !fromColumn(t) && !COMPUTED.has(t));
    const rows = await runQidoQuery(this.reads, origin.principal, request, extraTags);
    const truncated = rows.length > request.limit && request.capped;
    const page = rows.slice(0, request.limit);
    if (page.length === 0 && scope.studyInstanceUid !== undefined) await this.audit.refusedIfForeign(origin, scope.studyInstanceUid, `qido-${level}`);
    await this.audit.query(origin, scope.studyInstanceUid ?? null, {
      level,
      keys: request.matchKeys,
      results: page.length,
      offset: request.offset,
      ...AccessAudit.returnedStudies(page.map((row) => row[STUDY_INSTANCE_UID])),
    });
    return { body: page.map((row) => this.toJson(level, row, returned, request.include === 'all')), truncated };
  }

  private returnedTags(level: QidoLevel, scope: QidoScope, include: Set<string> | 'all'): string[] {
    const tags = new Set<string>(DEFAULT_TAGS[level]);
    if (level !== 'study' && scope.studyInstanceUid === undefined) for (const t of DEFAULT_TAGS.study) tags.add(t);
    if (level === 'instance' && scope.seriesInstanceUid === undefined) for (const t of DEFAULT_TAGS.series) tags.add(t);
    if (include === 'all') for (const a of allColumns(level)) tags.add(a.tag);
    else for (const t of include) tags.add(t);
    return [...tags];
  }

  private toJson(level: QidoLevel, row: QidoRow, tags: string[], all: boolean): DicomJsonObject {
    const extra = row.extra === null ? {} : withoutBulkData(row.extra);
    const out: DicomJsonObject = all ? { ...extra } : {};
    const levels = new Set(levelsUpTo(level));
    for (const tag of tags) {
      const column = COLUMN_BY_TAG.get(tag);
      if (column !== undefined && levels.has(column.level)) {
        out[tag] = attributeFromColumn(column.vr, row[tag]);
      } else if (tag === SPECIFIC_CHARACTER_SET) {
        // Values are decoded to Unicode at ingest, whatever the instance's character set was.
        out[tag] = { vr: 'CS', Value: ['ISO_IR 192'] };
      } else if (tag === INSTANCE_AVAILABILITY) {
        out[tag] = { vr: 'CS', Value: ['ONLINE'] };
      } else if (tag === RETRIEVE_URL) {
        out[tag] = { vr: 'UR', Value: [this.retrieveUrl(level, row)] };
      } else {
        const attribute = extra[tag];
        if (attribute !== undefined) out[tag] = attribute;
      }
    }
    return sortedByTag(out);
  }

  private retrieveUrl(level: QidoLevel, row: QidoRow): string {
    const study = `${this.baseUrl}/studies/${String(row['0020000D'])}`;
    if (level === 'study') return study;
    const series = `${study}/series/${String(row['0020000E'])}`;
    if (level === 'series') return series;
    return `${series}/instances/${String(row['00080018'])}`;
  }
}

import { t } from '../app/i18n';
import { arr, bool, num, obj, str, strings } from '../app/json';

/** One of the patient's other studies, as GET /api/studies/{uid}/priors lists it. */
export interface PriorStudy {
  studyInstanceUid: string;
  studyDate: string | null;
  description: string | null;
  modalities: string[];
  bodyParts: string[];
  thyroid: boolean;
  clinic: string;
  earlier: boolean;
  relevant: boolean;
}

export interface Priors {
  studies: PriorStudy[];
  relevantPrior: string | null;
  notLinked: number;
  linked: boolean;
  /** The patient index has an open question about this person (an admin decides). */
  underReview: boolean;
}

export function parsePriors(body: unknown): Priors {
  const o = obj(body);
  return {
    studies: arr(o.studies).flatMap((value) => {
      const s = obj(value);
      const uid = str(s.studyInstanceUid);
      if (!uid) return [];
      return [
        {
          studyInstanceUid: uid,
          studyDate: str(s.studyDate),
          description: str(s.description),
          modalities: strings(s.modalities),
          bodyParts: strings(s.bodyParts),
          thyroid: bool(s.thyroid) ?? false,
          clinic: str(obj(s.clinic).name) ?? str(obj(s.clinic).code) ?? '',
          earlier: bool(s.earlier) ?? false,
          relevant: bool(s.relevant) ?? false,
        },
      ];
    }),
    relevantPrior: str(o.relevantPrior),
    notLinked: num(o.notLinked) ?? 0,
    linked: o.linkedOn !== null && o.linkedOn !== undefined,
    underReview: bool(o.identityUnderReview) ?? false,
  };
}

/** A nodule followed over the visits (GET /api/studies/{uid}/nodule-follow-up). */
export interface FollowedNodule {
  label: string;
  status: string;
  /** One per visit, oldest first: the size in mm ([long, short]) or null when not seen / not measured. */
  sizes: ({ long: number; short: number } | null)[];
  seen: boolean[];
  /** ACR growth since the previous / the first measurement. */
  grownSincePrevious: boolean;
  grownSinceFirst: boolean;
}

export interface FollowUp {
  visits: { studyInstanceUid: string; studyDate: string | null; aiResult: boolean }[];
  nodules: FollowedNodule[];
  rule: string;
}

export function parseFollowUp(body: unknown): FollowUp {
  const o = obj(body);
  return {
    visits: arr(o.visits).flatMap((value) => {
      const v = obj(value);
      const uid = str(v.studyInstanceUid);
      return uid ? [{ studyInstanceUid: uid, studyDate: str(v.studyDate), aiResult: bool(v.aiResult) ?? false }] : [];
    }),
    nodules: arr(o.nodules).map((value) => {
      const n = obj(value);
      const history = arr(n.history).map((h) => (h === null ? null : obj(h)));
      const growth = obj(n.growth);
      return {
        label: str(n.label) ?? '?',
        status: str(n.status) ?? 'unknown',
        sizes: history.map((h) => {
          const size = obj(h?.sizeMm);
          const long = num(size.long);
          const short = num(size.short);
          return long !== null && short !== null ? { long, short } : null;
        }),
        seen: history.map((h) => h !== null),
        grownSincePrevious: bool(obj(growth.sincePrevious).significant) ?? false,
        grownSinceFirst: bool(obj(growth.sinceFirst).significant) ?? false,
      };
    }),
    rule: str(o.rule) ?? '',
  };
}

/**
 * The prior's frame to show with the current study's frame `index` (of `count`): the same position in
 * the clip, so two sweeps of different length stay at the same place (first with first, last with last).
 */
export function syncedIndex(index: number, count: number, priorCount: number): number {
  if (priorCount <= 1 || count <= 1) return 0;
  if (count === priorCount) return Math.min(Math.max(0, index), priorCount - 1);
  return Math.min(priorCount - 1, Math.max(0, Math.round((index * (priorCount - 1)) / (count - 1))));
}

/** A followed nodule's status in words (the status itself stays the row's data-status). */
export function statusText(status: string): string {
  const text: Record<string, string> = {
    grown: t('Grown (ACR criteria)', '增大（ACR 标准）'),
    stable: t('Not grown', '未增大'),
    new: t('New since the prior', '较既往检查新发'),
    gone: t('Not found on this study', '本次检查未见'),
    unmeasured: t('Size not measured (image not calibrated)', '未测量大小（图像未校准）'),
  };
  return text[status] ?? t('Unknown', '未知');
}

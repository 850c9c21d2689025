import {
  isAiPriority,
  isAiResultStatus,
  type AiPriority,
  type AiResultStatus,
  type AiResultView,
  type AiResultsView,
  type AiScoredImageView,
  type NoduleFinding,
} from '@yunying/nodule-model/ai-result-view';
import { arr, bool, num, obj, str } from '../app/json';

/**
 * An AI triage result as GET /api/studies/{uid}/ai returns it (the wire contract AiResultView,
 * @yunying/nodule-model/ai-result-view; images as services/inference/src/triage/result.ts writes them, most
 * suspicious first). Shown beside the image; copied into the report only when the reader clicks "Fill from AI"
 * (ai-prefill.ts).
 */
export interface AiResult {
  id: string;
  current: boolean;
  modelId: string;
  modelVersion: string;
  /** 'unknown' only if the server sent a status this page was built without. */
  status: AiResultStatus | 'unknown';
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: AiPriority | null;
  images: AiImage[];
}

/**
 * The members of a wire type, each still to be checked: reading `o.member` through it is a compile error when the
 * contract has no such member, while the value itself is narrowed as usual (the response is still unknown JSON).
 */
type Unchecked<T> = { [K in keyof T]?: unknown };

export interface AiImage {
  sopInstanceUid: string;
  seriesInstanceUid: string | null;
  score: number;
  category: string | null;
  /** 1-based. */
  frameNumber: number;
  box: Rect | null;
  outline: [number, number][];
  located: boolean;
  /** The model's nodules on that frame, most suspicious first (services/inference result shape, #13). */
  nodules: AiNodule[];
}

/** One nodule in ACR TI-RADS terms (packages/nodule-model/src/tirads.ts NoduleFinding). */
export interface AiNodule {
  index: number;
  source: string;
  /** 'calipers' when the box came from the sonographer's caliper marks, null when the finder located it. */
  locatedBy: string | null;
  confidence: number;
  score: number;
  box: Rect | null;
  outline: [number, number][];
  lexicon: { item: string; code: string; label: string; points: number; confidence: number; basis: string }[];
  tiradsPoints: number;
  trLevel: string;
  sizeMm: { long: number; short: number } | null;
  /** The measurements behind the categories (model 3+): name -> value. Empty for older results. */
  measured: Record<string, number>;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

function rect(value: unknown): Rect | null {
  const o = obj(value);
  const x = num(o.x);
  const y = num(o.y);
  const width = num(o.width);
  const height = num(o.height);
  return x !== null && y !== null && width !== null && height !== null ? { x, y, width, height } : null;
}

function points(value: unknown): [number, number][] {
  return arr(value).flatMap((p) => {
    const [x, y] = arr(p).map(num);
    return x !== null && x !== undefined && y !== null && y !== undefined ? [[x, y] as [number, number]] : [];
  });
}

export function parseNodule(value: unknown): AiNodule | null {
  const o: Unchecked<NoduleFinding> = obj(value);
  const score = num(o.score);
  const trLevel = str(o.trLevel);
  if (score === null || !trLevel) return null;
  const size = obj(o.sizeMm);
  const long = num(size.long);
  const short = num(size.short);
  return {
    index: num(o.index) ?? 1,
    source: str(o.source) ?? 'auto',
    locatedBy: str(o.locatedBy) ?? null,
    confidence: num(o.confidence) ?? 0,
    score,
    box: rect(o.box),
    outline: points(o.outline),
    lexicon: arr(o.lexicon).flatMap((l) => {
      const x = obj(l);
      const item = str(x.item);
      const code = str(x.code);
      const p = num(x.points);
      return item && code && p !== null ? [{ item, code, label: str(x.label) ?? code, points: p, confidence: num(x.confidence) ?? 0, basis: str(x.basis) ?? 'model' }] : [];
    }),
    tiradsPoints: num(o.tiradsPoints) ?? 0,
    trLevel,
    sizeMm: long !== null && short !== null ? { long, short } : null,
    measured: Object.fromEntries(
      Object.entries(obj(o.measured)).flatMap(([k, v]) => {
        const n = num(v);
        return n === null ? [] : [[k, n] as [string, number]];
      }),
    ),
  };
}

/** `located` was written by models before triage v2 (#13); current ones locate whenever they list nodules. */
function image(value: Unchecked<AiScoredImageView & { located: boolean }>): AiImage | null {
  const sopInstanceUid = str(value.sopInstanceUid);
  const score = num(value.score);
  if (str(value.status) !== 'scored' || !sopInstanceUid || score === null) return null;
  return {
    sopInstanceUid,
    seriesInstanceUid: str(value.seriesInstanceUid),
    score,
    category: str(value.category),
    frameNumber: Math.max(1, num(value.frameNumber) ?? 1),
    box: rect(value.box),
    outline: points(value.outline),
    located: arr(value.nodules).length > 0 || (bool(value.located) ?? false),
    nodules: arr(value.nodules).flatMap((n) => {
      const parsed = parseNodule(n);
      return parsed ? [parsed] : [];
    }),
  };
}

export function parseAiResults(body: unknown): AiResult[] {
  const response: Unchecked<AiResultsView> = obj(body);
  return arr(response.results).flatMap((value) => {
    const o: Unchecked<AiResultView> = obj(value);
    const id = str(o.id);
    const model: Unchecked<AiResultView['model']> = obj(o.model);
    if (!id) return [];
    return [
      {
        id,
        current: bool(o.current) ?? false,
        modelId: str(model.id) ?? 'unknown',
        modelVersion: str(model.version) ?? 'unknown',
        status: isAiResultStatus(o.status) ? o.status : 'unknown',
        reason: str(o.reason),
        score: num(o.score),
        category: str(o.category),
        priority: isAiPriority(o.priority) ? o.priority : null,
        images: arr(o.images)
          .map((i) => image(obj(i)))
          .filter((i): i is AiImage => i !== null)
          .sort((a, b) => b.score - a.score),
      },
    ];
  });
}

/** The result the queue order comes from, else the newest. */
export function currentResult(results: AiResult[]): AiResult | null {
  return results.find((r) => r.current) ?? results[0] ?? null;
}

import { arr, bool, num, obj, str, type JsonObject } from '../app/json';

/**
 * An AI triage result as GET /api/studies/{uid}/ai returns it (services/inference/src/triage/result.ts:
 * images most suspicious first). Shown beside the image and never copied into the report.
 */
export interface AiResult {
  id: string;
  current: boolean;
  modelId: string;
  modelVersion: string;
  status: string;
  reason: string | null;
  score: number | null;
  category: string | null;
  priority: string | null;
  images: AiImage[];
}

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
  descriptors: { name: string; feature: string | null; value: number; contribution: number | null }[];
  frameScores: { frameNumber: number; score: number }[];
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

function image(value: JsonObject): AiImage | null {
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
    outline: arr(value.outline).flatMap((p) => {
      const [x, y] = arr(p).map(num);
      return x !== null && x !== undefined && y !== null && y !== undefined ? [[x, y] as [number, number]] : [];
    }),
    located: bool(value.located) ?? false,
    descriptors: arr(value.descriptors).flatMap((d) => {
      const o = obj(d);
      const name = str(o.name);
      const v = num(o.value);
      return name && v !== null ? [{ name, feature: str(o.tiradsFeature), value: v, contribution: num(o.contribution) }] : [];
    }),
    frameScores: arr(value.frameScores).flatMap((f) => {
      const o = obj(f);
      const frameNumber = num(o.frameNumber);
      const s = num(o.score);
      return frameNumber !== null && s !== null ? [{ frameNumber, score: s }] : [];
    }),
  };
}

export function parseAiResults(body: unknown): AiResult[] {
  return arr(obj(body).results).flatMap((value) => {
    const o = obj(value);
    const id = str(o.id);
    const model = obj(o.model);
    if (!id) return [];
    return [
      {
        id,
        current: bool(o.current) ?? false,
        modelId: str(model.id) ?? 'unknown',
        modelVersion: str(model.version) ?? 'unknown',
        status: str(o.status) ?? 'unknown',
        reason: str(o.reason),
        score: num(o.score),
        category: str(o.category),
        priority: str(o.priority),
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

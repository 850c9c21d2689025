import type { JsonObject } from '../app/json';
import type { AiResult } from './ai-result';
import { numberAt, parseInstance, stringAt, type InstanceMeta } from './metadata';

/**
 * What the viewer asks for and shows first when a study opens, decided from the server's answers alone. The
 * viewer (study-loading.ts, series-frames.ts) and the early reads of a study opened by its address
 * (study-prefetch.ts, in the app's entry, before the viewer's code has loaded) both use these, so the early
 * reads are exactly the requests the viewer then makes: nothing is read, and audited, twice or in vain.
 * No cornerstone here: this module is in the entry script.
 */

export interface SeriesInfo {
  uid: string;
  modality: string;
  description: string;
  instances: number;
}

/** Series without pixels of the patient (reports, key objects, presentation states): not offered as images. */
export const NO_PIXELS = new Set(['SR', 'KO', 'PR', 'DOC', 'SEG']);

/**
 * The Accept of a frame read: decompressed to Explicit VR Little Endian (PS3.18 8.7.3.5.2), so the browser needs
 * no codec (image-loader.ts).
 */
export const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1';

export function studyPath(studyUid: string, ...rest: string[]): string {
  return ['/dicomweb/studies', studyUid, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');
}

/** The series of a QIDO-RS series answer that hold images, in the order the archive lists them. */
export function imageSeriesOf(json: JsonObject[]): SeriesInfo[] {
  return json
    .map((s) => ({ uid: stringAt(s, '0020000E') ?? '', modality: stringAt(s, '00080060') ?? '', description: stringAt(s, '0008103E') ?? '', instances: numberAt(s, '00201209') ?? 0 }))
    .filter((s) => s.uid !== '' && !NO_PIXELS.has(s.modality));
}

/** The series shown first: the one of the AI's most suspicious image, else the first. */
export function firstSeries(series: readonly SeriesInfo[], ai: AiResult | null): SeriesInfo | undefined {
  const best = ai?.images[0];
  return series.find((s) => s.uid === best?.seriesInstanceUid) ?? series[0];
}

/** A series' instances that carry an image, in instance order (ties keep the metadata's order). */
export function instancesInOrder(metadata: readonly JsonObject[]): { meta: InstanceMeta; json: JsonObject }[] {
  const parsed = metadata.flatMap((json) => {
    const meta = parseInstance(json);
    return meta ? [{ meta, json }] : [];
  });
  return parsed.sort((a, b) => a.meta.instanceNumber - b.meta.instanceNumber);
}

export function seriesMetadataPath(studyUid: string, seriesUid: string): string {
  return studyPath(studyUid, 'series', seriesUid, 'metadata');
}

/** The instance list asks for each instance's stored transfer syntax (whether its frames come transcoded). */
export function seriesInstancesPath(studyUid: string, seriesUid: string): string {
  return `${studyPath(studyUid, 'series', seriesUid, 'instances')}?includefield=00083002`;
}

export function framePath(studyUid: string, seriesUid: string, sopInstanceUid: string, frameNumber: number): string {
  return studyPath(studyUid, 'series', seriesUid, 'instances', sopInstanceUid, 'frames', String(frameNumber));
}

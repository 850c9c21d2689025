import { request } from '../app/api';
import { DICOM_JSON_ACCEPT } from '../app/dicom-json-accept';
import { arr, obj, type JsonObject } from '../app/json';
import { frameImageId, registerFrame } from './image-loader';
import { numberAt, parseInstance, stringAt, type PixelSpacing } from './metadata';

export interface FrameRef {
  imageId: string;
  sopInstanceUid: string;
  frameNumber: number;
}

export interface SeriesInfo {
  uid: string;
  modality: string;
  description: string;
  instances: number;
}

/** Series without pixels of the patient (reports, key objects, presentation states): not offered as images. */
export const NO_PIXELS = new Set(['SR', 'KO', 'PR', 'DOC', 'SEG']);
const DICOM_JSON = { accept: DICOM_JSON_ACCEPT };

export async function dicomJson(path: string, signal: AbortSignal): Promise<JsonObject[]> {
  const res = await request('GET', path, { headers: DICOM_JSON, signal });
  return arr(await res.json()).map(obj);
}

export function studyPath(studyUid: string, ...rest: string[]): string {
  return ['/dicomweb/studies', studyUid, ...rest].map((p, i) => (i === 0 ? p : encodeURIComponent(p))).join('/');
}

/** The study's series that hold images (QIDO-RS), in the order the archive lists them. */
export async function imageSeries(studyUid: string, signal: AbortSignal): Promise<SeriesInfo[]> {
  const json = await dicomJson(studyPath(studyUid, 'series'), signal);
  return json
    .map((s) => ({ uid: stringAt(s, '0020000E') ?? '', modality: stringAt(s, '00080060') ?? '', description: stringAt(s, '0008103E') ?? '', instances: numberAt(s, '00201209') ?? 0 }))
    .filter((s) => s.uid !== '' && !NO_PIXELS.has(s.modality));
}

/** Frames of a series in instance order, registered with the image loader. */
export async function seriesFrames(studyUid: string, seriesUid: string, signal: AbortSignal): Promise<{ frames: FrameRef[]; spacing: PixelSpacing | null; fps: number | null }> {
  const [metadata, instances] = await Promise.all([
    dicomJson(studyPath(studyUid, 'series', seriesUid, 'metadata'), signal),
    dicomJson(`${studyPath(studyUid, 'series', seriesUid, 'instances')}?includefield=00083002`, signal),
  ]);
  const syntaxOf = new Map(instances.map((i) => [stringAt(i, '00080018'), stringAt(i, '00083002')]));
  const parsed = metadata.flatMap((json) => {
    const meta = parseInstance(json);
    return meta ? [{ meta, json }] : [];
  });
  parsed.sort((a, b) => a.meta.instanceNumber - b.meta.instanceNumber);
  const frames: FrameRef[] = [];
  for (const { meta } of parsed) {
    for (let n = 1; n <= meta.pixel.numberOfFrames; n++) {
      const url = studyPath(studyUid, 'series', seriesUid, 'instances', meta.sopInstanceUid, 'frames', String(n));
      const imageId = frameImageId(url);
      registerFrame(imageId, { url, pixel: meta.pixel, storedTransferSyntax: syntaxOf.get(meta.sopInstanceUid) ?? null, signal });
      frames.push({ imageId, sopInstanceUid: meta.sopInstanceUid, frameNumber: n });
    }
  }
  // Cine Rate (0018,0040) or Frame Time (0018,1063, ms) of the first multi-frame instance.
  const cine = parsed.find((p) => p.meta.pixel.numberOfFrames > 1)?.json;
  const rate = cine ? (numberAt(cine, '00180040') ?? (numberAt(cine, '00181063') ? 1000 / (numberAt(cine, '00181063') ?? 1000) : null)) : null;
  return { frames, spacing: parsed[0]?.meta.pixel.spacing ?? null, fps: rate && rate > 0 && rate <= 120 ? Math.round(rate) : null };
}

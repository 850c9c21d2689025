import { request } from '../app/api';
import { DICOM_JSON_ACCEPT } from '../app/dicom-json-accept';
import { arr, obj, type JsonObject } from '../app/json';
import { frameImageId, registerFrame } from './image-loader';
import { framePath, imageSeriesOf, instancesInOrder, seriesInstancesPath, seriesMetadataPath, studyPath, type SeriesInfo } from './first-view';
import { numberAt, stringAt, type PixelSpacing } from './metadata';

export type { SeriesInfo } from './first-view';

export interface FrameRef {
  imageId: string;
  sopInstanceUid: string;
  frameNumber: number;
}

const DICOM_JSON = { accept: DICOM_JSON_ACCEPT };

export async function dicomJson(path: string, signal: AbortSignal): Promise<JsonObject[]> {
  const res = await request('GET', path, { headers: DICOM_JSON, signal });
  return arr(await res.json()).map(obj);
}

/** The study's series that hold images (QIDO-RS), in the order the archive lists them. */
export async function imageSeries(studyUid: string, signal: AbortSignal): Promise<SeriesInfo[]> {
  return imageSeriesOf(await dicomJson(studyPath(studyUid, 'series'), signal));
}

/** Frames of a series in instance order, registered with the image loader. */
export async function seriesFrames(studyUid: string, seriesUid: string, signal: AbortSignal): Promise<{ frames: FrameRef[]; spacing: PixelSpacing | null; fps: number | null }> {
  const [metadata, instances] = await Promise.all([
    dicomJson(seriesMetadataPath(studyUid, seriesUid), signal),
    dicomJson(seriesInstancesPath(studyUid, seriesUid), signal),
  ]);
  const syntaxOf = new Map(instances.map((i) => [stringAt(i, '00080018'), stringAt(i, '00083002')]));
  const parsed = instancesInOrder(metadata);
  const frames: FrameRef[] = [];
  for (const { meta } of parsed) {
    for (let n = 1; n <= meta.pixel.numberOfFrames; n++) {
      const url = framePath(studyUid, seriesUid, meta.sopInstanceUid, n);
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

import { prefetch, prefetchedJson } from '../app/api';
import { DICOM_JSON_ACCEPT } from '../app/dicom-json-accept';
import { arr, obj } from '../app/json';
import { currentResult, parseAiResults } from './ai-result';
import { FRAME_ACCEPT, firstSeries, framePath, imageSeriesOf, instancesInOrder, seriesInstancesPath, seriesMetadataPath, studyPath } from './first-view';

/**
 * A study opened by its address (a link, a reload, the queue in a new tab): the reads the viewer starts with
 * leave as soon as the user is known to be a radiologist, while the viewer's chunk loads and evaluates, instead
 * of after it. First the five that need nothing (series, AI result, report, key images, banner); once the series
 * and the AI result are in, the metadata and instance list of the series the viewer will show; once that
 * metadata is in, the frame it will draw first. The choices are the viewer's own (first-view.ts), and the viewer
 * takes each answer once (api.ts `request`), so no read is made, or audited, twice. Any step that fails leaves
 * the rest to the viewer, which asks again and reports the error itself.
 */
export function prefetchStudy(studyUid: string): void {
  const api = `/api/studies/${encodeURIComponent(studyUid)}`;
  const seriesPath = studyPath(studyUid, 'series');
  const aiPath = `${api}/ai`;
  prefetch([
    { path: seriesPath, accept: DICOM_JSON_ACCEPT, peek: true },
    { path: aiPath, accept: 'application/json', peek: true },
    ...['report', 'key-images', 'banner'].map((what) => ({ path: `${api}/${what}`, accept: 'application/json' })),
  ]);
  void prefetchFirstImage(studyUid, seriesPath, aiPath).catch(() => undefined);
}

async function prefetchFirstImage(studyUid: string, seriesPath: string, aiPath: string): Promise<void> {
  const [seriesJson, aiJson] = await Promise.all([prefetchedJson(seriesPath, DICOM_JSON_ACCEPT), prefetchedJson(aiPath, 'application/json')]);
  if (seriesJson === null) return;
  // A failed AI read is no result to the viewer too (ai-panel-wiring.ts): it shows the first series.
  const series = firstSeries(imageSeriesOf(arr(seriesJson).map(obj)), aiJson === null ? null : currentResult(parseAiResults(aiJson)));
  if (!series) return;
  const metadataPath = seriesMetadataPath(studyUid, series.uid);
  prefetch([
    { path: metadataPath, accept: DICOM_JSON_ACCEPT, peek: true },
    { path: seriesInstancesPath(studyUid, series.uid), accept: DICOM_JSON_ACCEPT },
  ]);
  const metadata = await prefetchedJson(metadataPath, DICOM_JSON_ACCEPT);
  if (metadata === null) return;
  // The viewer opens a series at its first frame in instance order (study-loading.ts, series-display.ts).
  const first = instancesInOrder(arr(metadata).map(obj))[0];
  if (!first) return;
  prefetch([{ path: framePath(studyUid, series.uid, first.meta.sopInstanceUid, 1), accept: FRAME_ACCEPT }]);
}

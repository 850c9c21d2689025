/**
 * Millimetres per pixel of an ultrasound frame, for nodule sizes: the tissue region's PhysicalDeltaX/Y
 * of SequenceOfUltrasoundRegions (PS3.3 C.8.5.5.1; units code 3 = cm), else PixelSpacing (row, column
 * spacing in mm). Null when the frame is not calibrated: sizes are then not reported at all.
 */
type DicomJson = Record<string, { Value?: unknown[] } | undefined>;

function num(item: DicomJson, tag: string): number | undefined {
  const v = item[tag]?.Value?.[0];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function pixelSizeMm(json: DicomJson): { x: number; y: number } | null {
  for (const raw of json['00186011']?.Value ?? []) {
    if (typeof raw !== 'object' || raw === null) continue;
    const item = raw as DicomJson;
    const dx = num(item, '0018602C');
    const dy = num(item, '0018602E');
    if (num(item, '00186024') === 3 && num(item, '00186026') === 3 && dx !== undefined && dy !== undefined && dx > 0 && dy > 0) {
      return { x: Math.abs(dx) * 10, y: Math.abs(dy) * 10 };
    }
  }
  const spacing = json['00280030']?.Value;
  const row = typeof spacing?.[0] === 'number' ? spacing[0] : undefined;
  const col = typeof spacing?.[1] === 'number' ? spacing[1] : undefined;
  return row !== undefined && col !== undefined && row > 0 && col > 0 ? { x: col, y: row } : null;
}

import fs from 'node:fs';
import path from 'node:path';
import { corrupt, makeInstance } from '@yunying/dicom/testing';
import { sharedDataDir } from '../support/skip';

export interface Seed {
  name: string;
  bytes: Buffer;
}

/**
 * Generated seeds: what the archive mostly receives (thyroid US, single and multi-frame, JPEG baseline,
 * GB18030 names, the ultrasound regions sequence) plus Implicit VR, RLE, 16-bit and a nested sequence
 * within the limit. UIDs derive from `tag` so the same tag gives the same bytes.
 */
export function generatedSeeds(tag = 'fuzz'): Seed[] {
  const s = (name: string, bytes: Buffer): Seed => ({ name: `gen:${name}`, bytes });
  return [
    s('us-single', makeInstance({ seed: `${tag}/1`, rows: 16, columns: 16 })),
    s('us-multiframe', makeInstance({ seed: `${tag}/2`, rows: 8, columns: 12, frames: 4 })),
    s('us-regions', makeInstance({ seed: `${tag}/3`, rows: 16, columns: 16, sequenceOfUltrasoundRegions: true })),
    s('jpeg-baseline', makeInstance({ seed: `${tag}/4`, rows: 16, columns: 16, transferSyntax: '1.2.840.10008.1.2.4.50', photometric: 'YBR_FULL' })),
    s('jpeg-multiframe', makeInstance({ seed: `${tag}/5`, rows: 16, columns: 16, frames: 3, transferSyntax: '1.2.840.10008.1.2.4.50', fragmentsPerFrame: 2 })),
    s('gb18030', makeInstance({ seed: `${tag}/6`, rows: 8, columns: 8, charset: 'GB18030', patientName: '王^小明', studyDescription: '甲状腺超声' })),
    s('implicit', makeInstance({ seed: `${tag}/7`, rows: 8, columns: 8, transferSyntax: '1.2.840.10008.1.2', sequenceOfUltrasoundRegions: true })),
    s('rle-rgb', makeInstance({ seed: `${tag}/8`, rows: 8, columns: 8, photometric: 'RGB', transferSyntax: '1.2.840.10008.1.2.5' })),
    s('mono16', makeInstance({ seed: `${tag}/9`, rows: 8, columns: 8, bitsAllocated: 16, bitsStored: 12 })),
    s('nested-8', corrupt.deepNesting(8, { seed: `${tag}/10`, rows: 8, columns: 8 })),
  ];
}

/**
 * Real files from the shared data folder, smallest first, up to `limit` files and `maxBytes` each;
 * [] when the folder is absent (the fuzzer then runs on generated seeds only).
 */
export function realSeeds(limit: number, maxBytes = 2 * 1024 * 1024): Seed[] {
  const root = sharedDataDir('dicom');
  if (root === null) return [];
  const files: { file: string; size: number }[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() ?? '';
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) {
        const size = fs.statSync(full).size;
        if (size >= 132 && size <= maxBytes) files.push({ file: full, size });
      }
    }
  }
  files.sort((a, b) => a.size - b.size || a.file.localeCompare(b.file));
  const out: Seed[] = [];
  for (const { file } of files) {
    if (out.length >= limit) break;
    const bytes = fs.readFileSync(file);
    if (bytes.toString('latin1', 128, 132) !== 'DICM') continue; // inventories, licences, raw datasets
    out.push({ name: `real:${path.relative(root, file)}`, bytes });
  }
  return out;
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TransferSyntax } from '@yunying/dicom';
import { makeInstance, uidFromSeed, type InstanceOptions } from '@yunying/dicom/testing';
import { pick, prng } from './stats';

/**
 * The benchmark corpus: realistic thyroid-ultrasound studies plus a few CT, generated deterministically
 * from (studies, seed), so every run and both systems get the same bytes.
 *
 * Shape (per study, drawn from the seeded PRNG): one of CLINICS clinics; a patient of that clinic (some
 * patients have several studies); a StudyDate in 2024; 3-10 US instances from one device: 640x480 or
 * 800x600; JPEG Baseline (MONOCHROME2 or YBR_FULL) or uncompressed (RGB or MONOCHROME2); 75 % single
 * frames, 25 % cine loops (JPEG: 10-60 frames; uncompressed: 2-20 frames, as uncompressed cine is rarely
 * sent whole). Every 50th study is CT: 4 instances of 512x512, 16-bit MONOCHROME2.
 *
 * Limits: the JPEG frames come from the fixture encoder (@yunying/dicom/testing), which codes 8x8 flat
 * blocks, so JPEG instances are smaller than a scanner's (about 10-30 KB per frame instead of 40-80 KB).
 */
export const CLINICS = 20;
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export interface CorpusInstance {
  file: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  frames: number;
  transferSyntax: string;
  photometric: string;
  rows: number;
  columns: number;
  bytes: number;
}

export interface CorpusStudy {
  studyInstanceUid: string;
  clinic: number;
  patientId: string;
  studyDate: string;
  modality: 'US' | 'CT';
  instances: CorpusInstance[];
}

export interface Corpus {
  dir: string;
  seed: string;
  studies: CorpusStudy[];
  instances: number;
  bytes: number;
}

export function clinicCode(index: number): string {
  return `bench-c${String(index).padStart(2, '0')}`;
}

export function defaultCorpusDir(studies: number, seed: string): string {
  return path.join(os.tmpdir(), `yunying-bench-corpus-${seed}-${studies}`);
}

function dateOf(dayOfYear: number): string {
  const d = new Date(Date.UTC(2024, 0, 1 + dayOfYear));
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** Deterministic plan of the corpus (no bytes): the same (studies, seed) always gives the same plan. */
function plan(studies: number, seed: string): { study: Omit<CorpusStudy, 'instances'>; instances: (InstanceOptions & { name: string })[] }[] {
  const random = prng(seed);
  const out: ReturnType<typeof plan> = [];
  const patientsPerClinic = Math.max(1, Math.ceil((studies * 0.7) / CLINICS));
  for (let s = 0; s < studies; s += 1) {
    const clinic = s % CLINICS;
    const patientId = `BP${String(clinic).padStart(2, '0')}-${String(Math.floor(random() * patientsPerClinic)).padStart(5, '0')}`;
    const studyDate = dateOf(Math.floor(random() * 366));
    const studyInstanceUid = uidFromSeed(`${seed}/study/${s}`);
    const common: InstanceOptions = {
      studyInstanceUid,
      patientId,
      patientName: `BENCH^PATIENT${patientId.slice(2)}`,
      studyDate,
      accessionNumber: `A${String(s).padStart(7, '0')}`,
      extra: { InstitutionName: `Bench clinic ${clinic}` },
    };
    const isCt = s % 50 === 49;
    const instances: (InstanceOptions & { name: string })[] = [];
    if (isCt) {
      const seriesInstanceUid = uidFromSeed(`${seed}/series/${s}/ct`);
      for (let i = 0; i < 4; i += 1) {
        instances.push({
          ...common,
          name: `s${s}-i${i}`,
          seriesInstanceUid,
          sopInstanceUid: uidFromSeed(`${seed}/instance/${s}/${i}`),
          sopClassUid: CT_IMAGE_STORAGE,
          modality: 'CT',
          studyDescription: 'CT Neck',
          seriesDescription: 'Axial',
          rows: 512,
          columns: 512,
          bitsAllocated: 16,
          bitsStored: 12,
          photometric: 'MONOCHROME2',
          instanceNumber: i + 1,
          extra: { ...common.extra, RescaleIntercept: '-1024', RescaleSlope: '1', WindowCenter: '40', WindowWidth: '400' },
        });
      }
      out.push({ study: { studyInstanceUid, clinic, patientId, studyDate, modality: 'CT' }, instances });
      continue;
    }
    const seriesInstanceUid = uidFromSeed(`${seed}/series/${s}/us`);
    const large = random() < 0.3;
    const jpeg = random() < 0.5;
    const count = 3 + Math.floor(random() * 8);
    for (let i = 0; i < count; i += 1) {
      const cine = random() < 0.25;
      const colour = random() < 0.6;
      const frames = cine ? (jpeg ? 10 + Math.floor(random() * 51) : 2 + Math.floor(random() * 19)) : 1;
      instances.push({
        ...common,
        name: `s${s}-i${i}`,
        seriesInstanceUid,
        sopInstanceUid: uidFromSeed(`${seed}/instance/${s}/${i}`),
        modality: 'US',
        studyDescription: 'US Thyroid',
        seriesDescription: 'Thyroid',
        rows: large ? 600 : 480,
        columns: large ? 800 : 640,
        frames,
        photometric: jpeg ? (colour ? 'YBR_FULL' : 'MONOCHROME2') : colour ? 'RGB' : 'MONOCHROME2',
        transferSyntax: jpeg ? TransferSyntax.JPEGBaseline : TransferSyntax.ExplicitVRLittleEndian,
        sequenceOfUltrasoundRegions: true,
        instanceNumber: i + 1,
        pixelPattern: speckle(pick(random, [3, 5, 7, 11])),
      });
    }
    out.push({ study: { studyInstanceUid, clinic, patientId, studyDate, modality: 'US' }, instances });
  }
  return out;
}

/** A cheap ultrasound-like texture: a bright elliptic region over speckle, different per frame. */
function speckle(grain: number): NonNullable<InstanceOptions['pixelPattern']> {
  return (frame, row, column, sample) => {
    const dy = (row - 240) / 180;
    const dx = (column - 320) / 260;
    const inside = dx * dx + dy * dy < 1 ? 90 : 20;
    const noise = ((row * 2654435761) ^ (column * 40503) ^ (frame * 97)) >>> 0;
    return (inside + ((noise >>> grain) & 63) + sample * 4) & 0xff;
  };
}

const MANIFEST = 'manifest.json';

/** Loads the corpus from `dir`, generating it first when absent or made from other parameters. */
export function ensureCorpus(studies: number, seed: string, dir = defaultCorpusDir(studies, seed), log: (line: string) => void = () => undefined): Corpus {
  const manifestPath = path.join(dir, MANIFEST);
  if (fs.existsSync(manifestPath)) {
    const existing = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Corpus;
    if (existing.seed === seed && existing.studies.length === studies) return { ...existing, dir };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const result: Corpus = { dir, seed, studies: [], instances: 0, bytes: 0 };
  const started = Date.now();
  for (const { study, instances } of plan(studies, seed)) {
    const stored: CorpusInstance[] = [];
    for (const { name, ...options } of instances) {
      const bytes = makeInstance(options);
      const file = `${name}.dcm`;
      fs.writeFileSync(path.join(dir, file), bytes);
      stored.push({
        file,
        sopInstanceUid: options.sopInstanceUid ?? '',
        seriesInstanceUid: options.seriesInstanceUid ?? '',
        frames: options.frames ?? 1,
        transferSyntax: options.transferSyntax ?? TransferSyntax.ExplicitVRLittleEndian,
        photometric: options.photometric ?? 'MONOCHROME2',
        rows: options.rows ?? 0,
        columns: options.columns ?? 0,
        bytes: bytes.length,
      });
      result.instances += 1;
      result.bytes += bytes.length;
    }
    result.studies.push({ ...study, instances: stored });
    if (result.studies.length % 20 === 0) log(`corpus: ${result.studies.length}/${studies} studies, ${(result.bytes / 1e6).toFixed(0)} MB, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  fs.writeFileSync(manifestPath, JSON.stringify(result));
  return result;
}

export function filesOf(corpus: Corpus, study: CorpusStudy): Buffer[] {
  return study.instances.map((i) => fs.readFileSync(path.join(corpus.dir, i.file)));
}

export function pathsOf(corpus: Corpus, study: CorpusStudy): string[] {
  return study.instances.map((i) => path.join(corpus.dir, i.file));
}

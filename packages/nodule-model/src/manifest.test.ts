import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError } from '@yunying/core';
import { defaultModelDir, loadModelManifest, parseManifest, sha256File } from './manifest';

describe('model manifest', () => {
  it('names the shipped model file by its sha256', () => {
    const manifest = loadModelManifest();
    expect(manifest.sha256).toBe(sha256File(path.join(defaultModelDir(), 'model.onnx')));
    expect(manifest.input.size).toBeGreaterThan(0);
    expect(manifest.descriptors.length).toBeGreaterThan(0);
    expect(manifest.thresholds.triage.value).toBeLessThan(manifest.thresholds.urgent.value);
  });

  it('refuses a model file that does not match its manifest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodule-model-'));
    try {
      fs.copyFileSync(path.join(defaultModelDir(), 'manifest.json'), path.join(dir, 'manifest.json'));
      const bytes = fs.readFileSync(path.join(defaultModelDir(), 'model.onnx'));
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      fs.writeFileSync(path.join(dir, 'model.onnx'), bytes);
      expect(() => loadModelManifest(dir)).toThrow(PermanentError);
      expect(() => loadModelManifest(dir)).toThrow(/sha256/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a missing manifest', () => {
    expect(() => loadModelManifest(path.join(os.tmpdir(), 'no-such-model-dir'))).toThrow(PermanentError);
  });

  it('rejects malformed manifests and unsafe file names', () => {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(defaultModelDir(), 'manifest.json'), 'utf8'));
    expect(() => parseManifest({ ...(raw as object), file: '../../etc/passwd' }, '/tmp')).toThrow(/file/);
    expect(() => parseManifest({ ...(raw as object), sha256: 'abc' }, '/tmp')).toThrow(/sha256/);
    expect(() => parseManifest([], '/tmp')).toThrow(PermanentError);
  });
});

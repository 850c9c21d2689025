/** @jest-environment ./packages/nodule-model/ort.jest-environment.js */
/**
 * Against the real DDTI crops (shared data); skipped when the folder is absent.
 * Compares with what the training script recorded for the SHIPPED model (fit on all data), which is
 * the only thing this model can reproduce: the cross-validated (out-of-fold) figures come from the
 * fold models and are reported in the manifest and model card, not re-derivable here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeUnless, sharedDataDir } from '../../../test/support/skip';
import { evaluateFolder, formatReport } from './eval.service';
import { readGrayImage } from './image.repository';
import { defaultModelDir } from './manifest';
import { NoduleModel } from './nodule.model';

const ddti = sharedDataDir('thyroid/ddti');
const parity = JSON.parse(fs.readFileSync(path.join(defaultModelDir(), 'parity.json'), 'utf8')) as {
  ddti: { image: string; probability: number }[];
};

describeUnless(ddti === null ? 'shared data thyroid/ddti is absent' : null, 'nodule model on DDTI crops', () => {
  const folder = ddti ?? '';
  let model: NoduleModel;
  beforeAll(async () => {
    model = await NoduleModel.load();
  });
  afterAll(async () => {
    await model.close();
  });

  it.each(parity.ddti.map((d) => [d.image, d.probability] as const))(
    'agrees with PyTorch on %s within 1e-4 (sharp decode + TS preprocessing + ORT)',
    async (image, expected) => {
      const img = await readGrayImage(path.join(folder, image));
      const p = await model.predict(img.data, img.width, img.height);
      expect(Math.abs(p.probability - expected)).toBeLessThan(1e-4);
    },
  );

  it('reproduces the training-set-fit AUC recorded in the manifest', async () => {
    const report = await evaluateFolder(model, folder);
    const metrics = model.manifest.raw.metrics as { training_set_fit_auc: number; n_images: number };
    expect(report.metrics.n).toBe(metrics.n_images);
    expect(Math.abs(report.metrics.auc.value - metrics.training_set_fit_auc)).toBeLessThan(1e-3);
    expect(formatReport(report)).toMatch(/AUC {3}0\.\d{4} \(95% CI/);
  }, 180_000);
});

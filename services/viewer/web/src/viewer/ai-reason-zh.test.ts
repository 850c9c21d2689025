import { describe, expect, it } from '@jest/globals';
import { setLanguage } from '../app/i18n';
import { aiReasonText } from './ai-reason-zh';

/** Reasons as the inference service writes them (study.decision.ts, triage.service.ts, scope.ts). */
const SERVER = {
  attributes: 'not a thyroid study: BodyPartExamined names another body part (breast)',
  mapping: 'not a thyroid study: clinic mapping "PROTO-7"',
  noBMode: 'no B-mode ultrasound image to read: colour-Doppler or colour-overlay frames only (4 sampled)',
  gate: 'the images do not look like a B-mode thyroid ultrasound (thyroid likelihood 0.12, below the gate 0.41) and the study attributes name no body part',
  noNodule: 'no confident nodule on 3 image(s) (2 weak candidate(s) below the confidence threshold 0.5)',
  noNoduleBare: 'no confident nodule on 1 image(s)',
  partial: '2 image(s) not read (colour Doppler, no pixel data or failed); scored from the other 5',
  notUs: 'no ultrasound image in the study (modalities: CT, SR)',
};

describe('aiReasonText', () => {
  it('shows the server text as it is in English', () => {
    setLanguage('en');
    for (const reason of Object.values(SERVER)) expect(aiReasonText(reason)).toBe(reason);
  });

  it('says every known reason in Chinese with its figures', () => {
    setLanguage('zh');
    expect(aiReasonText(SERVER.attributes)).toBe('非甲状腺检查：BodyPartExamined 注明为其他部位（breast）');
    expect(aiReasonText(SERVER.mapping)).toBe('非甲状腺检查：机构映射“PROTO-7”');
    expect(aiReasonText(SERVER.noBMode)).toBe('没有可读的 B 型超声图像：仅有彩色多普勒或彩色叠加帧（抽查 4 帧）');
    expect(aiReasonText('no B-mode ultrasound image to read: the instance has no pixel data; something new')).toBe('没有可读的 B 型超声图像：该图像无像素数据；something new');
    expect(aiReasonText(SERVER.gate)).toBe('图像不像 B 型甲状腺超声（甲状腺可能性 0.12，低于门限 0.41），且检查属性未注明部位');
    expect(aiReasonText(SERVER.noNodule)).toBe('3 幅图像上均未发现可信结节（2 个弱候选低于置信度门限 0.5）');
    expect(aiReasonText(SERVER.noNoduleBare)).toBe('1 幅图像上均未发现可信结节');
    expect(aiReasonText(SERVER.partial)).toBe('2 幅图像未读取（彩色多普勒、无像素数据或读取失败）；由其余 5 幅评分');
    expect(aiReasonText(SERVER.notUs)).toBe('检查中没有超声图像（检查类型：CT, SR）');
    setLanguage('en');
  });

  it('shows a reason it does not know as the server wrote it', () => {
    setLanguage('zh');
    expect(aiReasonText('model session failed to load')).toBe('model session failed to load');
    setLanguage('en');
  });
});

import { language } from '../app/i18n';

/**
 * Why the triage did not score a study (or read only some of its images), in the reader's language. The
 * inference service writes these reasons in English (services/inference/src/triage/study.decision.ts,
 * triage.service.ts, packages/nodule-model/src/scope.ts); each known form is said again in Chinese with its
 * figures, and a reason this page does not know is shown as the server wrote it, so nothing is ever hidden.
 */
const RULES: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^not a thyroid study: (.*)$/s, (m) => `非甲状腺检查：${evidenceZh(m[1] ?? '')}`],
  [/^no B-mode ultrasound image to read(?:: (.*))?$/s, (m) => `没有可读的 B 型超声图像${m[1] ? `：${m[1].split('; ').map(imageReasonZh).join('；')}` : ''}`],
  [
    /^the images do not look like a B-mode thyroid ultrasound \(thyroid likelihood ([\d.]+), below the gate ([\d.]+)\) and the study attributes name no body part$/,
    (m) => `图像不像 B 型甲状腺超声（甲状腺可能性 ${m[1] ?? ''}，低于门限 ${m[2] ?? ''}），且检查属性未注明部位`,
  ],
  [
    /^no confident nodule on (\d+) image\(s\)(?: \((\d+) weak candidate\(s\) below the confidence threshold ([\d.]+)\))?$/,
    (m) => `${m[1] ?? ''} 幅图像上均未发现可信结节${m[2] ? `（${m[2]} 个弱候选低于置信度门限 ${m[3] ?? ''}）` : ''}`,
  ],
  [
    /^(\d+) image\(s\) not read \(colour Doppler, no pixel data or failed\); scored from the other (\d+)$/,
    (m) => `${m[1] ?? ''} 幅图像未读取（彩色多普勒、无像素数据或读取失败）；由其余 ${m[2] ?? ''} 幅评分`,
  ],
  [/^no ultrasound image in the study \(modalities: (.*)\)$/, (m) => `检查中没有超声图像（检查类型：${m[1] === 'none' ? '无' : (m[1] ?? '')}）`],
];

const EVIDENCE: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^(.+) names another body part \((.+)\)$/, (m) => `${m[1] ?? ''} 注明为其他部位（${m[2] ?? ''}）`],
  [/^(.+) names the thyroid or neck$/, (m) => `${m[1] ?? ''} 注明为甲状腺或颈部`],
  [/^clinic mapping "(.*)"$/, (m) => `机构映射“${m[1] ?? ''}”`],
  [/^no body part in the study attributes$/, () => '检查属性未注明部位'],
];

/** Why one image could not be read (analyse.ts), as listed inside a study's reason. */
const IMAGE: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^colour-Doppler or colour-overlay frames only \((\d+) sampled\)$/, (m) => `仅有彩色多普勒或彩色叠加帧（抽查 ${m[1] ?? ''} 帧）`],
  [/^the instance has no pixel data$/, () => '该图像无像素数据'],
];

function imageReasonZh(reason: string): string {
  return firstMatch(reason, IMAGE) ?? reason;
}

function firstMatch(text: string, rules: [RegExp, (m: RegExpExecArray) => string][]): string | null {
  for (const [pattern, say] of rules) {
    const m = pattern.exec(text);
    if (m) return say(m);
  }
  return null;
}

function evidenceZh(evidence: string): string {
  return firstMatch(evidence, EVIDENCE) ?? evidence;
}

export function aiReasonText(reason: string): string {
  if (language() !== 'zh') return reason;
  return firstMatch(reason, RULES) ?? reason;
}

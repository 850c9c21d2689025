import { h, replace } from '../app/dom';
import { t } from '../app/i18n';
import { statusText, type FollowUp, type Priors, type PriorStudy } from './priors';

function sizeText(size: { long: number; short: number } | null, seen: boolean): string {
  if (!seen) return '—';
  return size ? `${size.long.toFixed(1)} × ${size.short.toFixed(1)} mm` : t('seen, not measured', '可见，未测量');
}

/**
 * The patient's other studies (most recent first) with a button to open one beside the current study,
 * and for thyroid studies the AI nodules followed over the visits with ACR growth flagged.
 */
export function priorsPanel(onOpen: (study: PriorStudy) => void): {
  el: HTMLElement;
  showPriors: (priors: Priors | null, error?: string) => void;
  markOpen: (studyUid: string | null) => void;
  showFollowUp: (followUp: FollowUp | null, error?: string) => void;
} {
  const list = h('ul', { class: 'priors-list', 'data-testid': 'priors-list' });
  const note = h('p', { class: 'muted small' }, t('Loading…', '正在加载…'));
  const followUp = h('div', { 'data-testid': 'follow-up' });
  const el = h('section', { class: 'panel', 'data-testid': 'priors-panel' }, h('h2', {}, t('Priors', '既往检查')), note, list, followUp);
  const buttons = new Map<string, HTMLButtonElement>();

  return {
    el,
    showPriors(priors, error) {
      buttons.clear();
      if (!priors) {
        note.textContent = error ?? t('Priors could not be loaded.', '无法加载既往检查。');
        replace(list);
        return;
      }
      const notLinked =
        priors.notLinked > 0
          ? t(` ${priors.notLinked} more with this patient ID not linked (another issuer, or details that differ).`, `另有 ${priors.notLinked} 项该患者 ID 的检查未关联（签发机构不同或信息不一致）。`)
          : '';
      const review = priors.underReview ? t(' Identity under review by an administrator: some studies may belong to this patient.', '患者身份正由管理员审核：部分检查可能属于该患者。') : '';
      note.textContent =
        priors.studies.length === 0
          ? `${priors.linked ? t('No other study of this patient that you may see.', '该患者没有您可查看的其他检查。') : t('No patient ID: no other study is linked.', '无患者 ID：未关联其他检查。')}${notLinked}${review}`
          : `${t('Same person in the patient index, most recent first.', '患者索引中的同一人，按时间由近及远排列。')}${notLinked}${review}`;
      replace(
        list,
        ...priors.studies.map((s) => {
          const what = [s.studyDate ?? t('date unknown', '日期未知'), [...s.modalities, ...s.bodyParts].join(' ') || s.description || '', s.clinic].filter((p) => p !== '').join(' · ');
          const open = h('button', { type: 'button', class: 'link', 'data-prior': s.studyInstanceUid, 'aria-pressed': 'false' }, t('Open beside', '并排打开'));
          open.addEventListener('click', () => onOpen(s));
          buttons.set(s.studyInstanceUid, open);
          const tags = [s.earlier ? null : t('not earlier', '不早于本次'), s.thyroid ? t('thyroid', '甲状腺') : null, s.relevant ? t('relevant', '相关') : null].filter((tag): tag is string => tag !== null);
          return h('li', { 'data-testid': 'prior-study' }, what, tags.length > 0 ? h('span', { class: 'muted small' }, t(` (${tags.join(', ')})`, `（${tags.join('、')}）`)) : null, ' ', open);
        }),
      );
    },
    markOpen(studyUid) {
      for (const [uid, b] of buttons) b.setAttribute('aria-pressed', String(uid === studyUid));
    },
    showFollowUp(data, error) {
      if (!data) {
        replace(followUp, error ? h('p', { class: 'muted small' }, t(`Nodule follow-up: ${error}`, `结节随访：${error}`)) : null);
        return;
      }
      if (data.visits.length < 2) {
        replace(followUp);
        return;
      }
      const head = h(
        'tr',
        {},
        h('th', {}, t('Nodule', '结节')),
        ...data.visits.map((v, i) => h('th', {}, i === data.visits.length - 1 ? t(`Now (${v.studyDate ?? '?'})`, `本次（${v.studyDate ?? '?'}）`) : (v.studyDate ?? '?'))),
        h('th', {}, t('Growth', '增大')),
      );
      const rows = data.nodules.map((n) =>
        h(
          'tr',
          { 'data-testid': 'follow-up-nodule', 'data-status': n.status, class: n.status === 'grown' ? 'grown' : '' },
          h('td', {}, n.label),
          ...n.sizes.map((size, i) => h('td', {}, sizeText(size, n.seen[i] ?? false))),
          h('td', {}, statusText(n.status), n.status === 'grown' && !n.grownSincePrevious && n.grownSinceFirst ? t(' (since the first visit)', '（较首次检查）') : ''),
        ),
      );
      const missing = data.visits.filter((v) => !v.aiResult).map((v) => v.studyDate ?? '?');
      replace(
        followUp,
        h('h3', {}, t('Nodule follow-up (AI findings)', '结节随访（AI 所见）')),
        data.nodules.length === 0 ? h('p', { class: 'muted small' }, t('No AI nodule to follow on these visits.', '这些检查中没有可随访的 AI 结节。')) : h('table', { class: 'descriptors' }, h('thead', {}, head), h('tbody', {}, ...rows)),
        missing.length > 0 ? h('p', { class: 'muted small' }, t(`No AI result for: ${missing.join(', ')}.`, `以下检查无 AI 结果：${missing.join('、')}。`)) : null,
        h('p', { class: 'muted small' }, t(`Matched by position on the frame and size; check on the images. ${data.rule}.`, `按帧内位置和大小匹配，请在图像上核对。${data.rule}。`)),
      );
    },
  };
}

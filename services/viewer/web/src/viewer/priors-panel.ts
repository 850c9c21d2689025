import { h, replace } from '../app/dom';
import { statusText, type FollowUp, type Priors, type PriorStudy } from './priors';

function sizeText(size: { long: number; short: number } | null, seen: boolean): string {
  if (!seen) return '—';
  return size ? `${size.long.toFixed(1)} × ${size.short.toFixed(1)} mm` : 'seen, not measured';
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
  const note = h('p', { class: 'muted small' }, 'Loading…');
  const followUp = h('div', { 'data-testid': 'follow-up' });
  const el = h('section', { class: 'panel', 'data-testid': 'priors-panel' }, h('h2', {}, 'Priors'), note, list, followUp);
  const buttons = new Map<string, HTMLButtonElement>();

  return {
    el,
    showPriors(priors, error) {
      buttons.clear();
      if (!priors) {
        note.textContent = error ?? 'Priors could not be loaded.';
        replace(list);
        return;
      }
      const notLinked = priors.notLinked > 0 ? ` ${priors.notLinked} more with this patient ID not linked (another issuer, or details that differ).` : '';
      const review = priors.underReview ? ' Identity under review by an administrator: some studies may belong to this patient.' : '';
      note.textContent =
        priors.studies.length === 0
          ? `${priors.linked ? 'No other study of this patient that you may see.' : 'No patient ID: no other study is linked.'}${notLinked}${review}`
          : `Same person in the patient index, most recent first.${notLinked}${review}`;
      replace(
        list,
        ...priors.studies.map((s) => {
          const what = [s.studyDate ?? 'date unknown', [...s.modalities, ...s.bodyParts].join(' ') || s.description || '', s.clinic].filter((p) => p !== '').join(' · ');
          const open = h('button', { type: 'button', class: 'link', 'data-prior': s.studyInstanceUid, 'aria-pressed': 'false' }, 'Open beside');
          open.addEventListener('click', () => onOpen(s));
          buttons.set(s.studyInstanceUid, open);
          const tags = [s.earlier ? null : 'not earlier', s.thyroid ? 'thyroid' : null, s.relevant ? 'relevant' : null].filter((t): t is string => t !== null);
          return h('li', { 'data-testid': 'prior-study' }, what, tags.length > 0 ? h('span', { class: 'muted small' }, ` (${tags.join(', ')})`) : null, ' ', open);
        }),
      );
    },
    markOpen(studyUid) {
      for (const [uid, b] of buttons) b.setAttribute('aria-pressed', String(uid === studyUid));
    },
    showFollowUp(data, error) {
      if (!data) {
        replace(followUp, error ? h('p', { class: 'muted small' }, `Nodule follow-up: ${error}`) : null);
        return;
      }
      if (data.visits.length < 2) {
        replace(followUp);
        return;
      }
      const head = h('tr', {}, h('th', {}, 'Nodule'), ...data.visits.map((v, i) => h('th', {}, i === data.visits.length - 1 ? `Now (${v.studyDate ?? '?'})` : (v.studyDate ?? '?'))), h('th', {}, 'Growth'));
      const rows = data.nodules.map((n) =>
        h(
          'tr',
          { 'data-testid': 'follow-up-nodule', 'data-status': n.status, class: n.status === 'grown' ? 'grown' : '' },
          h('td', {}, n.label),
          ...n.sizes.map((size, i) => h('td', {}, sizeText(size, n.seen[i] ?? false))),
          h('td', {}, statusText(n.status), n.status === 'grown' && !n.grownSincePrevious && n.grownSinceFirst ? ' (since the first visit)' : ''),
        ),
      );
      const missing = data.visits.filter((v) => !v.aiResult).map((v) => v.studyDate ?? '?');
      replace(
        followUp,
        h('h3', {}, 'Nodule follow-up (AI findings)'),
        data.nodules.length === 0 ? h('p', { class: 'muted small' }, 'No AI nodule to follow on these visits.') : h('table', { class: 'descriptors' }, h('thead', {}, head), h('tbody', {}, ...rows)),
        missing.length > 0 ? h('p', { class: 'muted small' }, `No AI result for: ${missing.join(', ')}.`) : null,
        h('p', { class: 'muted small' }, `Matched by position on the frame and size; check on the images. ${data.rule}.`),
      );
    },
  };
}

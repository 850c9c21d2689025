import { h } from '../app/dom';
import type { MeasuredLine } from './tirads-state';
import type { Measurement } from './stack-viewport';
import type { ViewerSession } from './viewer-session';

export interface MeasurementList {
  readonly el: HTMLUListElement;
  add: (m: Measurement) => void;
}

/**
 * The caliper lengths measured on this study. A calibrated one can become a nodule's long axis in the
 * report: `useLongAxis` answers false once the report is signed.
 */
export function measurementList(session: ViewerSession, useLongAxis: (lengthMm: number, line: MeasuredLine) => boolean): MeasurementList {
  const el = h('ul', { class: 'measurements', 'aria-label': 'Measurements', 'data-testid': 'measurements' });

  function add(m: Measurement): void {
    const text = m.lengthMm === null ? `${m.lengthPx.toFixed(1)} px (no calibration)` : `${m.lengthMm.toFixed(1)} mm`;
    const item = h('li', { 'data-testid': 'measurement' }, `Length ${text} · frame ${m.index + 1}`);
    const frame = session.frames[m.index];
    // A calibrated caliper can be a nodule's long axis; the signed SR then says on which image and frame.
    if (m.lengthMm !== null && m.points !== null && frame) {
      const lengthMm = m.lengthMm;
      const line = { sopInstanceUid: frame.sopInstanceUid, frameNumber: frame.frameNumber, points: m.points };
      const use = h('button', { type: 'button', class: 'link', 'data-testid': 'measurement-to-nodule' }, 'Use as nodule long axis');
      use.addEventListener('click', () => {
        if (!useLongAxis(lengthMm, line)) session.status.set('The report is signed: add an addendum instead.', 'error');
      });
      item.append(' · ', use);
    }
    el.append(item);
  }

  return { el, add };
}

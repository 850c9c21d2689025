import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';

const STATE_LABEL: Record<string, string> = { ok: 'verified', missing: 'missing', corrupt: 'corrupt' };

const EVENT_LABEL: Record<string, string> = {
  'copy.bad': 'Copy found bad',
  'copy.repaired': 'Copy repaired',
  'copy.repair-failed': 'Repair failed',
  'copy.lock-extended': 'Lock extended',
  'copy.late-write': 'Late write recorded',
  stored: 'Stored (copies written and verified)',
  new_version: 'New version stored',
  already_stored: 'Re-sent (already stored)',
};

const RISK_LABEL: Record<string, string> = {
  'copies-missing': 'copies missing',
  'verification-stale': 'not verified recently',
  'copy-retention-short': 'a copy retained too briefly',
  'retention-below-policy': 'retention below policy',
  'copy-unlocked': 'a copy is not locked',
};

const when = (value: unknown): string => formatDateTime(str(value));
const shortUid = (uid: string): string => (uid.length > 24 ? `…${uid.slice(-20)}` : uid);

function table(headers: string[], rows: HTMLTableRowElement[], testid: string, empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-testid': `${testid}-empty` }, empty);
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, ...rows));
}

function copyRows(instance: JsonObject): HTMLTableRowElement[] {
  const sop = str(instance.sopInstanceUid) ?? '';
  return arr(instance.versions)
    .map(obj)
    .flatMap((v) =>
      arr(v.copies)
        .map(obj)
        .map((c) => {
          const state = str(c.state) ?? 'unknown';
          const short = bool(c.lockShort) ?? false;
          const lock = `${str(c.lockMode) ?? '—'} until ${when(c.retainUntil)}`;
          return h(
            'tr',
            { 'data-testid': 'copy', 'data-target': str(c.target) ?? '', 'data-state': state, 'data-version': String(num(v.version) ?? '') },
            h('td', { class: 'uid', title: sop }, shortUid(sop)),
            h('td', {}, `v${num(v.version) ?? '?'}${bool(v.current) ? ' (current)' : ''}`),
            h('td', {}, str(c.target) ?? '—'),
            h('td', {}, h('span', { class: `copy-state copy-state-${state}`, 'data-testid': 'copy-state' }, STATE_LABEL[state] ?? state)),
            h('td', { class: short ? 'lock-short' : '' }, short ? `${lock} (shorter than the study)` : lock),
            h('td', {}, when(c.writtenAt)),
            h('td', {}, when(c.lastVerifiedAt)),
            h('td', {}, str(c.failureReason) ?? (num(c.repairAttempts) ? `${num(c.repairAttempts)} repair attempts` : '—')),
          );
        }),
    );
}

function historyRow(e: JsonObject): HTMLTableRowElement {
  const event = str(e.event) ?? '';
  const outcome = num(e.outcome) ?? 0;
  return h(
    'tr',
    { 'data-testid': 'history-entry', 'data-event': event, class: outcome > 0 ? 'at-risk' : '' },
    h('td', {}, when(e.occurredAt)),
    h('td', {}, EVENT_LABEL[event] ?? (event || (str(e.type) ?? ''))),
    h('td', {}, str(e.target) ?? '—'),
    h('td', { class: 'uid' }, str(e.sha256)?.slice(0, 12) ?? '—'),
    h('td', {}, str(e.actor) ?? ''),
    h('td', {}, outcome === 0 ? 'success' : outcome === 4 ? 'minor failure' : 'failure'),
  );
}

function reportRow(studyUid: string, r: JsonObject, signal: AbortSignal): HTMLTableRowElement {
  const version = num(r.version) ?? 0;
  const result = h('span', { 'data-testid': 'signature-result' });
  const verify = h('button', { type: 'button', 'data-testid': 'verify-signature' }, 'Verify');
  verify.addEventListener('click', () => {
    verify.disabled = true;
    result.textContent = 'Verifying…';
    getJson(`/api/studies/${encodeURIComponent(studyUid)}/report/versions/${version}/signature`, signal)
      .then((body) => {
        const b = obj(body);
        const valid = bool(b.valid) ?? false;
        result.setAttribute('data-valid', String(valid));
        result.className = 'signature';
        result.textContent = valid ? 'Signature valid' : `Not valid: ${strings(b.reasons).join('; ') || 'unknown reason'}`;
      })
      .catch((error: unknown) => {
        if (!signal.aborted) result.textContent = errorText(error);
      })
      .finally(() => {
        verify.disabled = false;
      });
  });
  return h(
    'tr',
    { 'data-testid': 'signed-report', 'data-version': String(version) },
    h('td', {}, `v${version} (${str(r.kind) ?? 'report'})`),
    h('td', {}, when(r.signedAt)),
    h('td', {}, str(r.signer) ?? '—'),
    h('td', {}, str(r.algorithm) ?? '—'),
    h('td', { class: 'uid', title: str(r.srSopInstanceUid) ?? '' }, bool(r.srStored) ? 'stored' : 'not stored yet'),
    h('td', {}, verify, ' ', result),
  );
}

/**
 * One study as a record, for the auditor (#20): every instance version's copies with their state, lock and
 * verification, the keeper's history for the study, and the signed report versions, each verifiable here.
 */
export function studyRecordPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const studyUid = ctx.params.studyUid ?? '';
  const status = statusLine();
  const body = h('div', {});
  replace(ctx.root, h('section', { class: 'page wide' }, h('p', {}, h('a', { href: '/audit', 'data-link': true }, '← Retention')), h('h1', {}, 'Study record'), h('p', { class: 'uid', 'data-testid': 'record-study' }, studyUid), status.el, body));
  status.set('Loading…');
  getJson(`/api/audit/studies/${encodeURIComponent(studyUid)}/record`, controller.signal)
    .then((raw) => {
      const r = obj(raw);
      const clinic = obj(r.clinic);
      const risks = strings(r.risks);
      const instances = arr(r.instances).map(obj);
      const copies = instances.flatMap(copyRows);
      const versions = instances.reduce((n, i) => n + arr(i.versions).length, 0);
      status.set('');
      replace(
        body,
        h(
          'dl',
          { class: 'facts', 'data-testid': 'record-facts' },
          h('dt', {}, 'Clinic'),
          h('dd', {}, `${str(clinic.name) ?? ''} (${str(clinic.code) ?? ''}), retention ${num(clinic.retentionYears) ?? '?'} years`),
          h('dt', {}, 'Received'),
          h('dd', {}, when(r.receivedAt)),
          h('dt', {}, 'Retain until'),
          h('dd', {}, when(r.retainUntil)),
          h('dt', {}, 'Legal hold'),
          h('dd', {}, bool(r.legalHold) ? 'yes' : 'no'),
          h('dt', {}, 'Risks'),
          h('dd', { 'data-testid': 'record-risks' }, risks.map((k) => RISK_LABEL[k] ?? k).join('; ') || 'none'),
        ),
        h('h2', {}, `Copies (${instances.length} instances, ${versions} versions, ${copies.length} copies; ${num(r.copiesRequired) ?? 3} required per version)`),
        table(['Instance', 'Version', 'Target', 'State', 'Lock', 'Written', 'Last verified', 'Problem'], copies, 'copies', 'No stored copies.'),
        h('h2', {}, 'Verification history'),
        table(['When', 'Event', 'Target', 'Object', 'By', 'Outcome'], arr(r.history).map(obj).map(historyRow), 'history', 'No verification findings, repairs or lock extensions recorded.'),
        h('h2', {}, 'Signed reports'),
        table(['Version', 'Signed', 'Signer', 'Algorithm', 'SR', 'Signature'], arr(r.reports).map(obj).map((x) => reportRow(studyUid, x, controller.signal)), 'signed-reports', 'No signed report.'),
      );
    })
    .catch((error: unknown) => {
      if (!controller.signal.aborted) status.set(errorText(error), 'error');
    });
  return () => controller.abort();
}

import { errorText, getJson } from '../app/api';
import { formatDateTime, h, replace, statusLine } from '../app/dom';
import { arr, bool, num, obj, str, strings, type JsonObject } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { t } from '../app/i18n';
import { riskLabel } from './retention-risk';

/** A copy's state in the reader's language (the badge's class and test attributes keep the code). */
function stateLabel(state: string): string {
  const labels: Record<string, string> = { ok: t('verified', '已校验'), missing: t('missing', '缺失'), corrupt: t('corrupt', '已损坏'), unknown: t('unknown', '未知') };
  return labels[state] ?? state;
}

/** The keeper's event in the reader's language; an unknown code as it came. */
function eventLabel(event: string): string | undefined {
  const labels: Record<string, string> = {
    'copy.bad': t('Copy found bad', '发现副本损坏'),
    'copy.repaired': t('Copy repaired', '副本已修复'),
    'copy.repair-failed': t('Repair failed', '修复失败'),
    'copy.lock-extended': t('Lock extended', '留存锁已延长'),
    'copy.late-write': t('Late write recorded', '已记录延迟写入'),
    stored: t('Stored (copies written and verified)', '已存储（副本已写入并校验）'),
    new_version: t('New version stored', '已存储新版本'),
    already_stored: t('Re-sent (already stored)', '重复发送（已存储）'),
  };
  return labels[event];
}

/** A signed version's kind (report, addendum) in the reader's language; an unknown code as it came. */
function reportKindLabel(kind: string): string {
  const labels: Record<string, string> = { report: t('report', '报告'), addendum: t('addendum', '补充报告') };
  return labels[kind] ?? kind;
}

const when = (value: unknown): string => formatDateTime(str(value));
const shortUid = (uid: string): string => (uid.length > 24 ? `…${uid.slice(-20)}` : uid);

function table(headers: string[], rows: HTMLTableRowElement[], testid: string, empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted', 'data-testid': `${testid}-empty` }, empty);
  return h('table', { class: 'data', 'data-testid': testid }, h('thead', {}, h('tr', {}, ...headers.map((label) => h('th', { scope: 'col' }, label)))), h('tbody', {}, ...rows));
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
          // The lock mode (COMPLIANCE, GOVERNANCE) is the object store's code, shown as it is.
          const lock = t(`${str(c.lockMode) ?? '—'} until ${when(c.retainUntil)}`, `${str(c.lockMode) ?? '—'}，锁定至 ${when(c.retainUntil)}`);
          return h(
            'tr',
            { 'data-testid': 'copy', 'data-target': str(c.target) ?? '', 'data-state': state, 'data-version': String(num(v.version) ?? '') },
            h('td', { class: 'uid', title: sop }, shortUid(sop)),
            h('td', {}, `v${num(v.version) ?? '?'}${bool(v.current) ? t(' (current)', '（当前）') : ''}`),
            h('td', {}, str(c.target) ?? '—'),
            h('td', {}, h('span', { class: `copy-state copy-state-${state}`, 'data-testid': 'copy-state' }, stateLabel(state))),
            h('td', { class: short ? 'lock-short' : '' }, short ? t(`${lock} (shorter than the study)`, `${lock}（短于检查的保存期限）`) : lock),
            h('td', {}, when(c.writtenAt)),
            h('td', {}, when(c.lastVerifiedAt)),
            h('td', {}, str(c.failureReason) ?? (num(c.repairAttempts) ? t(`${num(c.repairAttempts)} repair attempts`, `已尝试修复 ${num(c.repairAttempts)} 次`) : '—')),
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
    h('td', {}, eventLabel(event) ?? (event || (str(e.type) ?? ''))),
    h('td', {}, str(e.target) ?? '—'),
    h('td', { class: 'uid' }, str(e.sha256)?.slice(0, 12) ?? '—'),
    h('td', {}, str(e.actor) ?? ''),
    h('td', {}, outcome === 0 ? t('success', '成功') : outcome === 4 ? t('minor failure', '轻微失败') : t('failure', '失败')),
  );
}

function reportRow(studyUid: string, r: JsonObject, signal: AbortSignal): HTMLTableRowElement {
  const version = num(r.version) ?? 0;
  const result = h('span', { 'data-testid': 'signature-result' });
  const verify = h('button', { type: 'button', 'data-testid': 'verify-signature' }, t('Verify', '校验'));
  verify.addEventListener('click', () => {
    verify.disabled = true;
    result.textContent = t('Verifying…', '正在校验…');
    getJson(`/api/studies/${encodeURIComponent(studyUid)}/report/versions/${version}/signature`, signal)
      .then((body) => {
        const b = obj(body);
        const valid = bool(b.valid) ?? false;
        result.setAttribute('data-valid', String(valid));
        result.className = 'signature';
        // The reasons are the server's text, shown as they came.
        const reasons = strings(b.reasons).join('; ') || t('unknown reason', '原因不明');
        result.textContent = valid ? t('Signature valid', '签名有效') : t(`Not valid: ${reasons}`, `签名无效：${reasons}`);
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
    h('td', {}, t(`v${version} (${reportKindLabel(str(r.kind) ?? 'report')})`, `v${version}（${reportKindLabel(str(r.kind) ?? 'report')}）`)),
    h('td', {}, when(r.signedAt)),
    h('td', {}, str(r.signer) ?? '—'),
    h('td', {}, str(r.algorithm) ?? '—'),
    h('td', { class: 'uid', title: str(r.srSopInstanceUid) ?? '' }, bool(r.srStored) ? t('stored', '已存储') : t('not stored yet', '尚未存储')),
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
  replace(ctx.root, h('section', { class: 'page wide' }, h('p', {}, h('a', { href: '/audit', 'data-link': true }, t('← Retention', '← 保存期限'))), h('h1', {}, t('Study record', '检查档案')), h('p', { class: 'uid', 'data-testid': 'record-study' }, studyUid), status.el, body));
  status.set(t('Loading…', '正在加载…'));
  getJson(`/api/audit/studies/${encodeURIComponent(studyUid)}/record`, controller.signal)
    .then((raw) => {
      const r = obj(raw);
      const clinic = obj(r.clinic);
      const risks = strings(r.risks);
      const instances = arr(r.instances).map(obj);
      const copies = instances.flatMap(copyRows);
      const versions = instances.reduce((n, i) => n + arr(i.versions).length, 0);
      const clinicName = str(clinic.name) ?? '';
      const clinicCode = str(clinic.code) ?? '';
      const years = num(clinic.retentionYears) ?? '?';
      const required = num(r.copiesRequired) ?? 3;
      status.set('');
      replace(
        body,
        h(
          'dl',
          { class: 'facts', 'data-testid': 'record-facts' },
          h('dt', {}, t('Clinic', '机构')),
          h('dd', {}, t(`${clinicName} (${clinicCode}), retention ${years} years`, `${clinicName}（${clinicCode}），保存期限 ${years} 年`)),
          h('dt', {}, t('Received', '接收时间')),
          h('dd', {}, when(r.receivedAt)),
          h('dt', {}, t('Retain until', '保存至')),
          h('dd', {}, when(r.retainUntil)),
          h('dt', {}, t('Legal hold', '法律保留')),
          h('dd', {}, bool(r.legalHold) ? t('yes', '是') : t('no', '否')),
          h('dt', {}, t('Risks', '风险')),
          h('dd', { 'data-testid': 'record-risks' }, risks.map(riskLabel).join(t('; ', '；')) || t('none', '无')),
        ),
        h(
          'h2',
          {},
          t(
            `Copies (${instances.length} instances, ${versions} versions, ${copies.length} copies; ${required} required per version)`,
            `副本（${instances.length} 个实例，${versions} 个版本，${copies.length} 份副本；每个版本需 ${required} 份）`,
          ),
        ),
        table(
          [t('Instance', '实例'), t('Version', '版本'), t('Target', '存储目标'), t('State', '状态'), t('Lock', '留存锁'), t('Written', '写入时间'), t('Last verified', '最近校验'), t('Problem', '问题')],
          copies,
          'copies',
          t('No stored copies.', '没有已存储的副本。'),
        ),
        h('h2', {}, t('Verification history', '校验记录')),
        table(
          [t('When', '时间'), t('Event', '事件'), t('Target', '存储目标'), t('Object', '对象'), t('By', '执行者'), t('Outcome', '结果')],
          arr(r.history).map(obj).map(historyRow),
          'history',
          t('No verification findings, repairs or lock extensions recorded.', '没有校验发现、修复或留存锁延长的记录。'),
        ),
        h('h2', {}, t('Signed reports', '已签署报告')),
        table(
          [t('Version', '版本'), t('Signed', '签署时间'), t('Signer', '签署人'), t('Algorithm', '算法'), 'SR', t('Signature', '签名')],
          arr(r.reports).map(obj).map((x) => reportRow(studyUid, x, controller.signal)),
          'signed-reports',
          t('No signed report.', '没有已签署的报告。'),
        ),
      );
    })
    .catch((error: unknown) => {
      if (!controller.signal.aborted) status.set(errorText(error), 'error');
    });
  return () => controller.abort();
}

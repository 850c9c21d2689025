import { t } from '../app/i18n';

/**
 * A study's retention risk (GET /api/audit/retention, the study record) in the reader's language; an unknown code
 * as it came. The retention page and the study record both show it; the CSV exports keep the codes.
 */
export function riskLabel(code: string): string {
  const labels: Record<string, string> = {
    'copies-missing': t('copies missing', '副本缺失'),
    'verification-stale': t('not verified recently', '近期未校验'),
    'copy-retention-short': t('a copy retained too briefly', '有副本保存期限过短'),
    'retention-below-policy': t('retention below policy', '保存期限低于规定'),
    'copy-unlocked': t('a copy is not locked', '有副本未加留存锁'),
  };
  return labels[code] ?? code;
}

import { t } from '../app/i18n';
import { num, obj } from '../app/json';

/**
 * What the Users page says about unused accounts, from the server's `dormancy` (GET /api/admin/users): whether
 * the keeper disables them (AUTH_DORMANT_DISABLE_DAYS) or an admin must, so an admin knows which of the two
 * to expect before a radiologist back from leave finds their account disabled.
 */
export function dormancyNote(dormancy: unknown): string {
  const policy = obj(dormancy);
  const flag = num(policy.flagAfterDays) ?? 90;
  const disable = num(policy.disableAfterDays);
  if (typeof disable === 'number' && disable > 0) {
    return t(
      `Accounts unused for ${disable} days are disabled automatically, their sign-ins ended and the change audited; enable one here when its user still needs it.`,
      `连续 ${disable} 天未使用的账户将被自动停用，其登录会话随之结束，并记入审计；如该用户仍需使用，请在此处重新启用。`,
    );
  }
  return t(
    `Accounts unused for ${flag} days are marked dormant; nothing is disabled automatically: disable them here unless they are still needed.`,
    `连续 ${flag} 天未使用的账户标记为“休眠”；系统不会自动停用：如已不再需要，请在此处停用。`,
  );
}

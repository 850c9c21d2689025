/**
 * Problem details in Simplified Chinese for the messages people meet in the web app (sign-in, one-time codes,
 * passwords, the reading workflow, sharing). A request whose Accept-Language prefers Chinese (the web app sends
 * the reader's chosen language) gets `detail` in Chinese; everything else, and every log line, keeps the English
 * the code was written with. A message not listed here is sent in English, so a new message is never lost, only
 * untranslated; `problem-zh.test.ts` checks that every English text below is still written somewhere in the code.
 */
export const PROBLEM_ZH: ReadonlyMap<string, string> = new Map([
  // sign-in and sessions (packages/auth)
  ['Invalid username or password', '用户名或密码错误'],
  ['Invalid one-time code', '动态验证码错误'],
  ['A one-time code is required', '需要输入动态验证码'],
  ['Set up a one-time code generator to sign in: add the key to an authenticator app, then enter its current code', '登录前请设置动态验证码：将密钥添加到身份验证器应用，然后输入其当前显示的验证码'],
  ['The sign-in has expired; please sign in again', '登录已过期，请重新登录'],
  ['Authentication required', '需要登录'],
  ['Refresh token invalid, expired or revoked', '会话已失效，请重新登录'],
  ['No refresh token', '会话已失效，请重新登录'],
  ['Access token expired', '会话已过期，请重新登录'],
  ['Access token invalid', '会话无效，请重新登录'],
  ['Access token revoked', '会话已被终止，请重新登录'],
  ['Not allowed for this account', '此账户无权进行该操作'],
  ['Too many failed sign-in attempts; try again later', '登录失败次数过多，请稍后再试'],
  ['Too many wrong access codes; try again later', '访问码错误次数过多，请稍后再试'],
  ['Too many requests; try again later', '请求过多，请稍后再试'],
  // passwords and second factors
  ['The current password is not correct', '当前密码不正确'],
  ['A one-time code generator is already set up', '已设置动态验证码'],
  ['No enrolment awaiting confirmation', '没有待确认的动态验证码设置'],
  ['Set up a one-time code generator first: recovery codes stand in for it', '请先设置动态验证码：恢复码只是它的替代'],
  ['Your own second factor can only be reset by another admin (four eyes)', '您自己的第二因素只能由另一位管理员重置（双人复核）'],
  ['End your own sign-ins from your account page', '请在账户页面结束您自己的登录'],
  ['Only a signed-in user can change their password', '只有已登录的用户才能修改密码'],
  ['Only a signed-in user has a second factor', '只有已登录的用户才有第二因素'],
  ['Username already taken', '用户名已被占用'],
  // reading and reports (services/viewer)
  ['Claim the study before writing its report', '请先领取该检查，再撰写报告'],
  ['The study is reported; add an addendum instead', '该检查已出报告，请改为添加补充报告'],
  ['Signing needs your password (re-authentication)', '签署报告需要再次输入您的密码'],
  ['The password is not correct; the report was not signed', '密码不正确，报告未签署'],
  // sharing with the client
  ['Only a signed-in user can share a study', '只有已登录的用户才能分享检查'],
  ['This link needs its access code', '此链接需要访问码'],
  ['The access code is not right', '访问码不正确'],
  // the requests themselves
  ['Cross-site request refused', '已拒绝跨站请求'],
  ['Internal error; quote the request id when reporting it', '内部错误；报告问题时请提供请求编号'],
]);

/** Whether an Accept-Language header prefers Chinese: its first language by q-value is zh-* (any region or script). */
export function prefersChinese(acceptLanguage: string | undefined): boolean {
  if (!acceptLanguage) return false;
  const ranked = acceptLanguage
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((l) => l.tag !== '' && l.tag !== '*' && Number.isFinite(l.q) && l.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  return ranked[0]?.tag.split('-')[0] === 'zh';
}

/** The detail in the language the request prefers, where there is a Chinese text for it. */
export function localizedDetail(message: string, acceptLanguage: string | undefined): string {
  return prefersChinese(acceptLanguage) ? (PROBLEM_ZH.get(message) ?? message) : message;
}

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
  ['The study is being read by someone else', '该检查正由他人阅片'],
  ['Only the reader holding the claim can release it', '只有领取该检查的医师才能释放它'],
  ['The study is already reported; add an addendum to the report instead', '该检查已出报告，请改为添加补充报告'],
  ['The report is already signed', '报告已签署'],
  ['The report is signed and cannot be changed; add an addendum', '报告已签署，不能修改；请添加补充报告'],
  ['There is no draft to sign; save one first', '没有可签署的草稿，请先保存'],
  ['An addendum needs a signed report; sign the report first', '补充报告需要已签署的报告，请先签署报告'],
  ['Fields marked as the AI’s differ from the AI result they cite', '标为 AI 的字段与其引用的 AI 结果不一致'],
  ['Key images must be images (and frames) of this study', '关键图像必须是本检查的图像（及帧）'],
  ['Study not found', '未找到该检查'],
  ['The one-time code is not valid', '动态验证码无效'],
  // administration (users, clinics, device keys, DICOM settings, patient index)
  ['No such user', '没有该用户'],
  ['No such clinic', '没有该机构'],
  ['No such session', '没有该登录'],
  ['No such API key', '没有该设备密钥'],
  ['No such certificate', '没有该证书'],
  ['No such destination', '没有该目的地'],
  ['No such grant', '没有该授权'],
  ['Only radiologists are granted clinics', '只有放射科医师才能被授予机构'],
  ['A clinic user needs a clinicId; other roles must not have one', '机构用户必须指定机构；其他角色不能指定机构'],
  ['Username: 2-63 characters of a-z, 0-9, ".", "_", "-"', '用户名：2–63 个字符，可用 a-z、0-9、“.”、“_”、“-”'],
  ['Name: 1-100 characters', '名称：1–100 个字符'],
  ['Clinic code: 2-63 characters of a-z, 0-9, "-"', '机构代码：2–63 个字符，可用 a-z、0-9、“-”'],
  ['Clinic code or AE title already in use', '机构代码或 AE 称号已被使用'],
  ['AE title registered to another clinic: remove it there first', '该 AE 称号已登记在其他机构：请先在那里删除'],
  ['AE titles: 1-16 printable ASCII characters, no backslash', 'AE 称号：1–16 个可打印 ASCII 字符，不含反斜杠'],
  ['AE title: 1-16 printable ASCII characters, no backslash', 'AE 称号：1–16 个可打印 ASCII 字符，不含反斜杠'],
  ['The clinic holds no such AE title', '该机构没有此 AE 称号'],
  ['API key already revoked', '设备密钥已撤销'],
  ['API key expired: issue a new key with a new expiry', '设备密钥已到期：请签发新密钥并设置新的到期日'],
  ['expiresAt must be in the future', '到期日必须晚于今天'],
  ['This certificate is already registered', '该证书已登记'],
  ['certificate: not a PEM X.509 certificate', '证书：不是 PEM 格式的 X.509 证书'],
  ['tlsCaPem: not a PEM X.509 certificate', 'CA 证书：不是 PEM 格式的 X.509 证书'],
  ['tlsServerName: not a host name', 'TLS 服务器名：不是有效的主机名'],
  ['tlsCaPem and tlsServerName apply only with tls: true', 'CA 证书和 TLS 服务器名仅在启用 TLS 时适用'],
  ['host: not a host name or an IP address', '主机：不是有效的主机名或 IP 地址'],
  ['sourceNetworks: each a network in CIDR notation (10.1.0.0/16, 2001:db8::/32) with no host bits set', '源网络：每项须为 CIDR 表示的网络（如 10.1.0.0/16、2001:db8::/32），且主机位为零'],
  ['sourceNetworks: 1 to 64 networks, or null for any address', '源网络：1 至 64 个网络，或不限地址'],
  ['Both sides are already one person', '双方已是同一人'],
  ['This merge was already undone', '此合并已撤销'],
  ['A later merge involves these persons: undo it first', '之后的一次合并涉及这些人：请先撤销那次合并'],
  ['The requester cannot decide on their own request', '申请人不能审批自己的申请'],
  ['Only a signed-in person can approve', '只有已登录的人员才能审批'],
  // sharing with the client
  ['Only a signed-in user can share a study', '只有已登录的用户才能分享检查'],
  ['This link needs its access code', '此链接需要访问码'],
  ['The access code is not right', '访问码不正确'],
  // the requests themselves
  ['Cross-site request refused', '已拒绝跨站请求'],
  ['Internal error; quote the request id when reporting it', '内部错误；报告问题时请提供请求编号'],
]);

/**
 * Why a new password was refused (packages/auth/src/password-policy.ts writes "Password refused: <reason>"); the
 * length rule carries its number and is read by a pattern below.
 */
export const PASSWORD_REASON_ZH: ReadonlyMap<string, string> = new Map([
  ['at most 1024 characters', '最多 1024 个字符'],
  ['too few different characters', '不同的字符太少'],
  ['a short repeated pattern', '是简短的重复模式'],
  ['a commonly used or breached password (or one with only digits and symbols added)', '是常用或已泄露的密码（或只在其前后加了数字和符号）'],
  ['contains the user name', '包含用户名'],
  ['contains the name of the clinic or of this system', '包含机构或本系统的名称'],
  ['the same as the current one', '与当前密码相同'],
]);

function passwordRefusalZh(message: string): string | null {
  const reason = /^Password refused: (.*)$/s.exec(message)?.[1];
  if (reason === undefined) return null;
  const length = /^at least (\d+) characters$/.exec(reason)?.[1];
  const zh = length !== undefined ? `至少 ${length} 个字符` : PASSWORD_REASON_ZH.get(reason);
  return zh === undefined ? null : `密码被拒绝：${zh}`;
}

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
  return prefersChinese(acceptLanguage) ? (PROBLEM_ZH.get(message) ?? passwordRefusalZh(message) ?? message) : message;
}

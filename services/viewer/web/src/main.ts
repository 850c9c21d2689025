import { setSessionLostHandler } from './app/api';
import { h, replace } from './app/dom';
import { language, languageTag, setLanguage, t } from './app/i18n';
import { isLazyPage, lazyPage } from './app/lazy-page';
import { lastRole, rememberRole } from './app/role-hint';
import { match, route, type Route, type Teardown } from './app/router';
import { currentUser, homeOf, roleLabel, signOut, type Me } from './app/session';
import { signInPage } from './pages/sign-in.page';
import { prefetchStudy } from './viewer/study-prefetch';
import type * as ViewerChunk from './viewer/viewer.page';

// The reading viewer (cornerstone and its tools, about three quarters of the app's code) is its own chunk:
// the sign-in page and the clinics', auditors' and admins' pages never load it. A radiologist's browser
// fetches it once a page has been drawn (prefetchViewer), and the reading tools' own chunk after it, so opening
// the first study from the queue waits for neither. A study opened by its address loads the viewer's chunk at
// once and draws its first frame before asking for the tools (stack-viewport.ts).
const viewerChunk = (): Promise<typeof ViewerChunk> => import('./viewer/viewer.page');
const viewerPage = lazyPage(() => viewerChunk().then((m) => m.viewerPage));
let viewerPrefetched = false;
function prefetchViewer(user: Me, pathname: string): void {
  if (user.role !== 'radiologist' || viewerPrefetched) return;
  viewerPrefetched = true;
  if (pathname.startsWith('/read/')) return;
  // A failure here is shown when a study is opened (lazyPage), not now.
  setTimeout(() => void viewerChunk().then((m) => m.loadViewportTools()).catch(() => undefined), 0);
}

const studyAddress = (pathname: string): string | undefined => /^\/read\/([0-9.]+)\/?$/.exec(pathname)?.[1];

/**
 * A study opened by its address: the viewer's first reads start at once when this browser's last user was a
 * radiologist (role-hint.ts), while /api/auth/me is in flight, else as soon as it names one; either way while the
 * viewer's chunk loads (study-prefetch.ts). A hint the answer contradicts costs those reads, nothing more: what
 * the page shows follows the answer, and the reads not taken are dropped (api.ts prefetch).
 */
let earlyStudy = lastRole() === 'radiologist' ? studyAddress(location.pathname) : undefined;
if (earlyStudy !== undefined) prefetchStudy(earlyStudy);
function prefetchOpenedStudy(user: Me, pathname: string): void {
  const uid = studyAddress(pathname);
  const started = earlyStudy;
  earlyStudy = undefined;
  if (user.role === 'radiologist' && uid !== undefined && uid !== started) prefetchStudy(uid);
}

// Every page but sign-in is its own chunk (a user loads the code of the pages they open, not of every role's),
// and the page the address names is fetched at once, beside /api/auth/me (preloadAddressedPage below).
const queuePage = lazyPage(() => import('./pages/queue.page').then((m) => m.queuePage));
const clinicStudiesPage = lazyPage(() => import('./pages/clinic.page').then((m) => m.clinicStudiesPage));
const uploadPage = lazyPage(() => import('./pages/upload.page').then((m) => m.uploadPage));
const retentionPage = lazyPage(() => import('./pages/audit.page').then((m) => m.retentionPage));
const accessPage = lazyPage(() => import('./pages/audit.page').then((m) => m.accessPage));
const studyRecordPage = lazyPage(() => import('./pages/study-record.page').then((m) => m.studyRecordPage));
const readingTimesPage = lazyPage(() => import('./pages/reading-times.page').then((m) => m.readingTimesPage));
const patientIndexPage = lazyPage(() => import('./pages/patient-index.page').then((m) => m.patientIndexPage));
const usersPage = lazyPage(() => import('./pages/users.page').then((m) => m.usersPage));
const clinicsPage = lazyPage(() => import('./pages/clinics.page').then((m) => m.clinicsPage));
const reportPrintPage = lazyPage(() => import('./pages/report-print.page').then((m) => m.reportPrintPage));
const accountPage = lazyPage(() => import('./pages/account.page').then((m) => m.accountPage));

const routes: Route[] = [
  route('/queue', ['radiologist'], t('Reading queue', '阅片队列'), queuePage),
  route('/read/:studyUid', ['radiologist'], t('Viewer', '阅片'), viewerPage),
  route('/clinic', ['clinic'], t('Studies', '检查'), clinicStudiesPage),
  route('/upload', ['clinic'], t('Upload', '上传'), uploadPage),
  route('/audit', ['auditor', 'admin'], t('Retention', '保存期限'), retentionPage),
  route('/audit/access', ['auditor', 'admin'], t('Access history', '访问记录'), accessPage),
  route('/audit/studies/:studyUid', ['auditor', 'admin'], t('Study record', '检查档案'), studyRecordPage),
  route('/reading-times', ['admin'], t('Reading time', '阅片用时'), readingTimesPage),
  route('/admin/patients', ['admin'], t('Patient index', '患者索引'), patientIndexPage),
  route('/admin/users', ['admin'], t('Users', '用户'), usersPage),
  route('/admin/clinics', ['admin'], t('Clinics', '机构'), clinicsPage),
  route('/report/:studyUid', ['clinic', 'radiologist'], t('Report', '报告'), reportPrintPage),
  route('/account', ['clinic', 'radiologist', 'auditor', 'admin'], t('Account', '账户'), accountPage),
];

/**
 * The code of the page the address names, fetched now, beside /api/auth/me, instead of after it (a link, a reload,
 * a new tab). For a role the page refuses, it is a download of code and nothing else.
 */
function preloadAddressedPage(pathname: string): void {
  const page = match(routes, pathname)?.route.page;
  if (page && isLazyPage(page)) page.preload();
}

const NAV: Record<Me['role'], { path: string; label: string }[]> = {
  radiologist: [{ path: '/queue', label: t('Queue', '阅片队列') }],
  clinic: [
    { path: '/clinic', label: t('Studies', '检查') },
    { path: '/upload', label: t('Upload', '上传') },
  ],
  auditor: [
    { path: '/audit', label: t('Retention', '保存期限') },
    { path: '/audit/access', label: t('Access history', '访问记录') },
  ],
  admin: [
    { path: '/audit', label: t('Retention', '保存期限') },
    { path: '/audit/access', label: t('Access history', '访问记录') },
    { path: '/reading-times', label: t('Reading time', '阅片用时') },
    { path: '/admin/patients', label: t('Patient index', '患者索引') },
    { path: '/admin/users', label: t('Users', '用户') },
    { path: '/admin/clinics', label: t('Clinics', '机构') },
  ],
};

const header = document.getElementById('app-header');
const main = document.getElementById('app-main');
let me: Me | null = null;
let teardown: Teardown | null = null;
let generation = 0;

function navigate(path: string, replaceState = false): void {
  if (replaceState) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  void render();
}

/** Only our own paths: `next` must not send the user to another site. */
function safeNext(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}

/** 云影 is Simplified Chinese: tagged so the browser picks an SC face from the font stack (styles.css). */
function brand(): HTMLElement {
  return h('span', { class: 'brand' }, h('span', { lang: 'zh-Hans' }, '云影'), ' Yunying');
}

/**
 * The other language, named in itself (a reader who cannot read the current one still finds it). The page is
 * loaded again in that language: every text is written when the page is drawn, and a reload draws all of it.
 */
function languageSwitch(): HTMLElement {
  const other = language() === 'zh' ? 'en' : 'zh';
  const button = h('button', { type: 'button', class: 'link language', lang: languageTag(other), 'data-testid': 'language' }, other === 'zh' ? '中文' : 'English');
  button.addEventListener('click', () => {
    setLanguage(other);
    location.reload();
  });
  return button;
}

function renderHeader(user: Me | null): void {
  if (!header) return;
  if (!user) {
    replace(header, brand(), languageSwitch());
    return;
  }
  // Every role's own account page (password, sign-ins, one-time codes) comes last.
  const links = [...NAV[user.role], { path: '/account', label: t('Account', '账户') }].map((item) =>
    h('a', { href: item.path, 'data-link': true, 'aria-current': location.pathname === item.path ? 'page' : null }, item.label),
  );
  const out = h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out' }, t('Sign out', '退出登录'));
  out.addEventListener('click', () => {
    void signOut().then(() => {
      me = null;
      rememberRole(null);
      navigate('/sign-in');
    });
  });
  replace(
    header,
    brand(),
    h('nav', { 'aria-label': t('Main', '主导航') }, ...links),
    h('span', { class: 'who', 'data-testid': 'who' }, `${user.displayName ?? user.username} · ${roleLabel(user.role)}`),
    languageSwitch(),
    out,
  );
}

async function render(): Promise<void> {
  const mine = ++generation;
  teardown?.();
  teardown = null;
  if (!main) return;
  const url = new URL(location.href);
  if (url.pathname === '/sign-in') {
    me = null;
    renderHeader(null);
    document.title = t('Sign in · Yunying', '登录 · 云影');
    teardown =
      signInPage(main, () => {
        navigate(safeNext(url.searchParams.get('next')), true);
      }) ?? null;
    return;
  }
  me ??= await currentUser();
  rememberRole(me?.role ?? null);
  // Early reads made for someone who turned out not to be a signed-in radiologist are not the viewer's: a
  // radiologist who signs in now has the study read again (the answers to a 401 are of no use).
  if (me?.role !== 'radiologist') earlyStudy = undefined;
  if (mine !== generation) return;
  if (!me) {
    navigate(`/sign-in?next=${encodeURIComponent(url.pathname)}`, true);
    return;
  }
  if (url.pathname === '/') {
    navigate(homeOf(me.role), true);
    return;
  }
  renderHeader(me);
  const found = match(routes, url.pathname);
  if (!found || !found.route.roles.includes(me.role)) {
    document.title = t('Not found · Yunying', '未找到 · 云影');
    replace(main, h('section', { class: 'page' }, h('h1', {}, t('Not found', '未找到')), h('p', {}, t('This page does not exist or is not available to your role.', '此页面不存在，或您的角色无权访问。'))));
    return;
  }
  document.title = `${found.route.title} · ${t('Yunying', '云影')}`;
  prefetchOpenedStudy(me, url.pathname);
  main.replaceChildren();
  teardown = found.route.page({ root: main, params: found.params, query: url.searchParams, me, navigate: (p) => navigate(p) }) ?? null;
  prefetchViewer(me, url.pathname);
}

document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target.closest('a[data-link]') : null;
  if (!(target instanceof HTMLAnchorElement) || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(target.getAttribute('href') ?? '/');
});
window.addEventListener('popstate', () => void render());
setSessionLostHandler(() => {
  me = null;
  rememberRole(null);
  if (location.pathname !== '/sign-in') navigate(`/sign-in?next=${encodeURIComponent(location.pathname)}`, true);
});
// The reader closing the tab is leaving too.
window.addEventListener('pagehide', () => {
  teardown?.();
  teardown = null;
});

document.documentElement.lang = languageTag();
preloadAddressedPage(location.pathname);
void render();

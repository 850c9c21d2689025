import { setSessionLostHandler } from './app/api';
import { h, replace } from './app/dom';
import { match, route, type Route, type Teardown } from './app/router';
import { currentUser, homeOf, signOut, type Me } from './app/session';
import { accountPage } from './pages/account.page';
import { accessPage, retentionPage } from './pages/audit.page';
import { studyRecordPage } from './pages/study-record.page';
import { patientIndexPage } from './pages/patient-index.page';
import { clinicStudiesPage } from './pages/clinic.page';
import { clinicsPage } from './pages/clinics.page';
import { queuePage } from './pages/queue.page';
import { readingTimesPage } from './pages/reading-times.page';
import { reportPrintPage } from './pages/report-print.page';
import { signInPage } from './pages/sign-in.page';
import { uploadPage } from './pages/upload.page';
import { usersPage } from './pages/users.page';
import { viewerPage } from './viewer/viewer.page';

const routes: Route[] = [
  route('/queue', ['radiologist'], 'Reading queue', queuePage),
  route('/read/:studyUid', ['radiologist'], 'Viewer', viewerPage),
  route('/clinic', ['clinic'], 'Studies', clinicStudiesPage),
  route('/upload', ['clinic'], 'Upload', uploadPage),
  route('/audit', ['auditor', 'admin'], 'Retention', retentionPage),
  route('/audit/access', ['auditor', 'admin'], 'Access history', accessPage),
  route('/audit/studies/:studyUid', ['auditor', 'admin'], 'Study record', studyRecordPage),
  route('/reading-times', ['admin'], 'Reading time', readingTimesPage),
  route('/admin/patients', ['admin'], 'Patient index', patientIndexPage),
  route('/admin/users', ['admin'], 'Users', usersPage),
  route('/admin/clinics', ['admin'], 'Clinics', clinicsPage),
  route('/report/:studyUid', ['clinic', 'radiologist'], 'Report', reportPrintPage),
  route('/account', ['clinic', 'radiologist', 'auditor', 'admin'], 'Account', accountPage),
];

const NAV: Record<Me['role'], { path: string; label: string }[]> = {
  radiologist: [{ path: '/queue', label: 'Queue' }],
  clinic: [
    { path: '/clinic', label: 'Studies' },
    { path: '/upload', label: 'Upload' },
  ],
  auditor: [
    { path: '/audit', label: 'Retention' },
    { path: '/audit/access', label: 'Access history' },
  ],
  admin: [
    { path: '/audit', label: 'Retention' },
    { path: '/audit/access', label: 'Access history' },
    { path: '/reading-times', label: 'Reading time' },
    { path: '/admin/patients', label: 'Patient index' },
    { path: '/admin/users', label: 'Users' },
    { path: '/admin/clinics', label: 'Clinics' },
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

function renderHeader(user: Me | null): void {
  if (!header) return;
  if (!user) {
    replace(header, brand());
    return;
  }
  // Every role's own account page (password, sign-ins, one-time codes) comes last.
  const links = [...NAV[user.role], { path: '/account', label: 'Account' }].map((item) =>
    h('a', { href: item.path, 'data-link': true, 'aria-current': location.pathname === item.path ? 'page' : null }, item.label),
  );
  const out = h('button', { type: 'button', class: 'link', 'data-testid': 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => {
    void signOut().then(() => {
      me = null;
      navigate('/sign-in');
    });
  });
  replace(
    header,
    brand(),
    h('nav', { 'aria-label': 'Main' }, ...links),
    h('span', { class: 'who', 'data-testid': 'who' }, `${user.displayName ?? user.username} · ${user.role}`),
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
    document.title = 'Sign in · Yunying';
    teardown =
      signInPage(main, () => {
        navigate(safeNext(url.searchParams.get('next')), true);
      }) ?? null;
    return;
  }
  me ??= await currentUser();
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
    document.title = 'Not found · Yunying';
    replace(main, h('section', { class: 'page' }, h('h1', {}, 'Not found'), h('p', {}, 'This page does not exist or is not available to your role.')));
    return;
  }
  document.title = `${found.route.title} · Yunying`;
  main.replaceChildren();
  teardown = found.route.page({ root: main, params: found.params, query: url.searchParams, me, navigate: (p) => navigate(p) }) ?? null;
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
  if (location.pathname !== '/sign-in') navigate(`/sign-in?next=${encodeURIComponent(location.pathname)}`, true);
});
// The reader closing the tab is leaving too.
window.addEventListener('pagehide', () => {
  teardown?.();
  teardown = null;
});

void render();

import { loadImage, loadShare, type PublicShare } from './share.api';

/**
 * The share page (#20, 云胶片): a client or another hospital opens the link on a phone and sees the key
 * images and the signed report, read-only, without an account. The token is the URL fragment (browsers
 * never send it), so it is read here and sent in a header; all text is set with textContent.
 */
const root = document.getElementById('share') as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { text?: string; className?: string } = {}, ...children: Node[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.text !== undefined) node.textContent = props.text;
  if (props.className !== undefined) node.className = props.className;
  node.append(...children);
  return node;
}

function show(...nodes: Node[]): void {
  root.replaceChildren(el('h1', { text: '云影 · 影像与报告 Images and report' }), ...nodes);
}

function refusal(zh: string, en: string): void {
  const box = el('section', { className: 'refusal' }, el('p', { text: zh }), el('p', { text: en }));
  box.dataset.testid = 'share-refused';
  show(box);
}

function unavailable(): void {
  refusal('此链接已失效：可能已过期或已被机构撤回。如需查看，请联系检查机构获取新的链接。', 'This link is no longer valid: it may have expired or been withdrawn. Ask the clinic for a new link.');
}

function askCode(token: string, wrong: boolean): void {
  const input = el('input');
  input.inputMode = 'numeric';
  input.autocomplete = 'one-time-code';
  input.maxLength = 6;
  input.pattern = '[0-9]{6}';
  input.required = true;
  input.name = 'code';
  input.setAttribute('aria-label', '访问码 Access code');
  const form = el('form', {}, el('label', { text: '请输入访问码（6 位数字） Enter the 6-digit access code' }), input, el('button', { text: '查看 View' }));
  if (wrong) form.append(el('p', { className: 'error', text: '访问码不正确 The access code is not right' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void open(token, input.value.trim());
  });
  show(form);
  input.focus();
}

function reportSection(share: PublicShare): HTMLElement {
  const section = el('section', { className: 'report' });
  section.dataset.testid = 'share-report';
  const report = share.report;
  if (report === null) {
    section.append(el('p', { text: '报告尚未签发 The report is not signed yet' }));
    return section;
  }
  const list = el('dl');
  const item = (zh: string, en: string, value: string): void => {
    if (value === '') return;
    list.append(el('dt', { text: `${zh} ${en}` }), el('dd', { text: value }));
  };
  item('签发时间', 'Signed', new Date(report.signedAt).toLocaleString());
  if (report.kind === 'addendum') item('版本', 'Version', `补充报告 Addendum ${report.version - 1}`);
  item('TI-RADS', '', report.tiradsCategory ?? '');
  item('超声所见', 'Findings', report.findings);
  item('超声提示', 'Impression', report.impression);
  section.append(list);
  return section;
}

async function render(token: string, code: string, share: PublicShare): Promise<void> {
  const gallery = el('div', { className: 'images' });
  const expiry = el('p', { className: 'note', text: `链接有效期至 Valid until ${new Date(share.expiresAt).toLocaleString()}` });
  gallery.dataset.source = share.keyImages;
  // Say what the images are: the reader's choice, or (none marked) simply the first image of each series.
  const source =
    share.keyImages === 'marked'
      ? el('p', { className: 'note', text: '医生标注的关键影像 Key images chosen by the radiologist' })
      : el('p', { className: 'note', text: '医生未标注关键影像，显示各序列首幅影像 No key images were marked; the first image of each series is shown' });
  source.dataset.testid = 'share-images-source';
  const heading = share.keyImages === 'marked' ? '关键影像 Key images' : '影像 Images';
  show(expiry, el('h2', { text: heading }), source, gallery, el('h2', { text: '报告 Report' }), reportSection(share));
  for (const image of share.images) {
    const img = el('img');
    img.alt = `${share.keyImages === 'marked' ? '关键影像 Key image' : '影像 Image'} ${image.number}`;
    const figure = el('figure', {}, img, el('figcaption', { text: `${image.number} / ${share.images.length}` }));
    gallery.append(figure);
    const loaded = await loadImage(token, code, image.number);
    if (typeof loaded === 'number') {
      // A revoked or expired link stops at once: the page says so instead of showing half a study.
      if (loaded === 404) return unavailable();
      figure.remove();
      continue;
    }
    img.src = loaded;
  }
}

async function open(token: string, code: string): Promise<void> {
  const outcome = await loadShare(token, code);
  switch (outcome.kind) {
    case 'ok':
      return render(token, code, outcome.share);
    case 'code':
      return askCode(token, outcome.wrong);
    case 'locked':
      return refusal('访问码错误次数过多，请稍后再试。', 'Too many wrong access codes. Try again later.');
    case 'unavailable':
      return unavailable();
    case 'error':
      return refusal('暂时无法加载，请稍后再试。', 'The page could not be loaded. Try again later.');
  }
}

const token = decodeURIComponent(location.hash.slice(1));
if (token === '') unavailable();
else void open(token, '');

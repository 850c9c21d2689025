import { accessTokenForOtherOrigin, ApiError, errorText, freshAccessTokenForOtherOrigin } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { ingestBase } from '../app/ingest-api';
import type { PageContext, Teardown } from '../app/router';
import { batches, sendBatch } from '../upload/stow-client';
import { fileResults, type FileState } from '../upload/stow-outcome';
import { t } from '../app/i18n';

/** Files of a drop, folders walked recursively (File and Directory Entries API). */
async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const entries = [...items].map((item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  const files: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      files.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries answers in chunks until it returns an empty list.
    for (;;) {
      const chunk = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (chunk.length === 0) break;
      for (const child of chunk) await walk(child);
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

function stateText(state: FileState | 'waiting' | 'sending'): string {
  return { waiting: t('waiting', '等待'), sending: t('sending', '发送中'), stored: t('stored', '已存储'), rejected: t('rejected', '被拒收'), failed: t('failed', '失败') }[state];
}

interface Row {
  file: File;
  tr: HTMLTableRowElement;
  bar: HTMLProgressElement;
  result: HTMLTableCellElement;
}

function setRow(row: Row, state: FileState | 'waiting' | 'sending', reason: string | null = null): void {
  row.tr.dataset.state = state;
  row.result.textContent = reason ? `${stateText(state)}: ${reason}` : stateText(state);
}

export function uploadPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  status.el.dataset.testid = 'upload-status';
  const fileInput = h('input', { type: 'file', multiple: true, id: 'files', 'data-testid': 'file-input' });
  const folderInput = h('input', { type: 'file', id: 'folder', webkitdirectory: true });
  const drop = h('div', { class: 'drop-zone', tabindex: 0, 'data-testid': 'drop-zone' }, t('Drop DICOM files or folders here', '将 DICOM 文件或文件夹拖放到此处'));
  const total = h('progress', { max: 1, value: 0, 'aria-label': t('Total progress', '总进度'), 'data-testid': 'total-progress' });
  const rows = h('tbody', {});
  const table = h('table', { class: 'uploads', 'data-testid': 'uploads' }, h('thead', {}, h('tr', {}, h('th', {}, t('File', '文件')), h('th', {}, t('Progress', '进度')), h('th', {}, t('Result', '结果')))), rows);
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('h1', {}, t('Upload studies', '上传检查')),
      drop,
      h('p', {}, h('label', { for: 'files' }, t('Files: ', '文件：')), fileInput, ' ', h('label', { for: 'folder' }, t('Folder: ', '文件夹：')), folderInput),
      total,
      status.el,
      table,
    ),
  );

  let running = false;
  const upload = async (all: File[]): Promise<void> => {
    const files = all.filter((f) => f.size > 0);
    if (files.length === 0) return;
    if (running) {
      status.set(t('An upload is running; add more files when it is done.', '正在上传；请在完成后再添加文件。'), 'error');
      return;
    }
    running = true;
    total.value = 0;
    delete status.el.dataset.done;
    status.set(t('Preparing…', '正在准备…'));
    const url = `${await ingestBase(controller.signal)}/dicomweb/studies`;
    const crossOrigin = new URL(url).origin !== location.origin;
    const token = async (fresh: boolean): Promise<string | null> => {
      if (!crossOrigin) return null;
      const access = fresh ? await freshAccessTokenForOtherOrigin() : await accessTokenForOtherOrigin();
      // Cross-origin without a token would be refused anyway (no cookies there): say why now.
      if (access === null && !fresh) throw new ApiError(401, t('Your session has ended; please sign in again.', '会话已结束，请重新登录。'));
      return access;
    };
    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    let doneBytes = 0;
    const count = { stored: 0, rejected: 0, failed: 0 };
    const all$ = files.map((file): Row => {
      const bar = h('progress', { max: 1, value: 0, 'aria-label': t(`Progress of ${file.name}`, `${file.name} 的进度`), 'data-testid': 'file-progress' });
      const result = h('td', { 'data-testid': 'file-result' });
      const tr = h('tr', { 'data-testid': 'upload-row', 'data-file': file.webkitRelativePath || file.name }, h('td', {}, file.webkitRelativePath || file.name), h('td', {}, bar), result);
      const row = { file, tr, bar, result };
      setRow(row, 'waiting');
      return row;
    });
    replace(rows, ...all$.map((r) => r.tr));
    let offset = 0;
    for (const batch of batches(files)) {
      const batchRows = all$.slice(offset, offset + batch.length);
      offset += batch.length;
      const batchBytes = batch.reduce((s, f) => s + f.size, 0);
      for (const row of batchRows) setRow(row, 'sending');
      status.set(t(`Sending ${offset} of ${files.length} files…`, `正在发送第 ${offset} 个，共 ${files.length} 个文件…`));
      const outcome = await sendBatch(batch, {
        url,
        token,
        signal: controller.signal,
        onProgress: (sent, of) => {
          // The request body is the files in order (plus small part headers): spread its progress over them.
          let sentBytes = of > 0 ? (sent / of) * batchBytes : 0;
          for (const row of batchRows) {
            row.bar.value = row.file.size > 0 ? Math.min(1, Math.max(0, sentBytes / row.file.size)) : 1;
            sentBytes -= row.file.size;
          }
          total.value = Math.min(1, (doneBytes + (of > 0 ? (sent / of) * batchBytes : 0)) / totalBytes);
        },
        onRetry: (attempt, code) => {
          status.set(t(`Retrying (attempt ${attempt}) after ${code === 0 ? 'a network error' : `status ${code}`}…`, `${code === 0 ? '网络错误' : `状态 ${code}`}，正在第 ${attempt} 次重试…`));
          for (const row of batchRows) setRow(row, 'sending', t(`retry ${attempt} after ${code === 0 ? 'a network error' : code}`, `${code === 0 ? '网络错误' : code}，第 ${attempt} 次重试`));
        },
      });
      doneBytes += batchBytes;
      total.value = doneBytes / totalBytes;
      fileResults(batch.length, outcome).forEach((result, i) => {
        const row = batchRows[i];
        if (!row) return;
        row.bar.value = 1;
        row.tr.dataset.attempts = String(outcome.attempts);
        count[result.state] += 1;
        setRow(row, result.state, result.reason);
      });
    }
    const problems = count.rejected + count.failed;
    status.set(
      t(
        `Done: ${count.stored} stored${count.rejected > 0 ? `, ${count.rejected} rejected` : ''}${count.failed > 0 ? `, ${count.failed} failed` : ''}.`,
        `完成：已存储 ${count.stored} 个${count.rejected > 0 ? `，被拒收 ${count.rejected} 个` : ''}${count.failed > 0 ? `，失败 ${count.failed} 个` : ''}。`,
      ),
      problems > 0 ? 'error' : 'info',
    );
    status.el.dataset.done = 'true';
    running = false;
  };
  const run = (files: File[]): void => {
    upload(files).catch((error: unknown) => {
      running = false;
      if (!controller.signal.aborted) status.set(errorText(error), 'error');
    });
  };

  const { signal } = controller;
  // The inputs are cleared after each choice, so choosing the same files again uploads them again.
  const chosen = (input: HTMLInputElement): void => {
    const files = [...(input.files ?? [])];
    input.value = '';
    run(files);
  };
  fileInput.addEventListener('change', () => chosen(fileInput), { signal });
  folderInput.addEventListener('change', () => chosen(folderInput), { signal });
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  }, { signal });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'), { signal });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!e.dataTransfer) return;
    droppedFiles(e.dataTransfer.items)
      .then(run)
      .catch((error: unknown) => status.set(errorText(error), 'error'));
  }, { signal });
  return () => controller.abort();
}

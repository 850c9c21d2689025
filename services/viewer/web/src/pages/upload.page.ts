import { accessTokenForOtherOrigin, errorText, getJson } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { obj, str } from '../app/json';
import type { PageContext, Teardown } from '../app/router';
import { batches, sendBatch } from '../upload/stow-client';

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

/** Where STOW-RS goes: the ingest service (GET /app-config.json from the viewer says where). */
async function ingestUrl(signal: AbortSignal): Promise<string> {
  const config = obj(await getJson('/app-config.json', signal));
  const url = str(obj(config.ingest).url);
  return url ?? location.origin;
}

export function uploadPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  const fileInput = h('input', { type: 'file', multiple: true, id: 'files', 'data-testid': 'file-input' });
  const folderInput = h('input', { type: 'file', id: 'folder', webkitdirectory: true });
  const drop = h('div', { class: 'drop-zone', tabindex: 0, 'data-testid': 'drop-zone' }, 'Drop DICOM files or folders here');
  const total = h('progress', { max: 1, value: 0, 'aria-label': 'Total progress', 'data-testid': 'total-progress' });
  const rows = h('tbody', {});
  const table = h('table', { class: 'uploads' }, h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'Progress'), h('th', {}, 'Result'))), rows);
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('h1', {}, 'Upload studies'),
      drop,
      h('p', {}, h('label', { for: 'files' }, 'Files: '), fileInput, ' ', h('label', { for: 'folder' }, 'Folder: '), folderInput),
      total,
      status.el,
      table,
    ),
  );

  let running = false;
  const upload = async (all: File[]): Promise<void> => {
    const files = all.filter((f) => f.size > 0);
    if (files.length === 0 || running) return;
    running = true;
    const url = `${(await ingestUrl(controller.signal)).replace(/\/+$/, '')}/dicomweb/studies`;
    const sameOrigin = new URL(url).origin === location.origin;
    const token = sameOrigin ? null : await accessTokenForOtherOrigin();
    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    let doneBytes = 0;
    let stored = 0;
    let failed = 0;
    const bars = new Map<File, { bar: HTMLProgressElement; result: HTMLElement }>();
    replace(
      rows,
      ...files.map((file) => {
        const bar = h('progress', { max: 1, value: 0 });
        const result = h('td', {}, 'waiting');
        bars.set(file, { bar, result });
        return h('tr', {}, h('td', {}, file.webkitRelativePath || file.name), h('td', {}, bar), result);
      }),
    );
    for (const batch of batches(files)) {
      const batchBytes = batch.reduce((s, f) => s + f.size, 0);
      for (const f of batch) {
        const row = bars.get(f);
        if (row) row.result.textContent = 'sending';
      }
      const outcome = await sendBatch(
        batch,
        {
          url,
          token,
          signal: controller.signal,
          onProgress: (sent, of) => {
            const share = of > 0 ? sent / of : 0;
            for (const f of batch) {
              const row = bars.get(f);
              if (row) row.bar.value = share;
            }
            total.value = (doneBytes + share * batchBytes) / totalBytes;
          },
        },
        (attempt, code) => status.set(`Retrying a batch (attempt ${attempt}) after ${code === 0 ? 'a network error' : `status ${code}`}…`),
      );
      doneBytes += batchBytes;
      total.value = doneBytes / totalBytes;
      stored += outcome.stored;
      failed += outcome.failed.length;
      const verdict = outcome.status === 200 ? 'stored' : outcome.status === 202 ? `partly stored (${outcome.failed.map((f) => f.reason).join(', ')})` : `failed (${outcome.status || 'network'})`;
      for (const f of batch) {
        const row = bars.get(f);
        if (row) {
          row.bar.value = 1;
          row.result.textContent = verdict;
        }
      }
      if (outcome.status >= 400 || outcome.status === 0) failed += batch.length - outcome.failed.length;
    }
    status.set(`Done: ${stored} instances stored${failed > 0 ? `, ${failed} failed` : ''}.`, failed > 0 ? 'error' : 'info');
    running = false;
  };
  const run = (files: File[]): void => {
    upload(files).catch((error: unknown) => {
      running = false;
      if (!controller.signal.aborted) status.set(errorText(error), 'error');
    });
  };

  const { signal } = controller;
  fileInput.addEventListener('change', () => run([...(fileInput.files ?? [])]), { signal });
  folderInput.addEventListener('change', () => run([...(folderInput.files ?? [])]), { signal });
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

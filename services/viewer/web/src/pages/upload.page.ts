import { accessTokenForOtherOrigin, ApiError, errorText, freshAccessTokenForOtherOrigin } from '../app/api';
import { h, replace, statusLine } from '../app/dom';
import { ingestBase } from '../app/ingest-api';
import type { PageContext, Teardown } from '../app/router';
import { batches, sendBatch } from '../upload/stow-client';
import { fileResults, type FileState } from '../upload/stow-outcome';

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

const STATE_TEXT: Record<FileState | 'waiting' | 'sending', string> = { waiting: 'waiting', sending: 'sending', stored: 'stored', rejected: 'rejected', failed: 'failed' };

interface Row {
  file: File;
  tr: HTMLTableRowElement;
  bar: HTMLProgressElement;
  result: HTMLTableCellElement;
}

function setRow(row: Row, state: FileState | 'waiting' | 'sending', reason: string | null = null): void {
  row.tr.dataset.state = state;
  row.result.textContent = reason ? `${STATE_TEXT[state]}: ${reason}` : STATE_TEXT[state];
}

export function uploadPage(ctx: PageContext): Teardown {
  const controller = new AbortController();
  const status = statusLine();
  status.el.dataset.testid = 'upload-status';
  const fileInput = h('input', { type: 'file', multiple: true, id: 'files', 'data-testid': 'file-input' });
  const folderInput = h('input', { type: 'file', id: 'folder', webkitdirectory: true });
  const drop = h('div', { class: 'drop-zone', tabindex: 0, 'data-testid': 'drop-zone' }, 'Drop DICOM files or folders here');
  const total = h('progress', { max: 1, value: 0, 'aria-label': 'Total progress', 'data-testid': 'total-progress' });
  const rows = h('tbody', {});
  const table = h('table', { class: 'uploads', 'data-testid': 'uploads' }, h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'Progress'), h('th', {}, 'Result'))), rows);
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
    if (files.length === 0) return;
    if (running) {
      status.set('An upload is running; add more files when it is done.', 'error');
      return;
    }
    running = true;
    total.value = 0;
    delete status.el.dataset.done;
    status.set('Preparing…');
    const url = `${await ingestBase(controller.signal)}/dicomweb/studies`;
    const crossOrigin = new URL(url).origin !== location.origin;
    const token = async (fresh: boolean): Promise<string | null> => {
      if (!crossOrigin) return null;
      const t = fresh ? await freshAccessTokenForOtherOrigin() : await accessTokenForOtherOrigin();
      // Cross-origin without a token would be refused anyway (no cookies there): say why now.
      if (t === null && !fresh) throw new ApiError(401, 'Your session has ended; please sign in again.');
      return t;
    };
    const totalBytes = files.reduce((s, f) => s + f.size, 0);
    let doneBytes = 0;
    const count = { stored: 0, rejected: 0, failed: 0 };
    const all$ = files.map((file): Row => {
      const bar = h('progress', { max: 1, value: 0, 'aria-label': `Progress of ${file.name}`, 'data-testid': 'file-progress' });
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
      status.set(`Sending ${offset} of ${files.length} files…`);
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
          status.set(`Retrying (attempt ${attempt}) after ${code === 0 ? 'a network error' : `status ${code}`}…`);
          for (const row of batchRows) setRow(row, 'sending', `retry ${attempt} after ${code === 0 ? 'a network error' : code}`);
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
      `Done: ${count.stored} stored${count.rejected > 0 ? `, ${count.rejected} rejected` : ''}${count.failed > 0 ? `, ${count.failed} failed` : ''}.`,
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

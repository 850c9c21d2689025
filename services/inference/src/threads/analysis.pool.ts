import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError, PermanentError, type Logger } from '@yunying/core';
import type { ImageAnalysis } from '../triage/analyse';
import type { AnalyseRequest, ThreadData, ThreadMessage } from './protocol';

interface Task {
  request: AnalyseRequest;
  resolve: (analysis: ImageAnalysis) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Task | null;
}

/**
 * A fixed pool of analysis threads (TRIAGE_CONCURRENCY of them), each with its own model session.
 * `start()` resolves once every thread has loaded the model and rejects if any cannot. A thread that
 * dies is replaced; the task it held is rejected as retryable.
 */
export class AnalysisPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly options: { size: number; modelDir: string; logger: Logger; threadFile?: string },
  ) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.size }, () => this.spawn()));
  }

  analyse(bytes: Uint8Array, maxFrames: number): Promise<ImageAnalysis> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'analysis pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, bytes, maxFrames }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new AppError('unavailable', 'analysis pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Promise<void> {
    const data: ThreadData = { modelDir: this.options.modelDir };
    const worker = new Worker(this.options.threadFile ?? path.join(__dirname, 'analysis.thread.js'), { workerData: data });
    const slot: Slot = { worker, busy: null };
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: ThreadMessage) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            this.slots.push(slot);
            resolve();
            this.dispatch();
            return;
          case 'load_failed':
            reject(new PermanentError(`analysis thread could not load the model: ${message.message}`));
            void worker.terminate();
            return;
          case 'result':
            this.finish(slot, (task) => task.resolve(message.analysis));
            return;
          case 'error': {
            const error = message.permanent ? new PermanentError(message.message) : new AppError('unavailable', `${message.name}: ${message.message}`, { retryable: true });
            this.finish(slot, (task) => task.reject(error));
            return;
          }
        }
      });
      worker.on('error', (error) => {
        this.options.logger.error({ err: error.message }, 'analysis thread crashed');
        if (!ready) reject(error);
      });
      worker.on('exit', (code) => {
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        slot.busy?.reject(new AppError('unavailable', `analysis thread exited (${code})`, { retryable: true }));
        slot.busy = null;
        if (ready && !this.closed) {
          this.spawn().catch((error: unknown) => this.options.logger.error({ err: String(error) }, 'analysis thread could not be replaced'));
        }
      });
    });
  }

  private finish(slot: Slot, settle: (task: Task) => void): void {
    const task = slot.busy;
    slot.busy = null;
    if (task) settle(task);
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.busy !== null) continue;
      const task = this.queue.shift();
      if (!task) return;
      slot.busy = task;
      const { bytes } = task.request;
      // Transfer the buffer when the view owns all of it; otherwise copy (a Buffer may share a pool).
      const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      slot.worker.postMessage(task.request, owned ? [bytes.buffer] : []);
    }
  }
}

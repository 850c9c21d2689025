/**
 * An analysis thread: owns one onnxruntime session and does the CPU-heavy part of a triage job (parse,
 * decode, render, locate, score) off the main event loop, so bull keeps renewing job locks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isAppError } from '@yunying/core';
import { TriageModel } from '@yunying/nodule-model';
import { analyseInstance } from '../triage/analyse';
import type { AnalyseRequest, ThreadData, ThreadMessage } from './protocol';

const port = parentPort;
if (port === null) throw new Error('analysis.thread must run as a worker thread');
const data = workerData as ThreadData;
const send = (message: ThreadMessage): void => port.postMessage(message);

TriageModel.load(data.modelDir, { intraOpNumThreads: 1 }).then(
  (model) => {
    port.on('message', (request: AnalyseRequest) => {
      analyseInstance(model, request.bytes, request.maxFrames).then(
        (analysis) => send({ type: 'result', id: request.id, analysis }),
        (error: unknown) => {
          // Only AppErrors carry messages written to be shown; anything else is reported by name only.
          const permanent = isAppError(error) && !error.retryable;
          send({
            type: 'error',
            id: request.id,
            permanent,
            name: error instanceof Error ? error.name : 'Error',
            message: isAppError(error) ? error.message : error instanceof Error ? error.message : String(error),
          });
        },
      );
    });
    send({ type: 'ready' });
  },
  (error: unknown) => send({ type: 'load_failed', message: error instanceof Error ? error.message : String(error) }),
);

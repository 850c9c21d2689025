import type http from 'node:http';
import type { Socket } from 'node:net';

/**
 * Time limits of an HTTP server, so a client that stops sending cannot hold a connection (and the
 * memory of its half-received upload) forever (#17 finding 10: four stalled 150 MiB uploads held
 * +620 MiB indefinitely; a 2 GiB Content-Length with 100 bytes never got an answer).
 *
 * - headersMs: the whole header block must arrive within this (slowloris).
 * - idleMs: a socket with no bytes either way for this long is answered 408 (when nothing was sent yet)
 *   and closed.
 * - requestMs: the whole request, body included, must arrive within this (Node answers 408). Long
 *   enough for the largest STOW-RS body over a slow clinic link.
 * - minBytesPerSecond: after graceMs, a request body that arrives slower than this on average over
 *   each window (windowMs) is answered 408 and closed. Time during which the server itself is not
 *   reading (its buffer full: back-pressure from the store) does not count against the client.
 */
export interface ServerLimits {
  headersMs: number;
  idleMs: number;
  requestMs: number;
  minBytesPerSecond: number;
  graceMs: number;
  windowMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersMs: 30_000,
  idleMs: 60_000,
  requestMs: 2 * 60 * 60_000,
  minBytesPerSecond: 4096,
  graceMs: 30_000,
  windowMs: 30_000,
};

const current = new WeakMap<Socket, http.ServerResponse>();

/** Answers 408 problem+json when no response has started, then closes the connection. */
function timeOut(socket: Socket, detail: string): void {
  const res = current.get(socket);
  if (res !== undefined && !res.headersSent && !res.writableEnded) {
    const body = JSON.stringify({ type: 'about:blank', title: 'Request Timeout', status: 408, code: 'request_timeout', detail });
    res.writeHead(408, { 'Content-Type': 'application/problem+json', Connection: 'close', 'Content-Length': Buffer.byteLength(body) });
    res.end(body, () => socket.destroy());
    // A client that does not read the answer cannot keep the socket either.
    setTimeout(() => socket.destroy(), 1000).unref();
    return;
  }
  socket.destroy();
}

/** Watches one request body's arrival rate; cleared when the request ends or the socket closes. */
function watchRate(req: http.IncomingMessage, socket: Socket, limits: ServerLimits): void {
  if (limits.minBytesPerSecond <= 0) return;
  const started = Date.now();
  let windowStart = started;
  let windowBytes = socket.bytesRead;
  const timer = setInterval(() => {
    const now = Date.now();
    if (req.complete || socket.destroyed) {
      clearInterval(timer);
      return;
    }
    // The server's own back-pressure: the body is buffered up to the mark and nobody reads it yet.
    if (req.readableLength >= req.readableHighWaterMark || req.isPaused()) {
      windowStart = now;
      windowBytes = socket.bytesRead;
      return;
    }
    if (now - started < limits.graceMs || now - windowStart < limits.windowMs) return;
    const rate = ((socket.bytesRead - windowBytes) * 1000) / (now - windowStart);
    if (rate < limits.minBytesPerSecond) {
      clearInterval(timer);
      timeOut(socket, `The request body arrived slower than ${limits.minBytesPerSecond} bytes per second`);
      return;
    }
    windowStart = now;
    windowBytes = socket.bytesRead;
  }, Math.max(100, Math.min(limits.windowMs, 1000)));
  timer.unref();
  const stop = (): void => clearInterval(timer);
  req.once('end', stop);
  socket.once('close', stop);
}

export function applyServerLimits(server: http.Server, limits: ServerLimits): void {
  server.headersTimeout = limits.headersMs;
  server.requestTimeout = limits.requestMs;
  // Node checks both on this interval; a short one keeps the limits close to what they say.
  server.keepAliveTimeout = Math.min(65_000, limits.idleMs);
  server.setTimeout(limits.idleMs, (socket: Socket) => timeOut(socket, `No data for ${Math.round(limits.idleMs / 1000)} s`));
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    current.set(socket, res);
    res.once('finish', () => {
      if (current.get(socket) === res) current.delete(socket);
    });
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (hasBody) watchRate(req, socket, limits);
  });
}

import net from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createLogger, isAppError } from '@yunying/core';
import { waitFor } from '../../../test/support/wait';
import { listen, type RunningServer } from './serve';
import { UploadBudget } from './upload-budget';

/**
 * #17 finding 10 on a real server and real sockets: a client that stops sending, sends too slowly or
 * never finishes its headers gets 408 and loses the connection; uploads in flight are bounded by the
 * upload budget (503 + Retry-After). Waits are for events (an answer, a close), never fixed sleeps
 * asserted as timings.
 */
const logger = createLogger({ level: 'silent', service: 'test' });

interface RawExchange {
  /** Everything the server sent before closing. */
  text: string;
  closed: boolean;
}

/** Writes `head`, then `drip` bytes every `everyMs` (while open), and collects the answer until close. */
function rawExchange(port: number, head: string, drip?: { bytes: string; everyMs: number }, waitMs = 15_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean): void => {
      clearInterval(timer);
      clearTimeout(guard);
      socket.destroy();
      resolve({ text, closed });
    };
    const guard = setTimeout(() => done(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
    socket.write(head);
    if (drip !== undefined) {
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(drip.bytes);
      }, drip.everyMs);
    }
  });
}

function sink(): express.Express {
  const app = express();
  app.post('/upload', (req, res) => {
    req.on('data', () => undefined);
    req.on('end', () => res.status(204).end());
  });
  return app;
}

describe('HTTP server limits', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close(100);
    server = undefined;
  });

  it('answers 408 and closes a body that stops arriving (2 GiB declared, 100 bytes sent)', async () => {
    server = await listen(sink(), '127.0.0.1', 0, logger, { idleMs: 700 });
    const result = await rawExchange(server.port, `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 * 1024 ** 3}\r\n\r\n${'a'.repeat(100)}`);
    expect(result.closed).toBe(true);
    expect(result.text).toMatch(/^HTTP\/1\.1 408 /);
  }, 20_000);

  it('answers 408 to a body that trickles in below the minimum rate, though never idle', async () => {
    server = await listen(sink(), '127.0.0.1', 0, logger, { idleMs: 10_000, minBytesPerSecond: 1000, graceMs: 500, windowMs: 500 });
    const result = await rawExchange(server.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n', { bytes: 'abcd', everyMs: 100 });
    expect(result.closed).toBe(true);
    expect(result.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.text).toContain('slower than 1000 bytes per second');
  }, 20_000);

  it('closes a connection whose headers never finish', async () => {
    server = await listen(sink(), '127.0.0.1', 0, logger, { headersMs: 1000, idleMs: 10_000 });
    const result = await rawExchange(server.port, 'POST /upload HTTP/1.1\r\nHost: x\r\n', { bytes: 'X', everyMs: 100 });
    expect(result.closed).toBe(true);
    expect(result.text).toMatch(/^HTTP\/1\.1 408 /);
  }, 20_000);

  it('does not cut a body the server itself is slow to read (back-pressure is not the client stalling)', async () => {
    const app = express();
    app.post('/slow', (req, res) => {
      // Reads nothing for 2 s: the client's bytes pile up in the socket, then everything is read.
      setTimeout(() => {
        let size = 0;
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
        });
        req.on('end', () => res.status(200).json({ size }));
      }, 2000);
    });
    server = await listen(app, '127.0.0.1', 0, logger, { idleMs: 10_000, minBytesPerSecond: 1024 * 1024, graceMs: 300, windowMs: 300 });
    const body = Buffer.alloc(4 * 1024 * 1024, 1);
    const response = await fetch(`${server.url}/slow`, { method: 'POST', body });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ size: body.length });
  }, 20_000);
});

describe('UploadBudget', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close(100);
    server = undefined;
  });

  it('refuses an upload with 503 + Retry-After while others hold the budget, and admits again once they end', async () => {
    const budget = new UploadBudget(1000, 7);
    const app = express();
    app.post('/upload', (req, res) => {
      budget.admit(Number(req.headers['content-length']), res);
      req.on('data', () => undefined);
      req.on('end', () => res.status(204).end());
    });
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      if (isAppError(error)) {
        if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
        res.status(error.status).json({ code: error.code });
      } else res.status(500).end();
    });
    server = await listen(app, '127.0.0.1', 0, logger);
    const port = server.port;

    // One upload of 800 bytes declared, 10 sent: it holds 800 of the 1000.
    const holder = net.connect(port, '127.0.0.1');
    holder.on('error', () => undefined);
    holder.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n\r\n0123456789');
    await waitFor('the upload to hold its declared bytes', () => Promise.resolve(budget.heldBytes >= 800), 5000, 20);
    expect(budget.heldBytes).toBe(800);

    const refused = await fetch(`${server.url}/upload`, { method: 'POST', body: Buffer.alloc(800) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');

    const closed = new Promise((r) => holder.once('close', r));
    holder.destroy();
    await closed;
    await waitFor('the closed upload to give its bytes back', () => Promise.resolve(budget.heldBytes === 0), 5000, 20);
    const admitted = await fetch(`${server.url}/upload`, { method: 'POST', body: Buffer.alloc(800) });
    expect(admitted.status).toBe(204);
  }, 20_000);

  it('admits one upload larger than the whole budget when nothing else is in flight', async () => {
    const budget = new UploadBudget(100);
    const app = express();
    app.post('/upload', (req, res) => {
      budget.admit(5000, res);
      req.resume();
      req.on('end', () => res.status(204).end());
    });
    server = await listen(app, '127.0.0.1', 0, logger);
    const response = await fetch(`${server.url}/upload`, { method: 'POST', body: Buffer.alloc(5000) });
    expect(response.status).toBe(204);
  });
});

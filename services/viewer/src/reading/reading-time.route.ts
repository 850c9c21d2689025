import { z } from 'zod';
import { parseInput, SecureRouter, type Authenticator } from '@yunying/auth';
import type { Pool } from '@yunying/catalog';
import { AppError } from '@yunying/core';
import { readingTimeStats } from './reading-time.repository';

/**
 * Days are calendar days in China Standard Time: the centres are in China, and UTC+8 has no daylight
 * saving, so a day's bounds are fixed offsets.
 */
const TIME_ZONE = 'Asia/Shanghai';
const OFFSET = '+08:00';
const MAX_DAYS = 366;

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const query = z.object({ from: day.optional(), to: day.optional() }).strict();

function dayStart(text: string): Date {
  const date = new Date(`${text}T00:00:00${OFFSET}`);
  if (Number.isNaN(date.getTime())) throw new AppError('bad_request', 'Invalid query: dates must be YYYY-MM-DD');
  return date;
}

function today(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** GET /api/reading-times: median and p90 of open -> sign, per radiologist and per day (admins). */
export function readingTimeRoutes(pool: Pool, authenticator: Authenticator): SecureRouter {
  const routes = new SecureRouter('viewer.reading-times', authenticator);
  routes.get('/api/reading-times', { scope: 'admin', roles: ['admin'], description: 'reading time (claim -> sign) per radiologist and day' }, async (req, res) => {
    const q = parseInput(query, req.query, 'query');
    // `to` is inclusive (a whole day); the default is the last 30 days up to today.
    const to = dayStart(q.to ?? today());
    const from = dayStart(q.from ?? new Date(to.getTime() - 29 * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10));
    const end = new Date(to.getTime() + 86_400_000);
    if (end <= from || (end.getTime() - from.getTime()) / 86_400_000 > MAX_DAYS) throw new AppError('bad_request', `Invalid query: from must be on or before to, at most ${MAX_DAYS} days`);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ from: from.toISOString(), to: end.toISOString(), timeZone: TIME_ZONE, ...(await readingTimeStats(pool, { from, to: end, timeZone: TIME_ZONE })) });
  });
  return routes;
}

import { ExitCode } from '../exit-codes';
import type { UploadEvent } from './upload.events';
import { UploadTally } from './upload.tally';

function tally(): { tally: UploadTally; events: UploadEvent[] } {
  const events: UploadEvent[] = [];
  return { tally: new UploadTally({ emit: (e) => events.push(e), close: () => undefined }, 0), events };
}

const refused = { path: 'a.dcm', reason: 'uid_conflict', message: 'held by another clinic', source: 'archive' as const };

describe('UploadTally: the summary of a run', () => {
  it('exit code: a refused key over anything not sent, not sent over rejections, else ok', () => {
    const ok = tally().tally;
    ok.sent = 3;
    expect(ok.summary(1500)).toMatchObject({ sent: 3, exitCode: ExitCode.Ok, seconds: 1.5 });
    expect(ok.summary(1500)).not.toHaveProperty('error');

    const rejected = tally().tally;
    rejected.reject(refused);
    expect(rejected.summary().exitCode).toBe(ExitCode.Rejected);

    const unreachable = tally().tally;
    unreachable.reject(refused);
    unreachable.notSent = 2;
    unreachable.gaveUp('gave_up', 'gave up after 5 attempts');
    expect(unreachable.summary()).toMatchObject({ exitCode: ExitCode.Unreachable, error: 'gave up after 5 attempts' });

    const auth = tally().tally;
    auth.notSent = 2;
    auth.gaveUp('gave_up', 'timeout');
    auth.authRefused('401 key refused');
    expect(auth.summary()).toMatchObject({ exitCode: ExitCode.AuthRefused, error: '401 key refused' });
  });

  it('an interrupt keeps the first reason; a later give-up only adds its message, marked interrupted', () => {
    const { tally: t } = tally();
    expect(t.stopped).toBe(false);
    t.interrupt();
    expect(t.stopped).toBe(true);
    t.gaveUp('gave_up', 'aborted while waiting to retry');
    t.gaveUp('gave_up', 'a later batch');
    t.notSent = 4;
    expect(t.summary()).toMatchObject({ exitCode: ExitCode.Unreachable, error: 'interrupted: aborted while waiting to retry' });
  });

  it('every skipped or rejected file is both reported and listed', () => {
    const { tally: t, events } = tally();
    t.skip({ path: 'DICOMDIR', note: 'DICOMDIR (index only)' });
    t.reject(refused);
    expect(events).toEqual([
      { event: 'skipped', path: 'DICOMDIR', note: 'DICOMDIR (index only)' },
      { event: 'rejected', ...refused },
    ]);
    expect(t.summary()).toMatchObject({ skipped: [{ path: 'DICOMDIR', note: 'DICOMDIR (index only)' }], rejected: [refused] });
  });
});

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findExecutable } from './skip';
import { freePort } from './processes';
import { waitFor } from './wait';

/**
 * More RGW endpoints on the Ceph cluster the tests already have (CEPH_CONF from infra/ceph/up.sh's
 * s3.env): each a radosgw of its own (own cephx name and key, own port), in the foreground as this test's
 * child, so the test can kill one with -9 and start it again without touching the daemons it did not
 * start. Same cluster, same users: a bucket made through one endpoint is reachable through the others,
 * as three RGW endpoints in front of one Ceph are (production: three clusters, one per failure domain).
 */
export interface ExtraRgw {
  name: string;
  endpoint: string;
  /** kill -9 of the radosgw process (the endpoint refuses connections). */
  kill: () => Promise<void>;
  /** Starts it again on the same port; resolves when it answers. */
  start: () => Promise<void>;
  /** Stops it and removes its cephx key and files. */
  remove: () => Promise<void>;
}

const radosgw = findExecutable('radosgw');
const ceph = findExecutable('ceph');

/** Why extra RGW endpoints cannot be started here, or null when they can. */
export function extraRgwUnavailable(): string | null {
  if (radosgw === null || ceph === null) return 'radosgw/ceph CLI not installed';
  const conf = process.env.CEPH_CONF;
  if (conf === undefined || !fs.existsSync(conf)) return 'CEPH_CONF unset (the s3.env of infra/ceph/up.sh sets it)';
  return null;
}

export async function startExtraRgw(label: string): Promise<ExtraRgw> {
  const conf = process.env.CEPH_CONF ?? '';
  const name = `client.rgw.${label}-${process.pid}-${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yy-rgw-'));
  const keyring = path.join(dir, 'keyring');
  const cli = (args: string[]): string => execFileSync(ceph ?? 'ceph', ['--conf', conf, ...args], { stdio: 'pipe' }).toString();
  cli(['auth', 'get-or-create', name, 'mon', 'allow rw', 'osd', 'allow rwx', 'mgr', 'allow rw', '-o', keyring]);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    child = spawn(
      radosgw ?? 'radosgw',
      [
        '-f',
        '--conf', conf,
        '-n', name,
        '--keyring', keyring,
        '--rgw-frontends', `beast endpoint=127.0.0.1:${port}`,
        '--rgw-data', dir,
        '--rgw-dns-name', 'localhost',
        '--rgw-thread-pool-size', '16',
        '--pid-file', path.join(dir, 'pid'),
        '--admin-socket', path.join(dir, 'asok'),
        '--log-file', path.join(dir, 'log'),
      ],
      { stdio: 'ignore' },
    );
    await waitFor(`radosgw ${label} answering`, async () => (await fetch(endpoint).catch(() => null))?.status === 200, 60_000, 200);
  };
  const kill = async (): Promise<void> => {
    const running = child;
    if (running === null || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    name,
    endpoint,
    kill,
    start,
    remove: async () => {
      await kill();
      try {
        cli(['auth', 'del', name]);
      } catch {
        // the cluster may already be gone (npm test's cleanup)
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

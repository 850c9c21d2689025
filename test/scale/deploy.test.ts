import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { allocatorTuned, envSchema, loadConfig } from '@yunying/config';
import { REPO_ROOT } from '../support/processes';

/**
 * infra/deploy (issue #18): parses every Kubernetes manifest with the `yaml` package and checks what an
 * operator relies on: one Deployment per role with probes on /healthz and /readyz, requests and limits,
 * a Service and a PodDisruptionBudget selecting it; and every environment variable named anywhere is one
 * the configuration schema knows, with values the schema accepts (a typo would be silently ignored).
 */
const DEPLOY = path.join(REPO_ROOT, 'infra/deploy');
const ROLES = ['ingest', 'viewer', 'inference', 'keeper'] as const;

type Obj = Record<string, unknown>;

function obj(value: unknown, what: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: not a mapping`);
  return value as Obj;
}
function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what}: not a list`);
  return value;
}
function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) current = obj(current, keys.join('.'))[key];
  return current;
}

interface Manifest {
  file: string;
  kind: string;
  name: string;
  doc: Obj;
}

function loadManifests(): Manifest[] {
  const kustomization = obj(parseAllDocuments(fs.readFileSync(path.join(DEPLOY, 'kustomization.yaml'), 'utf8'))[0]?.toJS(), 'kustomization');
  const files = list(kustomization.resources, 'resources').map(String);
  const out: Manifest[] = [];
  for (const file of files) {
    for (const parsed of parseAllDocuments(fs.readFileSync(path.join(DEPLOY, file), 'utf8'))) {
      if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors[0]?.message ?? 'YAML error'}`);
      const doc = obj(parsed.toJS(), file);
      out.push({ file, kind: String(doc.kind), name: String(at(doc, 'metadata', 'name')), doc });
    }
  }
  return out;
}

describe('infra/deploy Kubernetes manifests (parsed, checked against the config schema)', () => {
  const manifests = loadManifests();
  const schemaKeys = new Set(Object.keys(envSchema.shape));
  const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.name === 'yunying-config');
  const shared = Object.fromEntries(Object.entries(obj(configMap?.doc.data, 'ConfigMap data')).map(([k, v]) => [k, String(v)]));

  it('lists every manifest file in kustomization.yaml', () => {
    const onDisk = [...fs.readdirSync(DEPLOY), ...fs.readdirSync(path.join(DEPLOY, 'engines')).map((f) => `engines/${f}`)].filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect(new Set(manifests.map((m) => m.file))).toEqual(new Set(onDisk));
  });

  it('names only variables of the configuration schema, in the ConfigMap', () => {
    expect(Object.keys(shared).length).toBeGreaterThan(10);
    expect(Object.keys(shared).filter((k) => !schemaKeys.has(k))).toEqual([]);
  });

  it('starts every role with the recommended allocator settings (#14)', () => {
    expect(allocatorTuned(shared.GLIBC_TUNABLES)).toBe(true);
  });

  for (const role of ROLES) {
    describe(`role ${role}`, () => {
      const deployment = manifests.find((m) => m.kind === 'Deployment' && m.name === `yunying-${role}`);
      const pod = obj(at(deployment?.doc, 'spec', 'template', 'spec'), 'pod spec');
      const [container] = list(pod.containers, 'containers').map((c) => obj(c, 'container'));
      const env = list(container?.env, 'env').map((e) => obj(e, 'env entry'));
      const labels = obj(at(deployment?.doc, 'spec', 'selector', 'matchLabels'), 'matchLabels');

      it('sets only schema variables, and ROLE to this role; the ConfigMap plus these values load', () => {
        const names = env.map((e) => String(e.name));
        expect(names.filter((n) => !schemaKeys.has(n))).toEqual([]);
        expect(env.find((e) => e.name === 'ROLE')?.value).toBe(role);
        // Secrets come from secretKeyRef: stand-ins of the right shape, so the schema validates the rest.
        const stand: Record<string, string> = { AUTH_TOKEN_SECRET: 'k'.repeat(48), DATABASE_URL: 'postgres://u:p@catalog/yunying', CATALOG_READ_URL: 'postgres://u:p@catalog-ro/yunying', S3_ACCESS_KEYS: 'a1,a2,a3', S3_SECRET_KEYS: 's1,s2,s3' };
        const values = Object.fromEntries(env.map((e) => [String(e.name), e.value === undefined ? (stand[String(e.name)] ?? '') : typeof e.value === 'string' ? e.value : JSON.stringify(e.value)]));
        const config = loadConfig({ ...shared, ...values }, '/srv');
        expect(config.role).toBe(role);
        expect(config.storage.backend).toBe('s3');
        // One key per copy (#17 finding 7), from this role's own Secret.
        if (config.storage.backend === 's3') expect(config.storage.credentials.map((c) => c.accessKey)).toEqual(['a1', 'a2', 'a3']);
        expect(env.find((e) => e.name === 'S3_ACCESS_KEY' || e.name === 'S3_SECRET_KEY')).toBeUndefined();
        expect(config.redis.queuePrefix).toMatch(/^\{.+\}$/);
        // Only the viewer reads from the replicas (#18); every other role keeps the primary for everything.
        expect(names.includes('CATALOG_READ_URL')).toBe(role === 'viewer');
        if (role === 'viewer') expect(config.database.readReplica?.url).toBe('postgres://u:p@catalog-ro/yunying');
        const port = list(container?.ports, 'ports').map((p) => obj(p, 'port')).find((p) => p.name === 'http');
        expect(port?.containerPort).toBe(config.http.ports[role]);
      });

      it('probes /healthz (startup, liveness) and /readyz (readiness) on its HTTP port, with requests and limits', () => {
        expect(at(container, 'livenessProbe', 'httpGet', 'path')).toBe('/healthz');
        expect(at(container, 'startupProbe', 'httpGet', 'path')).toBe('/healthz');
        expect(at(container, 'readinessProbe', 'httpGet', 'path')).toBe('/readyz');
        expect(at(container, 'readinessProbe', 'httpGet', 'port')).toBe('http');
        for (const kind of ['requests', 'limits']) {
          expect(Object.keys(obj(at(container, 'resources', kind), kind)).sort()).toEqual(['cpu', 'memory']);
        }
        // No local state: scratch, and the audit and storage keys (Secrets, read-only).
        const volumes = list(pod.volumes ?? [], 'volumes').map((v) => obj(v, 'volume'));
        const allowed = (v: Obj): boolean => 'emptyDir' in v || ('secret' in v && ['yunying-audit-keys', 'yunying-storage-keys'].includes(String(at(v, 'secret', 'secretName'))));
        expect(volumes.filter((v) => !allowed(v))).toEqual([]);
        // Every role appends audit records, so every role mounts the MAC key, read-only.
        const mounts = list(container?.volumeMounts, 'volumeMounts').map((m) => obj(m, 'volumeMount'));
        expect(mounts.find((m) => m.name === 'audit-keys')).toMatchObject({ mountPath: '/run/secrets/yunying-audit', readOnly: true });
        // Every role reads sealed copies (#17 at rest): the key file where STORAGE_KEY_FILE points, read-only.
        expect(mounts.find((m) => m.name === 'storage-keys')).toMatchObject({ mountPath: '/run/secrets/yunying-storage', readOnly: true });
        expect(shared.STORAGE_KEY_FILE?.startsWith('/run/secrets/yunying-storage/')).toBe(true);
      });

      it('has a Service and a PodDisruptionBudget selecting its pods, and more than one replica', () => {
        expect(Number(at(deployment?.doc, 'spec', 'replicas'))).toBeGreaterThanOrEqual(2);
        const service = manifests.find((m) => m.kind === 'Service' && m.name === `yunying-${role}`);
        expect(at(service?.doc, 'spec', 'selector')).toEqual(labels);
        const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget' && m.name === `yunying-${role}`);
        expect(at(pdb?.doc, 'spec', 'selector', 'matchLabels')).toEqual(labels);
        expect(at(pdb?.doc, 'spec', 'maxUnavailable')).toBe(1);
      });
    });
  }

  it('gives every role object-storage keys of its own (one Secret per role, one key per copy inside)', () => {
    const secretOf = (role: string, variable: string): unknown => {
      const d = manifests.find((m) => m.kind === 'Deployment' && m.name === `yunying-${role}`);
      const [c] = list(at(d?.doc, 'spec', 'template', 'spec', 'containers'), 'containers');
      const key = list(obj(c, 'c').env, 'env').map((e) => obj(e, 'e')).find((e) => e.name === variable);
      return at(key, 'valueFrom', 'secretKeyRef', 'name');
    };
    for (const role of ROLES) {
      expect(secretOf(role, 'S3_ACCESS_KEYS')).toBe(`yunying-s3-${role}`);
      expect(secretOf(role, 'S3_SECRET_KEYS')).toBe(`yunying-s3-${role}`);
    }
    expect(new Set(ROLES.map((role) => secretOf(role, 'S3_ACCESS_KEYS'))).size).toBe(ROLES.length);
  });

  it('describes the engines: PostgreSQL HA with WAL archiving, Redis with AOF, three Object Lock RGW stores', () => {
    const pg = manifests.find((m) => m.kind === 'Cluster');
    expect(Number(at(pg?.doc, 'spec', 'instances'))).toBeGreaterThanOrEqual(2);
    expect(at(pg?.doc, 'spec', 'backup', 'barmanObjectStore', 'wal')).toBeDefined();
    const redis = manifests.find((m) => m.kind === 'StatefulSet' && m.name === 'yunying-redis');
    const [redisContainer] = list(at(redis?.doc, 'spec', 'template', 'spec', 'containers'), 'containers');
    expect(list(obj(redisContainer, 'redis').args, 'args').join(' ')).toContain('--appendonly yes');
    expect(manifests.filter((m) => m.kind === 'CephObjectStore')).toHaveLength(3);
    expect(shared.S3_ENDPOINTS?.split(',')).toHaveLength(3);
  });
});

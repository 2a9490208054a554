// The Kubernetes manifests (deploy/k8s) validate against the Kubernetes API
// schemas bundled in `kubernetes-models` (offline), and say what a
// production deployment needs: probes on the health route, resource
// requests, disruption budgets, worker autoscaling, secrets by reference,
// and only settings the service knows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { ConfigSchema } from '../../infra/config';

const DIR = path.resolve(__dirname, '../../deploy/k8s');
type Obj = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };
const objects: (Obj & { file: string })[] = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((file) => parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8')).map((d) => ({ ...(d.toJS() as Obj), file })));
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const podSpecs = objects.flatMap((o) => (o.kind === 'Deployment' || o.kind === 'Job' ? [{ o, pod: o.spec.template.spec }] : []));
const containers = podSpecs.flatMap(({ o, pod }) => [...(pod.initContainers ?? []), ...pod.containers].map((c: any) => ({ o, c })));

test('every object validates against the Kubernetes API schemas', () => {
  const out = execFileSync(process.execPath, [path.join(DIR, 'validate.mjs')], { encoding: 'utf8' });
  const results = JSON.parse(out) as { file: string; kind: string; name: string; errors: string[] }[];
  expect(results.map((r) => `${r.kind}/${r.name}`).sort()).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort());
  expect(results.filter((r) => r.errors.length)).toEqual([]);
});

test('kustomization lists every manifest', () => {
  const k = parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  expect([...k.resources].sort()).toEqual([...new Set(objects.map((o) => o.file))].sort());
});

test('the API and the worker, with the one-shot migration', () => {
  const api = find('Deployment', 'crm-offboarding-api')!;
  const worker = find('Deployment', 'crm-offboarding-worker')!;
  const job = find('Job', 'crm-offboarding-migrate')!;
  const command = (o: Obj) => [...(o.spec.template.spec.initContainers ?? []), ...o.spec.template.spec.containers].map((c: any) => c.command.join(' '));
  expect(command(api)).toEqual(['node --import tsx api/main.ts']);
  expect(command(worker)).toEqual(['node --import tsx worker/main.ts']);
  expect(command(job)).toEqual(['node --import tsx scripts/db-migrate.ts', 'node --import tsx scripts/temporal-setup.ts']);
  for (const file of ['api/main.ts', 'worker/main.ts', 'scripts/db-migrate.ts', 'scripts/temporal-setup.ts']) {
    expect(fs.existsSync(path.resolve(__dirname, '../..', file))).toBe(true);
  }
});

test('the API is ready by its health route; the worker is probed on its metrics port', () => {
  const api = find('Deployment', 'crm-offboarding-api')!.spec.template.spec.containers[0];
  expect(api.readinessProbe.httpGet).toEqual({ path: '/v1/health', port: 'http' });
  expect(api.startupProbe.httpGet.path).toBe('/v1/health');
  expect(api.livenessProbe).toBeDefined();
  expect(api.ports).toEqual([{ name: 'http', containerPort: 3000 }]);
  const worker = find('Deployment', 'crm-offboarding-worker')!.spec.template.spec.containers[0];
  expect(worker.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
  expect(worker.ports).toEqual([{ name: 'metrics', containerPort: 9464 }]);
  expect(find('ConfigMap', 'crm-offboarding')!.data!.WORKER_METRICS_PORT).toBe('9464');
});

test('every container requests resources and runs unprivileged', () => {
  expect(containers.length).toBeGreaterThanOrEqual(4);
  for (const { o, c } of containers) {
    expect({ where: `${o.metadata.name}/${c.name}`, cpu: c.resources?.requests?.cpu, memory: c.resources?.requests?.memory }).toEqual({
      where: `${o.metadata.name}/${c.name}`,
      cpu: expect.any(String),
      memory: expect.any(String),
    });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
  }
  for (const { pod } of podSpecs) expect(pod.securityContext.runAsNonRoot).toBe(true);
});

test('disruption budgets cover both, and the worker autoscales', () => {
  for (const component of ['api', 'worker']) {
    const deployment = find('Deployment', `crm-offboarding-${component}`)!;
    const pdb = find('PodDisruptionBudget', `crm-offboarding-${component}`)!;
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  }
  const hpa = find('HorizontalPodAutoscaler', 'crm-offboarding-worker')!;
  expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'crm-offboarding-worker' });
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  expect(find('Deployment', 'crm-offboarding-worker')!.spec.replicas).toBeUndefined(); // the HPA owns it
  const service = find('Service', 'crm-offboarding-api')!;
  expect(service.spec.selector).toEqual(find('Deployment', 'crm-offboarding-api')!.spec.selector.matchLabels);
});

test('secrets are only referenced, never written here; every setting is one the service reads', () => {
  expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  const known = new Set([...Object.keys(ConfigSchema.shape), 'CHECKPOINT_DISABLE']);
  const secret = /DATABASE_URL|API_KEY|ENCRYPTION_KEYS|PASSWORD|TOKEN/;
  for (const [name] of Object.entries(find('ConfigMap', 'crm-offboarding')!.data!)) {
    expect({ name, known: known.has(name), secret: secret.test(name) }).toEqual({ name, known: true, secret: false });
  }
  for (const { o, c } of containers) {
    for (const e of c.env ?? []) {
      expect({ where: o.metadata.name, name: e.name, known: known.has(e.name) }).toEqual({ where: o.metadata.name, name: e.name, known: true });
      if (secret.test(e.name)) expect({ name: e.name, value: e.value, ref: e.valueFrom?.secretKeyRef?.name }).toEqual({ name: e.name, value: undefined, ref: 'crm-offboarding' });
    }
  }
  // The API and every worker share the payload key (one reads what the other wrote).
  for (const name of ['crm-offboarding-api', 'crm-offboarding-worker']) {
    const env = find('Deployment', name)!.spec.template.spec.containers[0].env.map((e: any) => e.name);
    expect(env).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_API_KEY', 'PAYLOAD_ENCRYPTION_KEYS']));
  }
});

// Validates every Kubernetes object under deploy/k8s against the Kubernetes
// API schemas bundled in the npm package `kubernetes-models` (offline: no
// schema is fetched). Prints one JSON line: [{file, kind, name, errors}].
// Run by tests/prod/k8s.test.ts (an ES module: jest's CommonJS runtime cannot load the package).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const dir = path.dirname(fileURLToPath(import.meta.url));
const modules = {
  v1: () => import('kubernetes-models/v1'),
  'apps/v1': () => import('kubernetes-models/apps/v1'),
  'batch/v1': () => import('kubernetes-models/batch/v1'),
  'policy/v1': () => import('kubernetes-models/policy/v1'),
  'autoscaling/v2': () => import('kubernetes-models/autoscaling/v2'),
};

const results = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()) {
  for (const doc of parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
    const object = doc.toJS();
    if (!object) continue;
    const entry = { file, kind: object.kind, name: object.metadata?.name ?? null, errors: [] };
    const load = modules[object.apiVersion];
    const Model = load ? (await load())[object.kind] : undefined;
    if (!Model) {
      entry.errors.push(`no schema for ${object.apiVersion} ${object.kind}`);
    } else {
      try {
        new Model(object).validate();
      } catch (err) {
        entry.errors.push(String(err.message ?? err));
      }
    }
    results.push(entry);
  }
}
console.log(JSON.stringify(results));

// Validates every Kubernetes manifest we ship against the official schemas, through
// kubernetes-models: a typo in a field name or a wrong type fails here, not at apply time.
// Usage: node manifests_check.mjs FILE.yaml...   Prints one line per object, exits 1 on error.
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';

const modules = {
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'apps/v1/DaemonSet': 'kubernetes-models/apps/v1/DaemonSet',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  'rbac.authorization.k8s.io/v1/Role': 'kubernetes-models/rbac.authorization.k8s.io/v1/Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding',
};

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const document of yaml.loadAll(readFileSync(file, 'utf8'))) {
    if (!document) continue;
    const key = `${document.apiVersion}/${document.kind}`;
    const label = `${file}: ${key} ${document.metadata?.namespace ?? ''}/${document.metadata?.name}`;
    const path = modules[key];
    if (!path) {
      console.log(`FAIL ${label}: no schema mapping for ${key}`);
      failures++;
      continue;
    }
    const model = Object.values(await import(path))[0];
    try {
      new model(document).validate();
      console.log(`PASS ${label}`);
      checked++;
    } catch (error) {
      console.log(`FAIL ${label}: ${error.message}`);
      failures++;
    }
  }
}
console.log(`${checked} passed, ${failures} failed`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);

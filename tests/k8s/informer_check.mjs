// Runs the official Kubernetes JavaScript client's informers against a cluster (meant for
// tests/k8s/fake_apiserver.py) and prints what they see, one JSON object per line on stdout:
//   {"ev":"list","res":"pods","pages":3,"items":120,"rv":"345","rvs":["345"],"remaining":[...]}
//   {"ev":"add"|"update"|"delete","res":"pods","ns":"default","name":"p1","rv":"350","ip":"10.0.0.1","node":"node-a"}
//   {"ev":"connect","res":"pods"}  {"ev":"error","res":"pods","code":410,"message":"..."}
//   {"ev":"cache","res":{"pods":[...],"configmaps":[...],"namespaces":[...]}}   (answer to "dump")
// Commands on stdin, one a line: "dump" prints the informers' caches; "quit" stops and exits.
//
// Informers: pods of one node (ListWatch with fieldSelector spec.nodeName=NODE; makeInformer in
// client-node 2.0 takes no field selector, and ListWatch is what it builds), configmaps of one
// namespace (makeInformer) and namespaces with a label selector (makeInformer). Their list
// functions page with limit/continue the way client-go's pager does, so the first sync is chunked.
//
// Usage: node informer_check.mjs --kubeconfig FILE [--node node-a] [--cm-namespace dscp-system]
//        [--ns-selector dscp.io/watched] [--limit 50]
import * as k8s from '@kubernetes/client-node';
import { createInterface } from 'node:readline';

function parseArgs(argv) {
  const out = { node: 'node-a', cmNamespace: 'dscp-system', nsSelector: 'dscp.io/watched', limit: 50 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (k === '--kubeconfig') out.kubeconfig = v;
    else if (k === '--node') out.node = v;
    else if (k === '--cm-namespace') out.cmNamespace = v;
    else if (k === '--ns-selector') out.nsSelector = v;
    else if (k === '--limit') out.limit = Number(v);
    else throw new Error(`unknown argument ${k}`);
    i++;
  }
  return out;
}

const args = parseArgs(process.argv);
const emit = (o) => process.stdout.write(JSON.stringify({ t: Date.now(), ...o }) + '\n');

const kc = new k8s.KubeConfig();
if (args.kubeconfig) kc.loadFromFile(args.kubeconfig);
else kc.loadFromDefault();
const core = kc.makeApiClient(k8s.CoreV1Api);

// client-go's pager: first page without continue, then follow metadata.continue (and never send
// resourceVersion together with continue: the apiserver rejects that).
function pagedList(res, fetchPage) {
  return async () => {
    const items = [];
    const rvs = [];
    const remaining = [];
    let cont;
    let last;
    let pages = 0;
    do {
      const page = await fetchPage({ limit: args.limit, _continue: cont });
      pages++;
      last = page;
      rvs.push(page.metadata?.resourceVersion);
      remaining.push(page.metadata?.remainingItemCount ?? null);
      items.push(...(page.items || []));
      cont = page.metadata?._continue;
    } while (cont);
    emit({ ev: 'list', res, pages, items: items.length, rv: rvs[0], rvs, remaining });
    last.items = items;
    last.metadata.resourceVersion = rvs[0];
    return last;
  };
}

const describe = (res, o) => ({
  res,
  ns: o.metadata?.namespace ?? '',
  name: o.metadata?.name,
  rv: o.metadata?.resourceVersion,
  ...(res === 'pods'
    ? { ip: o.status?.podIP ?? null, node: o.spec?.nodeName ?? null, phase: o.status?.phase ?? null }
    : {}),
  ...(res === 'configmaps' ? { data: o.data ?? null } : {}),
  ...(res === 'namespaces' ? { labels: o.metadata?.labels ?? {} } : {}),
});

const informers = {
  pods: new k8s.ListWatch(
    '/api/v1/pods',
    new k8s.Watch(kc),
    pagedList('pods', (p) => core.listPodForAllNamespaces({ ...p, fieldSelector: `spec.nodeName=${args.node}` })),
    false,
    undefined,
    `spec.nodeName=${args.node}`,
  ),
  configmaps: k8s.makeInformer(
    kc,
    `/api/v1/namespaces/${args.cmNamespace}/configmaps`,
    pagedList('configmaps', (p) => core.listNamespacedConfigMap({ ...p, namespace: args.cmNamespace })),
  ),
  namespaces: k8s.makeInformer(
    kc,
    '/api/v1/namespaces',
    pagedList('namespaces', (p) => core.listNamespace({ ...p, labelSelector: args.nsSelector })),
    args.nsSelector,
  ),
};

let stopping = false;
for (const [res, inf] of Object.entries(informers)) {
  inf.on('add', (o) => emit({ ev: 'add', ...describe(res, o) }));
  inf.on('update', (o) => emit({ ev: 'update', ...describe(res, o) }));
  inf.on('delete', (o) => emit({ ev: 'delete', ...describe(res, o) }));
  inf.on('connect', () => emit({ ev: 'connect', res }));
  // The informer stops on any error but a 410 / client timeout: restart it, as the client's
  // documentation tells applications to (it resumes from its last resourceVersion, or relists).
  inf.on('error', (err) => {
    emit({
      ev: 'error',
      res,
      code: err?.statusCode ?? err?.code ?? null,
      name: err?.name ?? null,
      message: String(err?.message ?? err).slice(0, 300),
    });
    if (!stopping) setTimeout(() => inf.start().catch((e) => emit({ ev: 'error', res, message: String(e) })), 200);
  });
}

for (const [res, inf] of Object.entries(informers)) {
  inf.start().catch((e) => emit({ ev: 'error', res, message: `start: ${e}` }));
}

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = line.trim();
  if (cmd === 'dump') {
    const cache = {};
    const rvs = {};
    for (const [res, inf] of Object.entries(informers)) {
      cache[res] = inf.list().map((o) => describe(res, o));
      rvs[res] = inf.latestResourceVersion();
    }
    emit({ ev: 'cache', res: cache, rvs });
  } else if (cmd === 'quit') {
    stopping = true;
    for (const inf of Object.values(informers)) await inf.stop();
    emit({ ev: 'bye' });
    process.exit(0);
  }
});
rl.on('close', () => process.exit(0));

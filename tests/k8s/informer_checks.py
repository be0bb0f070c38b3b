"""Part 2 of client_node_test.py: the official Kubernetes JavaScript client's informers
(informer_check.mjs, @kubernetes/client-node) against the fake server."""

import json
import os
import shutil
import subprocess
import threading
import time

from protocol_client import HERE, INFORMER, INFORMER_LIMIT, R


def ensure_node_client():
    """Returns (node_path, None) or (None, reason) when it cannot be provided."""
    node = shutil.which('node')
    npm = shutil.which('npm')
    mod = os.path.join(HERE, 'node_modules', '@kubernetes', 'client-node', 'package.json')
    lock = os.path.join(HERE, 'package-lock.json')
    want = None
    try:
        with open(lock) as f:
            want = json.load(f)['packages']['node_modules/@kubernetes/client-node']['version']
    except (OSError, KeyError, ValueError):
        pass
    have = None
    if os.path.exists(mod):
        with open(mod) as f:
            have = json.load(f).get('version')
    if node is None:
        return None, 'node is not installed'
    version = subprocess.run([node, '--version'], stdout=subprocess.PIPE, text=True).stdout.strip()
    try:
        major, minor = (int(x) for x in version.lstrip('v').split('.')[:2])
    except ValueError:
        major = minor = 0
    if (major, minor) < (20, 18):
        # client-node 2.0 runs on undici (pinned to 7.x in package.json: 8.x needs Node 22.19)
        return None, 'node %s is too old (the pinned client needs Node.js >= 20.18)' % version
    if have is not None and have == want:
        return node, None
    if npm is None:
        return None, 'npm is not installed and tests/k8s/node_modules is missing'
    print('installing @kubernetes/client-node %s: npm ci --no-audit --no-fund (in %s)' % (want, HERE), flush=True)
    t = time.monotonic()
    p = subprocess.run([npm, 'ci', '--no-audit', '--no-fund'], cwd=HERE, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError('npm ci failed (%d):\n%s' % (p.returncode, p.stdout[-3000:]))
    print('npm ci done in %.1fs' % (time.monotonic() - t), flush=True)
    return node, None


class Informer:
    def __init__(self, node, srv, workdir):
        self.lines = []
        self.cv = threading.Condition()
        self.errlog = open(os.path.join(workdir, 'informer.stderr'), 'w')
        self.proc = subprocess.Popen([node, INFORMER, '--kubeconfig', srv.kubeconfig, '--node', 'node-a',
                                      '--cm-namespace', 'dscp-system', '--ns-selector', 'dscp.io/watched',
                                      '--limit', str(INFORMER_LIMIT)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errlog,
                                     text=True, bufsize=1, cwd=HERE)
        self.raw = open(os.path.join(workdir, 'informer.jsonl'), 'w')
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.write(line)
            self.raw.flush()
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {'ev': 'garbage', 'line': line}
            with self.cv:
                self.lines.append(ev)
                self.cv.notify_all()
        with self.cv:
            self.lines.append({'ev': 'exit'})
            self.cv.notify_all()

    def wait(self, pred, timeout=15.0, start=0):
        """Wait until pred(events[start:]) is true; returns it (or None on timeout)."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                got = pred(self.lines[start:])
                if got:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def mark(self):
        with self.cv:
            return len(self.lines)

    def send(self, cmd):
        self.proc.stdin.write(cmd + '\n')
        self.proc.stdin.flush()

    def changes(self, start=0, end=None):
        with self.cv:
            return [e for e in self.lines[start:end] if e['ev'] in ('add', 'update', 'delete')]

    def stop(self):
        try:
            self.send('quit')
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def ev_key(e):
    return (e['ev'], e['res'], e.get('ns', ''), e['name'])


def part2(srv, node, workdir):
    t0 = time.monotonic()
    inf = Informer(node, srv, workdir)
    try:
        _part2(srv, inf, t0)
    finally:
        inf.stop()


def _part2(srv, inf, t0):
    lists = inf.wait(lambda ls: {e['res']: e for e in ls if e['ev'] == 'list'}
                     if len({e['res'] for e in ls if e['ev'] == 'list'}) == 3 else None, timeout=60)
    if not R.check('client-node: informers for pods (spec.nodeName=node-a), configmaps and namespaces synced',
                   lists, [e for e in inf.lines if e['ev'] != 'add'][:20]):
        return
    print('client-node informers synced %.1fs after start' % (time.monotonic() - t0), flush=True)
    pods_l = lists['pods']
    store_a = {(o['metadata']['namespace'], o['metadata']['name']): o
               for o in srv.control('/objects?resource=pods') if o['spec'].get('nodeName') == 'node-a'}
    R.check('client-node: the initial pod list was chunked (limit %d), every chunk at the same RV'
            % INFORMER_LIMIT, pods_l['pages'] >= 3 and len(set(pods_l['rvs'])) == 1
            and pods_l['items'] == len(store_a), pods_l)
    inf.wait(lambda ls: len([e for e in ls if e['ev'] == 'add']) >= len(store_a) + 3, timeout=10)
    adds0 = inf.changes()
    R.check('client-node: initial adds equal the server\'s node-a pods, the priorities configmaps and watched namespaces',
            sorted((e['ns'], e['name']) for e in adds0 if e['res'] == 'pods') == sorted(store_a)
            and sorted((e['ns'], e['name']) for e in adds0 if e['res'] == 'configmaps')
            == [('dscp-system', 'priorities'), ('dscp-system', 'unrelated')]
            and [(e['name']) for e in adds0 if e['res'] == 'namespaces'] == ['team-a']
            and all(e['ev'] == 'add' for e in adds0), [ev_key(e) for e in adds0 if e['res'] != 'pods'])
    # wait for the three watches to be open before mutating (not needed for correctness, but
    # it makes the events arrive through the watch rather than a list)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ws = srv.control('/state')['watches']
        if len({w['resource'] for w in ws}) == 3:
            break
        time.sleep(0.1)
    R.check('client-node: each informer opened a watch at its list RV',
            len({w['resource'] for w in ws}) == 3
            and all(w['query'].get('resourceVersion') == lists[w['resource']]['rv'] for w in ws), ws)

    expected = []
    mark0 = inf.mark()

    def step(name, action, expect, timeout=10):
        m = inf.mark()
        action()
        expected.extend(expect)
        ok = inf.wait(lambda ls: [ev_key(e) for e in ls if e['ev'] in ('add', 'update', 'delete')][:len(expect)]
                      == expect or None, timeout=timeout, start=m)
        got = [ev_key(e) for e in inf.changes(m)]
        R.check('client-node: %s' % name, ok, 'expected %s, got %s' % (expect, got))

    step('a new pod on node-a -> add',
         lambda: srv.control('/pods', {'namespace': 'team-a', 'name': 'new-1', 'node': 'node-a', 'ip': '10.5.0.1'}),
         [('add', 'pods', 'team-a', 'new-1')])
    step('a pod\'s IP changes -> update',
         lambda: srv.control('/pods', {'namespace': 'team-a', 'name': 'web-001', 'ip': '10.5.1.1'}),
         [('update', 'pods', 'team-a', 'web-001')])
    step('a pod is deleted -> delete',
         lambda: srv.control('/pods/delete', {'namespace': 'team-b', 'name': 'web-002'}),
         [('delete', 'pods', 'team-b', 'web-002')])

    def other_node_then_cm():
        srv.control('/pods', {'namespace': 'team-a', 'name': 'b-new', 'node': 'node-b', 'ip': '10.5.2.1'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'other-001', 'ip': '10.5.2.2'})
        srv.control('/configmaps', {'namespace': 'dscp-system', 'name': 'priorities',
                                    'data': {'priorities.yaml': 'default: 0\nteam-a: 34\n'}})
    step('pods on another node stay invisible; a configmap update -> update',
         other_node_then_cm, [('update', 'configmaps', 'dscp-system', 'priorities')])
    step('a pending pod scheduled onto node-a -> add (fieldSelector transition)',
         lambda: srv.control('/pods', {'namespace': 'team-b', 'name': 'pending-1', 'node': 'node-a',
                                       'ip': '10.5.3.1', 'phase': 'Running'}),
         [('add', 'pods', 'team-b', 'pending-1')])

    def ns_labels():
        srv.control('/namespaces', {'name': 'team-b', 'labels': {'dscp.io/watched': 'yes'}})
        srv.control('/namespaces', {'name': 'team-a', 'remove_labels': ['dscp.io/watched']})
    step('namespaces entering / leaving the label selector -> add / delete', ns_labels,
         [('add', 'namespaces', '', 'team-b'), ('delete', 'namespaces', '', 'team-a')])
    step('graceful pod deletion -> update (deletionTimestamp) then delete',
         lambda: srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'web-003', 'grace_seconds': 0.5}),
         [('update', 'pods', 'team-a', 'web-003'), ('delete', 'pods', 'team-a', 'web-003')])

    # A malformed line in the configmap watch: client-node skips unparseable lines.
    def garbage():
        srv.control('/fault/malformed', {'resource': 'configmaps'})
        srv.control('/configmaps', {'namespace': 'dscp-system', 'name': 'unrelated', 'data': {'x': '3'}})
    step('a malformed line in the watch stream is skipped, the next event still arrives', garbage,
         [('update', 'configmaps', 'dscp-system', 'unrelated')])

    # A cleanly closed watch is resumed from the last RV, without a relist.
    req_mark = max([r['seq'] for r in srv.control('/requests')] or [0])
    rv_before = str(srv.rv())
    step('a watch closed cleanly by the server is resumed; the next change arrives',
         lambda: (srv.control('/fault/drop-watch', {'resource': 'configmaps', 'mode': 'graceful'}),
                  time.sleep(1.5),
                  srv.control('/configmaps', {'namespace': 'dscp-system', 'name': 'priorities', 'data': {'v': '3'}})),
         [('update', 'configmaps', 'dscp-system', 'priorities')])
    reqs = [r for r in srv.control('/requests?since=%d' % req_mark) if r.get('resource') == 'configmaps']
    R.check('client-node: ... by a watch from its last resourceVersion, not a relist',
            reqs and all(r['watch'] for r in reqs)
            and reqs[0]['query'].get('resourceVersion') == rv_before, [(r['verb'], r['query']) for r in reqs])

    # Force a 410: stall the pod watch, change things it misses, compact the history, drop it.
    req_mark = max([r['seq'] for r in srv.control('/requests')] or [0])

    def force_410():
        srv.control('/fault/stall-watch', {'resource': 'pods'})
        srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'web-005'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'new-2', 'node': 'node-a', 'ip': '10.5.4.1'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'web-006', 'ip': '10.5.4.2'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'missed-b', 'node': 'node-b', 'ip': '10.5.4.3'})
        srv.control('/compact', {})
        srv.control('/fault/drop-watch', {'resource': 'pods', 'mode': 'reset'})
    m410 = inf.mark()
    # after a relist the informer reports deletes first, then adds/updates in list order
    step('after a forced 410 the informer relists and reports exactly what it missed', force_410,
         [('delete', 'pods', 'team-a', 'web-005'), ('add', 'pods', 'team-b', 'new-2'),
          ('update', 'pods', 'team-b', 'web-006')], timeout=20)
    for _ in range(50):   # the new watch opens just after the relist's events
        reqs = [r for r in srv.control('/requests?since=%d' % req_mark) if r.get('resource') == 'pods']
        if reqs and reqs[-1]['watch']:
            break
        time.sleep(0.1)
    seq = [('watch:%s' % r.get('error_event', 'ok')) if r['watch'] else
           ('list:%s' % ('cont' if r['query'].get('continue') else 'first')) for r in reqs]
    R.check('client-node: ... the re-watch got the 410 ERROR event, then a fresh chunked list and a new watch',
            seq[:2] == ['watch:410', 'list:first'] and 'list:cont' in seq and seq[-1] == 'watch:ok', seq)
    errs = [e for e in inf.lines[m410:] if e['ev'] == 'error']
    R.check('client-node: the dropped connection surfaced as one informer error (then restarted)',
            len(errs) == 1, errs)

    step('after the relist the watch goes on',
         lambda: srv.control('/pods', {'namespace': 'team-a', 'name': 'new-3', 'node': 'node-a', 'ip': '10.5.5.1'}),
         [('add', 'pods', 'team-a', 'new-3')])

    # Exactly the expected changes, nothing more (e.g. nothing from node-b).
    time.sleep(1.0)
    got = [ev_key(e) for e in inf.changes(mark0)]
    R.check('client-node: the informers saw exactly the expected adds/updates/deletes (%d)' % len(expected),
            got == expected, 'expected %s\n got %s' % (expected, got))

    # Final caches equal the server's store for the selectors.
    m = inf.mark()
    inf.send('dump')
    dump = inf.wait(lambda ls: next((e for e in ls if e['ev'] == 'cache'), None), start=m)
    pods = {(o['metadata']['namespace'], o['metadata']['name']): (o['metadata']['resourceVersion'],
                                                                  o['status'].get('podIP'))
            for o in srv.control('/objects?resource=pods') if o['spec'].get('nodeName') == 'node-a'}
    cms = {('dscp-system', o['metadata']['name']): (o['metadata']['resourceVersion'], o.get('data'))
           for o in srv.control('/objects?resource=configmaps&namespace=dscp-system')}
    nss = {('', o['metadata']['name']): (o['metadata']['resourceVersion'], o['metadata']['labels'])
           for o in srv.control('/objects?resource=namespaces')
           if 'dscp.io/watched' in o['metadata'].get('labels', {})}
    c = dump['res'] if dump else {}
    cpods = {(e['ns'], e['name']): (e['rv'], e['ip']) for e in c.get('pods', [])}
    ccms = {(e['ns'], e['name']): (e['rv'], e['data']) for e in c.get('configmaps', [])}
    cnss = {(e['ns'], e['name']): (e['rv'], e['labels']) for e in c.get('namespaces', [])}
    R.check('client-node: final pod cache == server store for spec.nodeName=node-a (%d pods, RVs and IPs)' % len(pods),
            cpods == pods, {k: (cpods.get(k), pods.get(k)) for k in set(cpods) ^ set(pods) or
                            [k for k in pods if cpods.get(k) != pods[k]]})
    R.check('client-node: final configmap and namespace caches == server store',
            ccms == cms and cnss == nss, (ccms, cms, cnss, nss))
    ws = srv.control('/state')['watches']
    R.check('client-node: exactly one open watch per informer is left on the server',
            sorted(w['resource'] for w in ws) == ['configmaps', 'namespaces', 'pods'],
            [(w['resource'], w['query']) for w in ws])

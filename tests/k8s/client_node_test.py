#!/usr/bin/python3
"""Protocol test of tests/k8s/fake_apiserver.py.

Part 1 talks to the fake server with a plain HTTPS client (chunked lists, watch replay,
bookmarks, 410s, auth, selectors, faults). Part 2 runs the official Kubernetes JavaScript
client's informers (informer_check.mjs, @kubernetes/client-node) against it, mutates the store,
forces a 410 relist and checks that the informers saw exactly the expected events and end with a
cache equal to the server's store. This is what keeps the fake server honest: if it drifts from
the real protocol, the official client notices.

Prints one line per check and a final "N passed, M failed"; exits 1 on any failure and 77
(skip) when node/npm are not installed. Installs the pinned client with `npm ci` when
tests/k8s/node_modules is missing.

Usage: /usr/bin/python3 client_node_test.py [--no-node] [--keep] [-v]
"""

import argparse
import base64
import gzip
import http.client
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, 'fake_apiserver.py')
INFORMER = os.path.join(HERE, 'informer_check.mjs')
PY = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable

NODE_A_PODS = 120         # > informer page size (50) so the informer's list is chunked
NODE_B_PODS = 30
INFORMER_LIMIT = 50


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.t0 = time.monotonic()

    def check(self, name, ok, detail=''):
        ok = bool(ok)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = '%s %s' % ('PASS' if ok else 'FAIL', name)
        if detail and not ok:
            line += ': ' + str(detail)[:800]
        print('[%6.2fs] %s' % (time.monotonic() - self.t0, line), flush=True)
        return ok


R = Results()


def check_step(name):
    """Decorator: a check function that raises counts as a failure with the traceback."""
    def wrap(fn):
        def run(*a, **kw):
            try:
                return fn(*a, **kw)
            except Exception as e:
                R.check(name, False, '%s: %s\n%s' % (type(e).__name__, e, traceback.format_exc(limit=4)))
        return run
    return wrap


# --------------------------------------------------------------------------------------
# Server process and clients

class ServerProc:
    def __init__(self, workdir, seed, extra_args=()):
        self.workdir = workdir
        self.ready = os.path.join(workdir, 'ready.json')
        self.token_file = os.path.join(workdir, 'token')
        self.kubeconfig = os.path.join(workdir, 'kubeconfig')
        self.log = open(os.path.join(workdir, 'server.log'), 'w')
        args = [PY, SERVER, '--port', '0', '--control-port', '0', '--token-file', self.token_file,
                '--ready-file', self.ready, '--kubeconfig-out', self.kubeconfig, '--seed', seed,
                '--cert-dir', os.path.join(workdir, 'pki'), '--bookmark-interval', '1',
                '--history-window', '1000'] + list(extra_args)
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('fake apiserver did not start; see %s' % self.log.name)
            time.sleep(0.05)
        self.startup_s = time.monotonic() - self.t_start
        with open(self.ready) as f:
            self.info = json.load(f)
        self.url = urllib.parse.urlsplit(self.info['url'])
        self.ctx = ssl.create_default_context(cafile=self.info['ca_file'])

    @property
    def token(self):
        with open(self.token_file) as f:
            return f.read().strip()

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.info['control_url'] + path, data=data,
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as r:
            out = json.load(r)
        return out['result']

    def rv(self):
        return int(self.control('/state')['resourceVersion'])

    def conn(self, timeout=30, cert=False):
        ctx = self.ctx
        if cert:
            ctx = ssl.create_default_context(cafile=self.info['ca_file'])
            ctx.load_cert_chain(self.info['client_cert_file'], self.info['client_key_file'])
        return http.client.HTTPSConnection(self.url.hostname, self.url.port, context=ctx, timeout=timeout)

    def get(self, path, params=None, token='default', cert=False, headers=None):
        """Returns (status, headers, parsed JSON or text)."""
        if params:
            path += '?' + urllib.parse.urlencode(params)
        h = dict(headers or {})
        if token == 'default':
            token = self.token
        if token is not None:
            h['Authorization'] = 'Bearer ' + token
        c = self.conn(cert=cert)
        try:
            c.request('GET', path, headers=h)
            r = c.getresponse()
            body = r.read()
            ct = r.getheader('Content-Type', '')
            return r.status, dict(r.getheaders()), (json.loads(body) if 'json' in ct else body.decode())
        finally:
            c.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


class WatchStream:
    """A watch read in a thread by a small HTTP/1.1 client of its own (http.client hides a
    truncated chunked body). Items: ('event', dict), ('line', bytes) for lines that are not
    JSON, then one ('end', 'clean' | 'error: ...'); 'clean' only after the terminating chunk."""

    def __init__(self, srv, path, params, token='default'):
        self.q = queue.Queue()
        params = dict(params)
        params.setdefault('watch', '1')
        self.path = path + '?' + urllib.parse.urlencode(params)
        token = srv.token if token == 'default' else token
        raw = socket.create_connection((srv.url.hostname, srv.url.port), timeout=60)
        self.sock = srv.ctx.wrap_socket(raw, server_hostname=srv.url.hostname)
        self.sock.sendall(('GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n'
                           'Accept: application/json\r\nUser-Agent: client_node_test\r\n\r\n'
                           % (self.path, srv.url.hostname, srv.url.port, token)).encode())
        self.f = self.sock.makefile('rb')
        status = self.f.readline().split(None, 2)
        self.status = int(status[1])
        self.headers = {}
        while True:
            line = self.f.readline()
            if line in (b'\r\n', b'\n', b''):
                break
            k, v = line.decode().split(':', 1)
            self.headers[k.strip()] = v.strip()
        self.chunks = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _chunks(self):
        if self.headers.get('Transfer-Encoding') != 'chunked':
            n = int(self.headers.get('Content-Length', 0))
            yield self.f.read(n)
            return
        while True:
            size_line = self.f.readline()
            if not size_line:
                raise EOFError('connection closed before the terminating chunk')
            n = int(size_line.split(b';')[0], 16)
            if n == 0:
                self.f.readline()
                return
            data = self.f.read(n)
            if len(data) < n or self.f.read(2) != b'\r\n':
                raise EOFError('connection closed inside a chunk')
            self.chunks += 1
            yield data

    def _run(self):
        buf = b''
        try:
            for data in self._chunks():
                buf += data
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    try:
                        self.q.put(('event', json.loads(line)))
                    except ValueError:
                        self.q.put(('line', line))
            self.q.put(('end', 'clean' if not buf else 'error: partial line at the end'))
        except Exception as e:
            self.q.put(('end', 'error: %s: %s' % (type(e).__name__, e)))

    def next(self, timeout=5.0):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ('timeout', None)

    def events(self, n, timeout=5.0, skip_bookmarks=True):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            kind, v = self.next(max(0.01, deadline - time.monotonic()))
            if kind == 'event':
                if skip_bookmarks and v.get('type') == 'BOOKMARK':
                    continue
                out.append(v)
            else:
                out.append({'type': '<%s>' % kind, 'detail': v})
                if kind in ('end', 'timeout'):
                    break
        return out

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except Exception:
            pass
        self.sock.close()


def list_all(srv, path, params, limit, between_pages=None):
    """Follow continue tokens; returns (pages, items). between_pages(page_index) runs after each page."""
    pages, items, cont = [], [], None
    while True:
        p = dict(params, limit=str(limit))
        if cont:
            p['continue'] = cont
        st, _, body = srv.get(path, p)
        if st != 200:
            raise RuntimeError('list %s -> %s %s' % (path, st, body))
        pages.append(body)
        items.extend(body['items'])
        cont = body['metadata'].get('continue')
        if between_pages:
            between_pages(len(pages) - 1)
        if not cont:
            return pages, items


def names(items):
    return [(o['metadata'].get('namespace', ''), o['metadata']['name']) for o in items]


# --------------------------------------------------------------------------------------
# Seed data

def make_seed(path):
    ops = [
        {'op': 'namespace', 'name': 'dscp-system'},
        {'op': 'namespace', 'name': 'team-a', 'labels': {'dscp.io/watched': 'yes', 'tier': 'gold'}},
        {'op': 'namespace', 'name': 'team-b', 'labels': {'tier': 'silver'}},
        {'op': 'configmap', 'namespace': 'dscp-system', 'name': 'priorities',
         'data': {'priorities.yaml': 'default: 0\nteam-a: 46\n'}},
        {'op': 'configmap', 'namespace': 'dscp-system', 'name': 'unrelated', 'data': {'x': '1'}},
        {'op': 'configmap', 'namespace': 'team-a', 'name': 'elsewhere', 'data': {'y': '2'}},
        {'op': 'pod', 'namespace': 'team-b', 'name': 'pending-1', 'labels': {'app': 'web'}},
        {'op': 'pod', 'namespace': 'team-a', 'name': 'hostnet-1', 'node': 'node-a', 'host_network': True,
         'ip': '192.168.50.10', 'host_ip': '192.168.50.10'},
    ]
    for i in range(NODE_A_PODS - 1):
        ns = 'team-a' if i % 2 else 'team-b'
        ops.append({'op': 'pod', 'namespace': ns, 'name': 'web-%03d' % i, 'node': 'node-a',
                    'ip': '10.1.%d.%d' % (i // 250, i % 250 + 1), 'labels': {'app': 'web', 'idx': str(i)}})
    for i in range(NODE_B_PODS):
        ops.append({'op': 'pod', 'namespace': 'team-a', 'name': 'other-%03d' % i, 'node': 'node-b',
                    'ip': '10.2.0.%d' % (i + 1), 'ips': ['10.2.0.%d' % (i + 1), 'fd00::%x' % (i + 1)],
                    'labels': {'app': 'db'}})
    tokens = [{'token': 'cm-only-token', 'user': 'cm-reader',
               'allow': ['list:configmaps', 'watch:configmaps', 'get:configmaps:dscp-system']}]
    with open(path, 'w') as f:
        json.dump({'ops': ops, 'tokens': tokens}, f)


# --------------------------------------------------------------------------------------
# Part 1: plain HTTPS protocol checks

def part1(srv):
    @check_step('discovery: /version, /api, /api/v1')
    def discovery():
        st1, _, v = srv.get('/version', token=None)
        st2, _, api = srv.get('/api')
        st3, _, v1 = srv.get('/api/v1')
        kinds = {r['name']: r['kind'] for r in v1.get('resources', [])}
        R.check('discovery: /version, /api, /api/v1',
                st1 == st2 == st3 == 200 and v.get('major') == '1' and api.get('versions') == ['v1']
                and kinds == {'pods': 'Pod', 'namespaces': 'Namespace', 'configmaps': 'ConfigMap'},
                (st1, st2, st3, api, kinds))
    discovery()

    @check_step('auth: bad/missing token -> 401 Status')
    def auth401():
        st, hd, body = srv.get('/api/v1/pods', token='not-the-token')
        st2, _, body2 = srv.get('/api/v1/pods', token=None)
        R.check('auth: bad token -> 401 Status',
                st == 401 and hd.get('Content-Type') == 'application/json' and body.get('kind') == 'Status'
                and body.get('code') == 401 and body.get('reason') == 'Unauthorized'
                and body.get('status') == 'Failure', (st, body))
        R.check('auth: no credentials -> 401 Status', st2 == 401 and body2.get('code') == 401, (st2, body2))
    auth401()

    @check_step('auth: token without permission -> 403 Status')
    def auth403():
        st, _, body = srv.get('/api/v1/pods', token='cm-only-token')
        st2, _, body2 = srv.get('/api/v1/namespaces/dscp-system/configmaps/priorities', token='cm-only-token')
        st3, _, body3 = srv.get('/api/v1/namespaces/team-a/configmaps/elsewhere', token='cm-only-token')
        R.check('auth: token without permission -> 403 Status',
                st == 403 and body.get('reason') == 'Forbidden' and body.get('code') == 403
                and 'cannot list resource "pods"' in body.get('message', '')
                and st2 == 200 and body2.get('kind') == 'ConfigMap'
                and st3 == 403 and 'in the namespace "team-a"' in body3.get('message', ''),
                (st, body, st2, st3, body3))
    auth403()

    @check_step('auth: client certificate')
    def authcert():
        st, _, body = srv.get('/api/v1/namespaces', token=None, cert=True)
        R.check('auth: client certificate signed by the CA is accepted',
                st == 200 and body.get('kind') == 'NamespaceList', (st, body))
    authcert()

    @check_step('404 Status for unknown path and missing object')
    def notfound():
        st, _, body = srv.get('/api/v1/services')
        st2, _, body2 = srv.get('/api/v1/namespaces/dscp-system/configmaps/nope')
        st3, _, body3 = srv.get('/api/v1/namespaces/dscp-system/configmaps/priorities')
        R.check('404 Status for unknown path and missing object; GET one configmap',
                st == 404 and body.get('kind') == 'Status' and body.get('reason') == 'NotFound'
                and st2 == 404 and body2.get('message') == 'configmaps "nope" not found'
                and body2.get('details') == {'name': 'nope', 'kind': 'configmaps'}
                and st3 == 200 and body3.get('kind') == 'ConfigMap' and body3.get('apiVersion') == 'v1'
                and body3['data']['priorities.yaml'].startswith('default: 0'), (st, body, st2, body2, st3))
    notfound()

    @check_step('list: chunked list is one consistent snapshot')
    def chunked():
        total = NODE_A_PODS + NODE_B_PODS + 1
        rv0 = srv.rv()

        def mutate(i):
            if i == 0:   # after the first page: add a pod that sorts last, delete one that sorts late
                srv.control('/pods', {'namespace': 'zzz', 'name': 'late-pod', 'node': 'node-a', 'ip': '10.9.9.9'})
                srv.control('/pods/delete', {'namespace': 'team-b', 'name': 'web-118'})
        pages, items = list_all(srv, '/api/v1/pods', {}, 7, mutate)
        rvs = {p['metadata']['resourceVersion'] for p in pages}
        rem = [p['metadata'].get('remainingItemCount') for p in pages]
        expect_rem = [max(0, total - 7 * (i + 1)) for i in range(len(pages) - 1)] + [None]
        nm = names(items)
        R.check('list: limit/continue returns all items, no duplicates, in key order',
                len(items) == total and len(set(nm)) == total and nm == sorted(nm)
                and len(pages) == -(-total // 7), (len(items), len(pages)))
        R.check('list: every chunk carries the first chunk\'s resourceVersion (snapshot)',
                rvs == {str(rv0)}, (rvs, rv0))
        R.check('list: changes made between chunks are not visible (snapshot consistency)',
                ('zzz', 'late-pod') not in nm and ('team-b', 'web-118') in nm)
        R.check('list: remainingItemCount counts the items after each chunk', rem == expect_rem, (rem, expect_rem))
        R.check('list: items carry no kind/apiVersion (like the apiserver\'s JSON lists)',
                all('kind' not in o and 'apiVersion' not in o for o in items)
                and pages[0]['kind'] == 'PodList' and pages[0]['apiVersion'] == 'v1')
        # put things back
        srv.control('/pods/delete', {'namespace': 'zzz', 'name': 'late-pod'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'web-118', 'node': 'node-a', 'ip': '10.1.0.119',
                              'labels': {'app': 'web', 'idx': '118'}})
    chunked()

    @check_step('list: selectors')
    def selectors():
        _, items = list_all(srv, '/api/v1/pods', {'fieldSelector': 'spec.nodeName=node-a'}, 13)
        _, items_ns = list_all(srv, '/api/v1/namespaces/team-a/pods', {'fieldSelector': 'spec.nodeName=node-a'}, 1000)
        st, _, pend = srv.get('/api/v1/pods', {'fieldSelector': 'spec.nodeName='})
        st2, _, lab = srv.get('/api/v1/pods', {'labelSelector': 'app=db'})
        st3, _, nsl = srv.get('/api/v1/namespaces', {'labelSelector': 'dscp.io/watched'})
        st4, _, nsl2 = srv.get('/api/v1/namespaces', {'labelSelector': 'tier in (gold,silver),!dscp.io/watched'})
        st5, _, cm = srv.get('/api/v1/configmaps', {'fieldSelector': 'metadata.name=priorities'})
        st6, _, bad = srv.get('/api/v1/pods', {'fieldSelector': 'spec.bogus=1'})
        R.check('list: fieldSelector spec.nodeName=X (chunked, all namespaces and one namespace)',
                len(items) == NODE_A_PODS and all(o['spec']['nodeName'] == 'node-a' for o in items)
                and len(items_ns) == NODE_A_PODS // 2 and all(o['metadata']['namespace'] == 'team-a' for o in items_ns),
                (len(items), len(items_ns)))
        R.check('list: fieldSelector spec.nodeName= matches unscheduled pods',
                st == 200 and names(pend['items']) == [('team-b', 'pending-1')], pend)
        R.check('list: labelSelector k=v / k / k in (...),!k',
                st2 == 200 and len(lab['items']) == NODE_B_PODS and st3 == 200
                and names(nsl['items']) == [('', 'team-a')] and names(nsl2['items']) == [('', 'team-b')],
                (len(lab['items']), names(nsl['items']), names(nsl2['items'])))
        R.check('list: configmaps fieldSelector metadata.name=X',
                st5 == 200 and names(cm['items']) == [('dscp-system', 'priorities')], cm)
        R.check('list: unsupported field selector -> 400 BadRequest Status',
                st6 == 400 and bad.get('reason') == 'BadRequest' and 'field label not supported' in bad.get('message', ''),
                (st6, bad))
    selectors()

    @check_step('list: expired continue token -> 410 Expired')
    def expired_continue():
        st, _, first = srv.get('/api/v1/pods', {'limit': '10'})
        cont = first['metadata']['continue']
        srv.control('/configmaps', {'namespace': 'dscp-system', 'name': 'unrelated', 'data': {'x': '2'}})
        srv.control('/compact', {})
        st2, _, body = srv.get('/api/v1/pods', {'limit': '10', 'continue': cont})
        st3, _, body3 = srv.get('/api/v1/pods', {'limit': '10', 'continue': cont, 'resourceVersion': '5'})
        st4, _, body4 = srv.get('/api/v1/pods', {'limit': '10', 'continue': 'garbage'})
        R.check('list: continue token older than a compaction -> 410 Expired Status (with an inconsistent-continue token)',
                st2 == 410 and body.get('reason') == 'Expired' and body.get('code') == 410
                and body.get('metadata', {}).get('continue'), (st2, body))
        R.check('list: continue with resourceVersion -> 400; malformed continue -> 400',
                st3 == 400 and st4 == 400 and body4.get('reason') == 'BadRequest', (st3, body3, st4, body4))
        st5, _, body5 = srv.get('/api/v1/pods', {'limit': '10', 'continue': body['metadata']['continue']})
        R.check('list: the inconsistent-continue token from the 410 goes on with the newest data',
                st5 == 200 and len(body5['items']) == 10
                and names(body5['items'])[0] > names(first['items'])[-1], (st5, body5.get('metadata')))
    expired_continue()

    @check_step('list: resourceVersion semantics')
    def rv_semantics():
        rv_a = srv.rv()
        srv.control('/pods', {'namespace': 'team-a', 'name': 'rv-probe', 'node': 'node-a', 'ip': '10.7.7.7'})
        st, _, exact = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a), 'resourceVersionMatch': 'Exact',
                                                'fieldSelector': 'metadata.name=rv-probe'})
        st2, _, newer = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a), 'resourceVersionMatch': 'NotOlderThan',
                                                 'fieldSelector': 'metadata.name=rv-probe'})
        st3, _, big = srv.get('/api/v1/pods', {'resourceVersion': str(rv_a + 1000), 'resourceVersionMatch': 'NotOlderThan'})
        st4, _, old = srv.get('/api/v1/pods', {'resourceVersion': '1', 'resourceVersionMatch': 'Exact'})
        srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'rv-probe'})
        R.check('list: resourceVersionMatch=Exact serves the past, NotOlderThan the present',
                st == 200 and exact['items'] == [] and exact['metadata']['resourceVersion'] == str(rv_a)
                and st2 == 200 and len(newer['items']) == 1, (st, exact, st2))
        R.check('list: too large RV -> 504 Timeout; compacted RV -> 410 Expired',
                st3 == 504 and big.get('reason') == 'Timeout' and st4 == 410 and old.get('reason') == 'Expired',
                (st3, big, st4, old))
    rv_semantics()

    @check_step('watch: replay from list RV')
    def replay():
        _, _, lst = srv.get('/api/v1/namespaces/team-a/pods', {'fieldSelector': 'spec.nodeName=node-a'})
        rv = lst['metadata']['resourceVersion']
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-1', 'node': 'node-a', 'ip': '10.3.0.1'})
        srv.control('/pods', {'namespace': 'team-b', 'name': 'replay-other-ns', 'node': 'node-a', 'ip': '10.3.0.9'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-1', 'ip': '10.3.0.2'})
        srv.control('/pods', {'namespace': 'team-a', 'name': 'replay-b', 'node': 'node-b', 'ip': '10.3.0.3'})
        srv.control('/pods/delete', {'namespace': 'team-a', 'name': 'replay-1'})
        w = WatchStream(srv, '/api/v1/namespaces/team-a/pods',
                        {'resourceVersion': rv, 'fieldSelector': 'spec.nodeName=node-a', 'timeoutSeconds': '2'})
        evs = w.events(4, timeout=5)
        got = [(e['type'], e.get('object', {}).get('metadata', {}).get('name'),
                e.get('object', {}).get('status', {}).get('podIP')) for e in evs]
        rvs = [int(e['object']['metadata']['resourceVersion']) for e in evs[:3] if 'object' in e]
        R.check('watch: 200 chunked application/json stream',
                w.status == 200 and w.headers.get('Transfer-Encoding') == 'chunked'
                and w.headers.get('Content-Type') == 'application/json', (w.status, w.headers))
        R.check('watch: from the list RV replays the changes in order, filtered by namespace and fieldSelector',
                got[:3] == [('ADDED', 'replay-1', '10.3.0.1'), ('MODIFIED', 'replay-1', '10.3.0.2'),
                            ('DELETED', 'replay-1', '10.3.0.2')] and rvs == sorted(rvs) and rvs[0] > int(rv)
                and all(e['object'].get('kind') == 'Pod' and e['object'].get('apiVersion') == 'v1' for e in evs[:3]),
                got)
        R.check('watch: timeoutSeconds ends the stream cleanly', got[3][0] == '<end>' and evs[3]['detail'] == 'clean',
                evs[3:])
        w.close()
    replay()

    @check_step('watch: selector transitions')
    def transitions():
        rv = str(srv.rv())
        srv.control('/pods', {'namespace': 'team-b', 'name': 'pending-1', 'node': 'node-a', 'ip': '10.4.0.1',
                              'phase': 'Running'})
        srv.control('/namespaces', {'name': 'team-a', 'remove_labels': ['dscp.io/watched']})
        srv.control('/namespaces', {'name': 'team-a', 'labels': {'dscp.io/watched': 'yes'}})
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': rv, 'fieldSelector': 'spec.nodeName=node-a',
                                              'timeoutSeconds': '1'})
        e1 = w.events(1)
        w2 = WatchStream(srv, '/api/v1/namespaces', {'resourceVersion': rv, 'labelSelector': 'dscp.io/watched',
                                                     'timeoutSeconds': '1'})
        e2 = w2.events(2)
        R.check('watch: a pod scheduled onto the node arrives as ADDED on the nodeName watch',
                [(e['type'], e['object']['metadata']['name']) for e in e1] == [('ADDED', 'pending-1')], e1)
        R.check('watch: an object leaving / entering the label selector arrives as DELETED / ADDED',
                [(e['type'], e['object']['metadata']['name']) for e in e2] == [('DELETED', 'team-a'), ('ADDED', 'team-a')],
                e2)
        w.close()
        w2.close()
    transitions()

    @check_step('watch: BOOKMARK')
    def bookmark():
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': str(srv.rv()), 'allowWatchBookmarks': 'true',
                                              'timeoutSeconds': '5'})
        kind, ev = w.next(timeout=4)
        w2 = WatchStream(srv, '/api/v1/configmaps', {'resourceVersion': str(srv.rv()), 'timeoutSeconds': '2'})
        ev2 = w2.events(1, timeout=4, skip_bookmarks=False)
        ok = (kind == 'event' and ev.get('type') == 'BOOKMARK' and ev['object'].get('kind') == 'Pod'
              and ev['object'].get('apiVersion') == 'v1'
              and int(ev['object']['metadata']['resourceVersion']) == srv.rv()
              and set(ev['object']['metadata']) <= {'resourceVersion', 'creationTimestamp'})
        R.check('watch: BOOKMARK with the current RV arrives when allowWatchBookmarks=true', ok, (kind, ev))
        R.check('watch: no BOOKMARK without allowWatchBookmarks', ev2[0]['type'] == '<end>', ev2)
        w.close()
        w2.close()
    bookmark()

    @check_step('watch: too old RV -> ERROR 410')
    def too_old():
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': '150', 'allowWatchBookmarks': 'true'})
        evs = w.events(2, timeout=5, skip_bookmarks=False)
        ok = (w.status == 200 and evs[0]['type'] == 'ERROR' and evs[0]['object'].get('kind') == 'Status'
              and evs[0]['object'].get('code') == 410 and evs[0]['object'].get('reason') == 'Expired'
              and 'too old resource version' in evs[0]['object'].get('message', '')
              and evs[1]['type'] == '<end>' and evs[1]['detail'] == 'clean')
        R.check('watch: an RV older than the history window -> ERROR event with 410 Expired Status, then close',
                ok, evs)
        w.close()
    too_old()

    @check_step('watch: a client that goes away is noticed')
    def client_gone():
        w = WatchStream(srv, '/api/v1/namespaces/team-a/configmaps', {'resourceVersion': str(srv.rv())})
        srv.control('/fault/stall-watch', {'resource': 'configmaps'})
        before = [x for x in srv.control('/state')['watches'] if x['resource'] == 'configmaps']
        w.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            after = [x for x in srv.control('/state')['watches'] if x['resource'] == 'configmaps']
            if not after:
                break
            time.sleep(0.2)
        R.check('watch: an idle (even stalled) watch whose client disconnected leaves /state within ~1 s',
                len(before) == 1 and not after, (before, after))
    client_gone()

    @check_step('watch: RV 0 / sendInitialEvents')
    def initial_events():
        w = WatchStream(srv, '/api/v1/namespaces/dscp-system/configmaps', {'timeoutSeconds': '1'})
        evs = w.events(3)
        w2 = WatchStream(srv, '/api/v1/namespaces/dscp-system/configmaps',
                         {'sendInitialEvents': 'true', 'resourceVersionMatch': 'NotOlderThan',
                          'allowWatchBookmarks': 'true', 'resourceVersion': '', 'timeoutSeconds': '1'})
        evs2 = w2.events(3, skip_bookmarks=False)
        R.check('watch: without resourceVersion starts with synthetic ADDED for the current objects',
                [(e['type'], e.get('object', {}).get('metadata', {}).get('name')) for e in evs]
                == [('ADDED', 'priorities'), ('ADDED', 'unrelated'), ('<end>', None)], evs)
        R.check('watch: sendInitialEvents ends the initial ADDEDs with a k8s.io/initial-events-end BOOKMARK',
                [e['type'] for e in evs2] == ['ADDED', 'ADDED', 'BOOKMARK']
                and evs2[2]['object']['metadata'].get('annotations') == {'k8s.io/initial-events-end': 'true'}, evs2)
        w.close()
        w2.close()
    initial_events()

    @check_step('faults: drop watch after N events')
    def drop_after():
        rv = str(srv.rv())
        for i in range(4):
            srv.control('/configmaps', {'namespace': 'team-b', 'name': 'drop-%d' % i, 'data': {'i': str(i)}})
        srv.control('/fault/drop-watch', {'resource': 'configmaps', 'target': 'next', 'after_events': 2, 'mode': 'reset'})
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv})
        evs = w.events(3, timeout=5)
        R.check('faults: drop-watch after N events cuts the stream mid-body (no final chunk)',
                [e['type'] for e in evs[:2]] == ['ADDED', 'ADDED'] and evs[2]['type'] == '<end>'
                and evs[2]['detail'].startswith('error'), evs)
        w.close()
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv})
        evs = w.events(4)
        srv.control('/fault/drop-watch', {'resource': 'configmaps', 'mode': 'graceful'})
        end = w.events(1)
        R.check('faults: drop-watch now (graceful) ends an open stream cleanly',
                len([e for e in evs if e['type'] == 'ADDED']) == 4 and end[0]['type'] == '<end>'
                and end[0]['detail'] == 'clean', (evs, end))
        w.close()
    drop_after()

    @check_step('faults: stall, malformed, gone, auth')
    def other_faults():
        rv = str(srv.rv())
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps',
                        {'resourceVersion': rv, 'allowWatchBookmarks': 'true'})
        srv.control('/fault/stall-watch', {'resource': 'configmaps'})
        srv.control('/configmaps', {'namespace': 'team-b', 'name': 'stalled', 'data': {}})
        quiet = w.next(timeout=2.5)
        srv.control('/fault/unstall', {'resource': 'configmaps'})
        after = w.events(1, timeout=3)
        R.check('faults: stall-watch sends nothing (not even bookmarks) until unstalled, then resumes',
                quiet[0] == 'timeout' and after[0]['type'] == 'ADDED'
                and after[0]['object']['metadata']['name'] == 'stalled', (quiet, after))
        srv.control('/fault/malformed', {'resource': 'configmaps'})
        srv.control('/configmaps', {'namespace': 'team-b', 'name': 'after-garbage', 'data': {}})
        got = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline and not any(k == 'event' and v.get('type') == 'ADDED' for k, v in got):
            k, v = w.next(timeout=1)
            if k != 'timeout' and not (k == 'event' and v.get('type') == 'BOOKMARK'):
                got.append((k, v))
        R.check('faults: malformed JSON line injected into the watch stream, stream continues',
                got and got[0][0] == 'line' and got[-1][0] == 'event'
                and got[-1][1]['object']['metadata']['name'] == 'after-garbage', got)
        w.close()

        rv = str(srv.rv())
        for i in range(3):
            srv.control('/configmaps', {'namespace': 'team-b', 'name': 'frag-%d' % i, 'data': {'i': str(i)}})
        srv.control('/fault/fragment', {'resource': 'configmaps', 'target': 'next'})
        w = WatchStream(srv, '/api/v1/namespaces/team-b/configmaps', {'resourceVersion': rv, 'timeoutSeconds': '1'})
        evs = w.events(4)
        R.check('faults: fragment splits event lines over several chunks; the events still parse',
                [e['type'] for e in evs] == ['ADDED'] * 3 + ['<end>'] and evs[3]['detail'] == 'clean'
                and w.chunks > 3, (w.chunks, evs))
        w.close()

        srv.control('/fault/delay', {'resource': 'configmaps', 'op': 'list', 'seconds': 1.0})
        t = time.monotonic()
        st_d, _, _ = srv.get('/api/v1/configmaps', {'limit': '1'})
        R.check('faults: delay holds the next list back', st_d == 200 and time.monotonic() - t >= 1.0)

        srv.control('/fault/gone', {'resource': 'pods', 'op': 'list'})
        st, _, body = srv.get('/api/v1/pods', {'limit': '5'})
        st2, _, _ = srv.get('/api/v1/pods', {'limit': '5'})
        srv.control('/fault/gone', {'resource': 'pods', 'op': 'watch'})
        w = WatchStream(srv, '/api/v1/pods', {'resourceVersion': str(srv.rv())})
        evs = w.events(1)
        R.check('faults: gone -> the next list answers 410 Expired, the next watch an ERROR 410 event',
                st == 410 and body.get('reason') == 'Expired' and st2 == 200
                and evs[0]['type'] == 'ERROR' and evs[0]['object']['code'] == 410, (st, body, st2, evs))
        w.close()

        tok = srv.token
        srv.control('/fault/auth', {'token': tok, 'code': 403, 'count': 1})
        st3, _, b3 = srv.get('/api/v1/pods', {'limit': '1'})
        st4, _, _ = srv.get('/api/v1/pods', {'limit': '1'})
        srv.control('/fault/auth', {'token': tok, 'code': 401, 'count': 1})
        st5, _, _ = srv.get('/api/v1/pods', {'limit': '1'})
        R.check('faults: forced 403 / 401 for a token (count-limited)',
                st3 == 403 and b3.get('reason') == 'Forbidden' and st4 == 200 and st5 == 401, (st3, st4, st5))

        srv.control('/fault/error', {'resource': 'pods', 'op': 'list', 'code': 503})
        st6, hd6, b6 = srv.get('/api/v1/pods', {'limit': '1'})
        R.check('faults: injected 503 ServiceUnavailable with Retry-After',
                st6 == 503 and b6.get('reason') == 'ServiceUnavailable' and hd6.get('Retry-After') == '1', (st6, b6))
    other_faults()

    @check_step('auth: token rotation')
    def rotation():
        old = srv.token
        new = 'rotated-' + base64.urlsafe_b64encode(os.urandom(12)).decode()
        tmp = srv.token_file + '.new'
        with open(tmp, 'w') as f:
            f.write(new)
        os.replace(tmp, srv.token_file)
        st_old, _, b_old = srv.get('/api/v1/namespaces', token=old)
        st_new, _, _ = srv.get('/api/v1/namespaces', token=new)
        r = srv.control('/rotate-token', {'grace_seconds': 30})
        st_grace, _, _ = srv.get('/api/v1/namespaces', token=new)
        st_newest, _, _ = srv.get('/api/v1/namespaces', token=r['token'])
        R.check('auth: rewriting the token file rotates the token (old -> 401, new -> 200)',
                st_old == 401 and b_old.get('reason') == 'Unauthorized' and st_new == 200, (st_old, st_new))
        R.check('auth: /rotate-token with grace keeps the previous token valid for a while',
                st_grace == 200 and st_newest == 200 and srv.token == r['token'], (st_grace, st_newest))
        # restore the token the kubeconfig carries, for part 2
        srv.control('/rotate-token', {'token': old})
        st_back, _, _ = srv.get('/api/v1/namespaces', token=old)
        R.check('auth: token restored', st_back == 200, st_back)
    rotation()

    @check_step('http: keep-alive and gzip')
    def http_details():
        srv.control('/generate-pods', {'count': 400, 'node': 'node-c', 'namespace': 'bulk'})
        c = srv.conn()
        try:
            statuses = []
            for _ in range(3):
                c.request('GET', '/api/v1/namespaces', headers={'Authorization': 'Bearer ' + srv.token})
                r = c.getresponse()
                r.read()
                statuses.append(r.status)
            c.request('GET', '/api/v1/namespaces/bulk/pods', headers={'Authorization': 'Bearer ' + srv.token,
                                                                      'Accept-Encoding': 'gzip'})
            r = c.getresponse()
            raw = r.read()
            gz = r.getheader('Content-Encoding')
            body = json.loads(gzip.decompress(raw)) if gz == 'gzip' else None
            c.request('GET', '/api/v1/namespaces/bulk/pods', headers={'Authorization': 'Bearer ' + srv.token})
            r = c.getresponse()
            plain = json.loads(r.read())
            te_big = r.getheader('Transfer-Encoding')
            c.request('GET', '/api/v1/namespaces/dscp-system/configmaps/priorities',
                      headers={'Authorization': 'Bearer ' + srv.token})
            r = c.getresponse()
            r.read()
            cl_small = r.getheader('Content-Length')
        finally:
            c.close()
        R.check('http: several requests on one keep-alive connection; large lists gzip when asked',
                statuses == [200, 200, 200] and body is not None and len(body['items']) == 400, (statuses, gz))
        R.check('http: bodies over 2 KiB are sent chunked like Go\'s net/http, small ones with Content-Length',
                te_big == 'chunked' and len(plain['items']) == 400 and cl_small is not None, (te_big, cl_small))
    http_details()


# --------------------------------------------------------------------------------------
# Part 2: the official client (@kubernetes/client-node informers)

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


# --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--no-node', action='store_true', help='only the plain HTTPS checks (part 1)')
    ap.add_argument('--keep', action='store_true', help='keep the work directory (logs, informer output)')
    args = ap.parse_args()

    node = None
    if not args.no_node:
        try:
            node, why = ensure_node_client()
        except Exception as e:
            print('FAIL installing the pinned @kubernetes/client-node: %s' % e, flush=True)
            print('0 passed, 1 failed')
            return 1
        if node is None:
            print('SKIP: %s; the client-node cross-check needs Node.js and npm '
                  '(>= 20.18) — run with --no-node for the plain HTTPS checks only' % why)
            return 77

    workdir = tempfile.mkdtemp(prefix='k8s-protocol-test-')
    seed = os.path.join(workdir, 'seed.json')
    make_seed(seed)
    srv = ServerProc(workdir, seed)
    print('fake apiserver %s started in %.2fs (workdir %s)' % (srv.info['url'], srv.startup_s, workdir), flush=True)
    try:
        t1 = time.monotonic()
        part1(srv)
        print('part 1 (plain HTTPS) took %.1fs' % (time.monotonic() - t1), flush=True)
        if node:
            # part 1 compacted the history; start part 2 from a fresh server so its seed is exact
            srv.stop()
            p2 = os.path.join(workdir, 'part2')
            os.makedirs(p2)
            srv = ServerProc(p2, seed)
            t2 = time.monotonic()
            part2(srv, node, srv.workdir)
            print('part 2 (client-node informers) took %.1fs' % (time.monotonic() - t2), flush=True)
    except Exception as e:
        R.check('test harness', False, '%s: %s\n%s' % (type(e).__name__, e, traceback.format_exc()))
    finally:
        rc = srv.stop()
        R.check('fake apiserver exits cleanly on SIGTERM', rc == 0, rc)
    print('total %.1fs' % (time.monotonic() - R.t0))
    if R.failed or args.keep:
        print('logs kept in %s' % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print('%d passed, %d failed' % (R.passed, R.failed))
    return 1 if R.failed else 0


if __name__ == '__main__':
    sys.exit(main())

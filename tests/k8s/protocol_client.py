"""What the protocol checks share: the pass/fail tally, the fake server as a subprocess,
a watch stream reader, chunked LIST and the seed data."""

import http.client
import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
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

"""The control interface (plain HTTP on 127.0.0.1, JSON): tests mutate objects and
inject faults through it. See README.md beside fake_apiserver.py."""

from __future__ import annotations

import http.server
import json
import sys
import urllib.parse

from .protocol import dumps


def run_control_op(cluster, op):
    """One control operation given as a dict with 'op' (used by /batch and the seed file)."""
    op = dict(op)
    kind = op.pop('op')
    if kind == 'pod':
        return cluster.upsert_pod(**op)
    if kind == 'namespace':
        return cluster.upsert_namespace(**op)
    if kind == 'configmap':
        return cluster.upsert_configmap(**op)
    if kind == 'apply':
        return cluster.apply(op['object'])
    if kind == 'delete':
        return cluster.delete(op.get('resource') or op.get('kind'), op.get('namespace'), op['name'],
                              op.get('grace_seconds', 0))
    if kind == 'generate-pods':
        return {'resourceVersion': str(cluster.generate_pods(**op))}
    raise ValueError('unknown op %r' % kind)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-kube-apiserver-control'

    def log_message(self, fmt, *args):
        if self.server.cluster.verbose:
            sys.stderr.write('[control] %s\n' % (fmt % args))

    def _reply(self, code, obj):
        body = dumps(obj)
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._handle(None)

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(n) if n else b''
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            return self._reply(400, {'error': 'bad JSON: %s' % e})
        self._handle(body)

    def _handle(self, body):
        c = self.server.cluster
        url = urllib.parse.urlsplit(self.path)
        path = url.path.rstrip('/') or '/'
        q = dict(urllib.parse.parse_qsl(url.query))
        b = body or {}
        try:
            out = self._route(c, path, q, b, body is None)
            if out is NotImplemented:
                return self._reply(404, {'error': 'unknown control endpoint %s' % path})
            self._reply(200, {'ok': True, 'result': out, 'resourceVersion': str(c.rv)})
        except (TypeError, ValueError, KeyError) as e:
            self._reply(400, {'error': '%s: %s' % (type(e).__name__, e)})

    def _route(self, c, path, q, b, is_get):
        info = self.server.info
        if path in ('/', '/healthz'):
            return 'ok'
        if path == '/info':
            return info
        if path == '/state':
            return c.state()
        if path == '/requests':
            return c.request_log(int(q.get('since', b.get('since', 0))))
        if path == '/objects':
            return c.list(q.get('resource', b.get('resource', 'pods')), q.get('namespace', b.get('namespace')))
        if is_get:
            return NotImplemented
        if path == '/pods':
            return c.upsert_pod(**b)
        if path == '/namespaces':
            return c.upsert_namespace(**b)
        if path == '/configmaps':
            return c.upsert_configmap(**b)
        if path in ('/pods/delete', '/namespaces/delete', '/configmaps/delete'):
            return c.delete(path.split('/')[1], b.get('namespace'), b['name'], b.get('grace_seconds', 0))
        if path == '/objects/apply':
            return c.apply(b['object'])
        if path == '/objects/delete':
            return c.delete(b.get('resource') or b['kind'], b.get('namespace'), b['name'], b.get('grace_seconds', 0))
        if path == '/batch':
            return c.batch(b['ops'])
        if path == '/generate-pods':
            return {'resourceVersion': str(c.generate_pods(**b))}
        if path == '/history':
            return c.set_history_window(b['window'])
        if path == '/compact':
            return c.compact()
        if path == '/bookmark':
            return c.send_bookmarks(b.get('resource'))
        if path == '/tokens':
            c.add_token(b['token'], b.get('user', 'test-user'), b.get('allow', ['*']), b.get('groups', []))
            return {'token': b['token']}
        if path == '/tokens/delete':
            c.remove_token(b['token'])
            return {}
        if path == '/rotate-token':
            tok = c.rotate_token(b.get('token'), b.get('grace_seconds', 0))
            info['token'] = tok
            return {'token': tok}
        if path == '/fault/drop-watch':
            return c.fault('drop', b.get('resource'), b.get('target', 'open'), b.get('count', 1),
                           after_events=b.get('after_events', 0), mode=b.get('mode', 'eof'))
        if path == '/fault/stall-watch':
            return c.fault('stall', b.get('resource'), b.get('target', 'open'), b.get('count', 1),
                           seconds=b.get('seconds'))
        if path == '/fault/unstall':
            return c.unstall(b.get('resource'))
        if path == '/fault/malformed':
            return c.fault('malformed', b.get('resource'), b.get('target', 'open'), b.get('count', 1),
                           payload=b.get('payload'), then=b.get('then', 'continue'))
        if path == '/fault/fragment':
            return c.fault('fragment', b.get('resource'), b.get('target', 'open'), b.get('count', 1),
                           enabled=b.get('enabled', True))
        if path == '/fault/gone':
            return c.request_fault('gone', b.get('resource'), b.get('op', 'any'), b.get('count', 1),
                                   http=b.get('http', False))
        if path == '/fault/delay':
            return c.request_fault('delay', b.get('resource'), b.get('op', 'any'), b.get('count', 1),
                                   seconds=b.get('seconds', 1.0))
        if path == '/fault/error':
            return c.request_fault('error', b.get('resource'), b.get('op', 'any'), b.get('count', 1),
                                   code=b.get('code', 500))
        if path == '/fault/auth':
            return c.auth_fault(b.get('token') or c.primary_token(), b.get('code', 401), b.get('count'))
        if path == '/fault/clear':
            return c.clear_faults()
        if path == '/bookmark-interval':
            c.bookmark_interval = float(b['seconds'])
            return {}
        return NotImplemented


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

"""The API over HTTP(S): the threading TLS server, authentication, routing of GET
requests, LIST and single-object responses (gzip, chunking like Go's net/http)."""

from __future__ import annotations

import gzip
import http.server
import ssl
import sys
import time
import traceback
import urllib.parse
import uuid

from .protocol import (ApiError, BODY_CHUNK_SIZE, GO_CHUNKING_THRESHOLD, GZIP_THRESHOLD, KINDS,
                       SERVER_VERSION, bool_param, dumps, gone_expired, make_filter, parse_field_selector,
                       parse_label_selector, status_object)
from .watch import DropConnection, WatchStream


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-kube-apiserver/1.33'
    sys_version = ''

    def log_message(self, fmt, *args):
        if self.server.cluster.verbose:
            sys.stderr.write('[api] %s %s\n' % (self.address_string(), fmt % args))

    def do_GET(self):
        self.server.app.handle(self)

    def _not_allowed(self):
        n = int(self.headers.get('Content-Length') or 0)
        if n:
            self.rfile.read(n)
        self.server.app.handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _not_allowed


class TLSThreadingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, ssl_ctx):
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread, not in the accept loop.
        conn = request
        if self.ssl_ctx is not None:
            try:
                request.settimeout(15)
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
                conn.settimeout(None)
            except (OSError, ssl.SSLError) as e:
                if self.cluster.verbose:
                    sys.stderr.write('[api] TLS handshake from %s failed: %s\n' % (client_address, e))
                try:
                    request.close()
                except OSError:
                    pass
                return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, DropConnection, TimeoutError)):
            return
        if self.cluster.verbose:
            super().handle_error(request, client_address)


class ApiApp(WatchStream):
    def __init__(self, cluster, gzip_enabled=True, chunked_lists=True):
        self.cluster = cluster
        self.gzip_enabled = gzip_enabled
        self.chunked_lists = chunked_lists

    # ---------------------------------------------------------------- responses
    def send_body(self, h, code, body, entry, content_type='application/json', extra_headers=None):
        headers = {'Content-Type': content_type, 'Cache-Control': 'no-cache, private',
                   'Audit-Id': entry.get('audit_id', '')}
        if extra_headers:
            headers.update(extra_headers)
        if (self.gzip_enabled and len(body) > GZIP_THRESHOLD
                and 'gzip' in (h.headers.get('Accept-Encoding') or '').lower()):
            body = gzip.compress(body, compresslevel=1)
            headers['Content-Encoding'] = 'gzip'
            headers['Vary'] = 'Accept-Encoding'
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        # Like Go's net/http under the apiserver: a body that outgrows the 2 KiB buffer before the
        # handler returns goes out with chunked transfer encoding, not Content-Length.
        chunked = self.chunked_lists and len(body) > GO_CHUNKING_THRESHOLD and h.command != 'HEAD'
        if chunked:
            h.send_header('Transfer-Encoding', 'chunked')
        else:
            h.send_header('Content-Length', str(len(body)))
        h.end_headers()
        if h.command == 'HEAD':
            pass
        elif chunked:
            step = BODY_CHUNK_SIZE
            batch = []
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                batch.append(b'%x\r\n' % len(piece))
                batch.append(piece)
                batch.append(b'\r\n')
                if len(batch) >= 192:
                    h.wfile.write(b''.join(batch))
                    batch = []
            batch.append(b'0\r\n\r\n')
            h.wfile.write(b''.join(batch))
        else:
            h.wfile.write(body)
        entry['status'] = code
        entry['bytes'] = len(body)

    def send_error(self, h, err, entry):
        self.send_body(h, err.code, dumps(err.status()), entry, extra_headers=err.headers)
        entry['reason'] = err.reason

    # ---------------------------------------------------------------- dispatch
    def handle(self, h):
        c = self.cluster
        url = urllib.parse.urlsplit(h.path)
        q = {}
        for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
            q[k] = v
        path = url.path.rstrip('/') or '/'
        entry = {'time': time.time(), 'method': h.command, 'path': path, 'query': q,
                 'remote': '%s:%s' % h.client_address[:2], 'audit_id': str(uuid.uuid4()),
                 'user_agent': h.headers.get('User-Agent', ''), 'watch': False}
        try:
            self._dispatch(h, path, q, entry)
        except ApiError as e:
            self.send_error(h, e, entry)
        except (ConnectionError, ssl.SSLError, DropConnection, TimeoutError):
            h.close_connection = True
        except Exception as e:  # a bug in the fake: answer 500 and keep serving
            traceback.print_exc()
            try:
                self.send_error(h, ApiError(500, 'InternalError', 'fake apiserver error: %s' % e), entry)
            except Exception:
                h.close_connection = True
        finally:
            if not entry.get('logged'):
                c.log_request(entry)

    def _authenticate(self, h, entry):
        auth = h.headers.get('Authorization')
        token = None
        if auth:
            parts = auth.split(None, 1)
            if len(parts) == 2 and parts[0].lower() == 'bearer':
                token = parts[1].strip()
            else:
                token = ''
        cn = None
        try:
            cert = h.connection.getpeercert() if hasattr(h.connection, 'getpeercert') else None
        except (ValueError, ssl.SSLError):
            cert = None
        if cert:
            for rdn in cert.get('subject', ()):
                for k, v in rdn:
                    if k == 'commonName':
                        cn = v
        principal, err = self.cluster.authenticate(token, cn)
        if principal is not None:
            entry['user'] = principal.user
            entry['auth'] = 'token' if token is not None else 'x509'
        return principal, err

    def _dispatch(self, h, path, q, entry):
        c = self.cluster
        if path in ('/healthz', '/livez', '/readyz'):
            return self.send_body(h, 200, b'ok', entry, content_type='text/plain; charset=utf-8')
        if path == '/version':
            return self.send_body(h, 200, dumps(SERVER_VERSION), entry)
        principal, err = self._authenticate(h, entry)
        if err is not None:
            raise err
        if h.command not in ('GET', 'HEAD'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource (the fake apiserver is read-only over the API; use the control interface)')
        if path == '/api':
            return self.send_body(h, 200, dumps({
                'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [
                    {'clientCIDR': '0.0.0.0/0', 'serverAddress': '%s:%d' % h.server.server_address[:2]}]}), entry)
        if path == '/apis':
            return self.send_body(h, 200, dumps({'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []}), entry)
        if path == '/api/v1':
            return self.send_body(h, 200, dumps(api_resource_list()), entry)
        parts = path.split('/')[1:]
        if len(parts) < 3 or parts[0] != 'api' or parts[1] != 'v1':
            raise not_found_path()
        rest = parts[2:]
        watch = bool_param(q.get('watch'))
        if rest[0] == 'watch':
            watch = True
            rest = rest[1:]
        namespace = name = None
        if len(rest) == 1:
            resource = rest[0]
        elif len(rest) == 2 and rest[0] == 'namespaces':
            resource, name = 'namespaces', rest[1]
        elif len(rest) in (3, 4) and rest[0] == 'namespaces':
            namespace, resource = rest[1], rest[2]
            name = rest[3] if len(rest) == 4 else None
        else:
            raise not_found_path()
        kind = KINDS.get(resource)
        if kind is None or (namespace is not None and not kind.namespaced):
            raise not_found_path()
        verb = 'watch' if watch else ('get' if name is not None else 'list')
        entry['verb'] = verb
        entry['resource'] = resource
        if not principal.permits(verb, resource, namespace):
            scope = ('in the namespace "%s"' % namespace) if namespace else 'at the cluster scope'
            raise ApiError(403, 'Forbidden', '%s is forbidden: User "%s" cannot %s resource "%s" in API group "" %s'
                           % (resource, principal.user, verb, resource, scope),
                           details={'kind': resource})
        field_reqs = parse_field_selector(kind, q.get('fieldSelector'))
        label_reqs = parse_label_selector(q.get('labelSelector'))
        if name is not None and not watch:
            return self._get_one(h, kind, namespace, name, entry)
        filt = make_filter(kind, field_reqs, label_reqs, name)
        has_sel = bool(field_reqs or label_reqs)
        fault = c._take_request_fault(resource, verb if verb != 'get' else 'list')
        if fault is not None:
            entry['fault'] = fault['kind']
            if fault['kind'] == 'delay':
                time.sleep(fault['seconds'])
            elif fault['kind'] == 'error':
                raise ApiError(fault['code'], _reason_for(fault['code']), 'injected error',
                               headers={'Retry-After': '1'} if fault['code'] in (429, 503) else None)
            elif fault['kind'] == 'gone':
                if not watch or fault['http']:
                    raise gone_expired('The resourceVersion for the provided %s is too old.'
                                       % ('watch' if watch else 'list'))
                return self._watch_error(h, entry, status_object(
                    410, 'Expired', 'too old resource version: %s (%d)' % (q.get('resourceVersion') or '0', c.rv)))
        if watch:
            return self._watch(h, kind, namespace, q, filt, principal, entry)
        body, n, md = c.list_response(resource, namespace, q, filt, has_sel)
        entry['items'] = n
        entry['list_meta'] = md
        self.send_body(h, 200, body, entry)

    def _get_one(self, h, kind, namespace, name, entry):
        c = self.cluster
        key = (namespace, name) if kind.namespaced else ('', name)
        with c.cond:
            so = c.objects[kind.resource].get(key)
        if so is None:
            raise ApiError(404, 'NotFound', '%s "%s" not found' % (kind.resource, name),
                           details={'name': name, 'kind': kind.resource})
        self.send_body(h, 200, so.watch_raw, entry)


def _reason_for(code):
    return {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict',
            410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable',
            504: 'Timeout'}.get(code, 'Unknown')


def not_found_path():
    return ApiError(404, 'NotFound', 'the server could not find the requested resource', details={})


def api_resource_list():
    res = []
    for k in KINDS.values():
        res.append({'name': k.resource, 'singularName': k.singular, 'namespaced': k.namespaced,
                    'kind': k.kind, 'verbs': ['get', 'list', 'watch'], 'shortNames': k.short,
                    'storageVersionHash': ''})
    return {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': res}

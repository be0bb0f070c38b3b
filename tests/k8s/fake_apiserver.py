#!/usr/bin/env python3
"""A fake Kubernetes API server for tests (Python standard library only).

It serves core/v1 pods, namespaces and configmaps from an in-memory store over
HTTPS, following the real list/watch protocol closely enough that the official
clients (client-go style reflectors, @kubernetes/client-node informers) and our
own C++ watcher work against it unchanged:

* one global resourceVersion counter, bumped by every mutation;
* LIST with limit/continue chunking served from a consistent snapshot (the
  continue token encodes the snapshot RV and the last key; it expires with
  410 Expired once the store is compacted past it), fieldSelector and
  labelSelector filtering, resourceVersion/resourceVersionMatch semantics;
* WATCH as a chunked stream of one JSON event per line, replayed from a
  bounded event history, "too old resource version" as an ERROR event with a
  410 Status, BOOKMARK events, timeoutSeconds, selector transitions turned into
  ADDED/DELETED like the apiserver's watch cache does;
* errors as Status objects, bearer-token and client-certificate auth with
  per-token permissions (401/403).

A plain-HTTP control interface on 127.0.0.1 (or the Python API when imported)
lets tests mutate objects and inject faults. See README.md beside this file.

This file is the command line and the FakeApiServer lifecycle; the rest lives in fakeapi/:
protocol (kinds, selectors, Status errors, continue tokens), store (objects, history,
LIST snapshots), watch (the event stream), http_api (TLS server, routing, responses),
auth (tokens, client certificates), faults (fault injection), control (the control
interface) and setup_files (certificates, kubeconfig, seed files).
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time

from fakeapi.control import ControlHandler, ControlServer
from fakeapi.http_api import ApiApp, ApiHandler, TLSThreadingServer
from fakeapi.setup_files import generate_certs, kubeconfig_text, load_seed
from fakeapi.store import FakeCluster


class FakeApiServer:
    """Runs the API (HTTPS) and control (HTTP) servers in background threads.

        srv = FakeApiServer(port=0, control_port=0)
        info = srv.start()           # {'url', 'control_url', 'ca_file', 'token', ...}
        srv.cluster.upsert_pod('p1', node='node-a', ip='10.0.0.1')
        srv.stop()
    """

    def __init__(self, host='127.0.0.1', port=0, control_port=0, token_file=None, token=None,
                 cert_dir=None, tls=True, client_ca=True, history_window=10000, bookmark_interval=5.0,
                 default_watch_timeout=1800.0, gzip_enabled=True, chunked_lists=True, verbose=False,
                 user='system:serviceaccount:dscp-system:dscp-gateway'):
        self._tmp = tempfile.mkdtemp(prefix='fake-apiserver-')
        self.host = host
        self.port = port
        self.control_port = control_port
        self.tls = tls
        self.client_ca = client_ca
        self.cert_dir = cert_dir or os.path.join(self._tmp, 'pki')
        if token_file is None:
            token_file = os.path.join(self._tmp, 'token')
        existing = ''
        if os.path.exists(token_file):
            with open(token_file) as f:
                existing = f.read().strip()
        if token or not existing:
            with open(token_file, 'w') as f:
                f.write(token or secrets.token_urlsafe(32))   # no trailing newline, like a projected SA token
        self.cluster = FakeCluster(history_window=history_window, bookmark_interval=bookmark_interval,
                                   default_watch_timeout=default_watch_timeout, token_file=token_file,
                                   user=user, verbose=verbose)
        self.gzip_enabled = gzip_enabled
        self.chunked_lists = chunked_lists
        self.info = {}
        self._threads = []
        self.api_server = None
        self.control_server = None

    def start(self):
        c = self.cluster
        ctx = None
        files = {}
        if self.tls:
            files = generate_certs(self.cert_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(files['cert_file'], files['key_file'])
            ctx.set_alpn_protocols(['http/1.1'])
            if self.client_ca:
                ctx.verify_mode = ssl.CERT_OPTIONAL
                ctx.load_verify_locations(files['ca_file'])
        self.api_server = TLSThreadingServer((self.host, self.port), ApiHandler, ctx)
        self.api_server.cluster = c
        self.api_server.app = ApiApp(c, self.gzip_enabled, self.chunked_lists)
        port = self.api_server.server_address[1]
        scheme = 'https' if self.tls else 'http'
        url = '%s://%s:%d' % (scheme, self.host if ':' not in self.host else '[%s]' % self.host, port)
        self.info = {'url': url, 'port': port, 'ca_file': files.get('ca_file'),
                     'client_cert_file': files.get('client_cert_file') if self.client_ca else None,
                     'client_key_file': files.get('client_key_file') if self.client_ca else None,
                     'token': c.primary_token(), 'token_file': c.token_file, 'pid': os.getpid(),
                     'user': c.primary_user}
        if self.control_port is not None:
            self.control_server = ControlServer(('127.0.0.1', self.control_port), ControlHandler)
            self.control_server.cluster = c
            self.control_server.info = self.info
            cport = self.control_server.server_address[1]
            self.info['control_url'] = 'http://127.0.0.1:%d' % cport
            self.info['control_port'] = cport
        for srv in (self.api_server, self.control_server):
            if srv is None:
                continue
            t = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.2}, daemon=True)
            t.start()
            self._threads.append(t)
        return self.info

    def write_kubeconfig(self, path, use_token_file=False, client_cert=False):
        text = kubeconfig_text(self.info['url'], self.info['ca_file'],
                               token=None if client_cert else self.cluster.primary_token(),
                               token_file=self.cluster.token_file if use_token_file else None,
                               client_cert=self.info['client_cert_file'] if client_cert else None,
                               client_key=self.info['client_key_file'] if client_cert else None)
        _atomic_write(path, text)
        self.info['kubeconfig'] = os.path.abspath(path)
        return path

    def stop(self):
        c = self.cluster
        with c.cond:
            c.stopping = True
            c.cond.notify_all()
        for srv in (self.api_server, self.control_server):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
        # give open watches a moment to send their final chunk
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with c.cond:
                if not c.watches:
                    break
            time.sleep(0.02)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _atomic_write(path, text):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--host', default='127.0.0.1', help='address to serve the API on (default 127.0.0.1)')
    ap.add_argument('--port', type=int, default=0, help='API (HTTPS) port; 0 = any free port')
    ap.add_argument('--control-port', type=int, default=0, help='control (HTTP, 127.0.0.1) port; 0 = any; -1 = none')
    ap.add_argument('--token-file', help='bearer token file; read on every request (rewrite it to rotate); '
                    'created with a random token if missing or empty')
    ap.add_argument('--token', help='initial token to write into the token file')
    ap.add_argument('--ready-file', help='write {url, control_url, ca_file, token, ...} here once listening')
    ap.add_argument('--kubeconfig-out', help='write a kubeconfig pointing at the server here')
    ap.add_argument('--kubeconfig-token-file', action='store_true',
                    help='also put tokenFile (client-go re-reads it) in the kubeconfig')
    ap.add_argument('--cert-dir', help='where to keep the CA and certificates (reused if present); '
                    'default: a temporary directory removed on exit')
    ap.add_argument('--no-tls', action='store_true', help='serve plain HTTP (for debugging only)')
    ap.add_argument('--no-client-certs', action='store_true', help='do not request client certificates')
    ap.add_argument('--seed', action='append', default=[], help='JSON file of initial objects (repeatable)')
    ap.add_argument('--generate-pods', type=int, default=0, metavar='N', help='create N running pods')
    ap.add_argument('--node', default='node-a', help='node of the generated pods (default node-a)')
    ap.add_argument('--generate-namespace', default='default', help='namespace of the generated pods')
    ap.add_argument('--history-window', type=int, default=10000, help='watch history size in events')
    ap.add_argument('--bookmark-interval', type=float, default=5.0, help='seconds between BOOKMARK events')
    ap.add_argument('--default-watch-timeout', type=float, default=1800.0,
                    help='watch length when the client sends no timeoutSeconds')
    ap.add_argument('--no-gzip', action='store_true', help='never gzip large responses')
    ap.add_argument('--content-length', action='store_true',
                    help='send every non-watch body with Content-Length (default: bodies over 2 KiB '
                    'are chunked, as Go\'s net/http does)')
    ap.add_argument('--user', default='system:serviceaccount:dscp-system:dscp-gateway',
                    help='user name of the token-file token')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args(argv)

    srv = FakeApiServer(host=args.host, port=args.port,
                        control_port=None if args.control_port < 0 else args.control_port,
                        token_file=args.token_file, token=args.token, cert_dir=args.cert_dir,
                        tls=not args.no_tls, client_ca=not args.no_client_certs,
                        history_window=args.history_window, bookmark_interval=args.bookmark_interval,
                        default_watch_timeout=args.default_watch_timeout, gzip_enabled=not args.no_gzip,
                        chunked_lists=not args.content_length, verbose=args.verbose, user=args.user)
    t0 = time.monotonic()
    for s in args.seed:
        load_seed(srv.cluster, s)
    if args.generate_pods:
        srv.cluster.generate_pods(args.generate_pods, args.node, args.generate_namespace)
    load_s = time.monotonic() - t0
    info = srv.start()
    if args.kubeconfig_out:
        srv.write_kubeconfig(args.kubeconfig_out, use_token_file=args.kubeconfig_token_file)
    info['resourceVersion'] = str(srv.cluster.rv)
    info['seed_seconds'] = round(load_s, 3)
    if args.ready_file:
        _atomic_write(args.ready_file, json.dumps(info, indent=2) + '\n')
    sys.stderr.write('fake-apiserver: %s (control %s), rv %s, %s pods\n'
                     % (info['url'], info.get('control_url'), srv.cluster.rv, len(srv.cluster.objects['pods'])))
    sys.stderr.flush()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    srv.stop()
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    return 0


if __name__ == '__main__':
    sys.exit(main())

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
"""

import argparse
import base64
import bisect
import collections
import copy
import gzip
import http.server
import json
import os
import random
import secrets
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid

INF = float('inf')
SERVER_VERSION = {
    'major': '1',
    'minor': '33',
    'gitVersion': 'v1.33.0-fake',
    'gitCommit': '0000000000000000000000000000000000000000',
    'gitTreeState': 'clean',
    'buildDate': '2025-01-01T00:00:00Z',
    'goVersion': 'go1.24.0',
    'compiler': 'gc',
    'platform': 'linux/amd64',
}
INITIAL_EVENTS_END = 'k8s.io/initial-events-end'
GO_CHUNKING_THRESHOLD = 2048     # net/http's bufferBeforeChunkingSize
BODY_CHUNK_SIZE = 16384
PEER_CHECK_INTERVAL = 1.0        # how often an idle watch checks whether its client went away
GZIP_THRESHOLD = 128 * 1024      # the apiserver compresses responses larger than this


def _dumps(obj):
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode()


def _now_rfc3339():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def _new_uid(_bits=random.Random().getrandbits):
    """A random (version 4) UUID string, faster than str(uuid.uuid4())."""
    h = '%032x' % ((_bits(128) & ~(0xf000 << 64) | (0x4000 << 64)) & ~(0xc << 60) | (0x8 << 60))
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def _bool_param(v):
    return v is not None and v.lower() in ('1', 'true', 't', 'yes', 'y')


# --------------------------------------------------------------------------------------
# Resource kinds and their field selectors (the fields the real apiserver supports).

def _get(*path, fmt=None):
    """A field getter: the value at path in an object dict ('' when missing)."""
    def get(o):
        for p in path:
            o = o.get(p) if isinstance(o, dict) else None
            if o is None:
                return ''
        return fmt(o) if fmt else o
    return get


_META_FIELDS = {'metadata.name': _get('metadata', 'name'), 'metadata.namespace': _get('metadata', 'namespace')}
_POD_FIELDS = dict(_META_FIELDS, **{
    'spec.nodeName': _get('spec', 'nodeName'),
    'spec.restartPolicy': _get('spec', 'restartPolicy'),
    'spec.schedulerName': _get('spec', 'schedulerName'),
    'spec.serviceAccountName': _get('spec', 'serviceAccountName'),
    'spec.hostNetwork': lambda o: 'true' if (o.get('spec') or {}).get('hostNetwork') else 'false',
    'status.phase': _get('status', 'phase'),
    'status.podIP': _get('status', 'podIP'),
    'status.nominatedNodeName': _get('status', 'nominatedNodeName'),
})
_NAMESPACE_FIELDS = {'metadata.name': _get('metadata', 'name'), 'status.phase': _get('status', 'phase')}
_CONFIGMAP_FIELDS = dict(_META_FIELDS)


class Kind:
    def __init__(self, resource, kind, namespaced, fields, singular, short):
        self.resource = resource
        self.kind = kind
        self.list_kind = kind + 'List'
        self.namespaced = namespaced
        self.fields = fields
        self.singular = singular
        self.short = short
        self.watch_prefix = b'{"kind":"%s","apiVersion":"v1",' % kind.encode()


# The field selectors each kind supports (the same set as the real apiserver).
KINDS = {
    'pods': Kind('pods', 'Pod', True, _POD_FIELDS, 'pod', ['po']),
    'namespaces': Kind('namespaces', 'Namespace', False, _NAMESPACE_FIELDS, 'namespace', ['ns']),
    'configmaps': Kind('configmaps', 'ConfigMap', True, _CONFIGMAP_FIELDS, 'configmap', ['cm']),
}
KIND_BY_NAME = {k.kind: k for k in KINDS.values()}


def resource_for(kind_or_resource):
    if kind_or_resource in KINDS:
        return kind_or_resource
    k = KIND_BY_NAME.get(kind_or_resource)
    if k is None:
        low = (kind_or_resource or '').lower()
        for r in KINDS.values():
            if low in (r.resource, r.singular, r.kind.lower()) or low in r.short:
                return r.resource
        raise ValueError('unknown kind/resource %r' % kind_or_resource)
    return k.resource


# --------------------------------------------------------------------------------------
# Errors

class ApiError(Exception):
    """An error the API answers with a Status object."""

    def __init__(self, code, reason, message, details=None, list_continue=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_continue = list_continue
        self.headers = headers or {}

    def status(self):
        return status_object(self.code, self.reason, self.message, self.details, self.list_continue)


def status_object(code, reason, message, details=None, list_continue=None):
    md = {}
    if list_continue:
        md['continue'] = list_continue
    st = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': md, 'status': 'Failure',
          'message': message, 'reason': reason}
    if details is not None:
        st['details'] = details
    st['code'] = code
    return st


def gone_expired(message):
    return ApiError(410, 'Expired', message)


CONTINUE_EXPIRED_MSG = (
    'The provided continue parameter is too old to display a consistent list result. '
    'You can start a new list without the continue parameter, or use the continue token '
    'in this response to retrieve the remainder of the results. Continuing with the '
    'provided token results in an inconsistent list - objects that were created, modified, '
    'or deleted between the time the first chunk was returned and now may show up in the list.')


# --------------------------------------------------------------------------------------
# Selectors

def parse_field_selector(kind, text):
    """Returns a list of (field, op, value); op is '=' or '!='."""
    reqs = []
    if not text:
        return reqs
    for term in _split_top(text):
        term = term.strip()
        if not term:
            continue
        if '!=' in term:
            f, v = term.split('!=', 1)
            op = '!='
        elif '==' in term:
            f, v = term.split('==', 1)
            op = '='
        elif '=' in term:
            f, v = term.split('=', 1)
            op = '='
        else:
            raise ApiError(400, 'BadRequest', 'invalid selector: \'%s\'; can\'t understand \'%s\'' % (text, term))
        f = f.strip()
        if f not in kind.fields:
            raise ApiError(400, 'BadRequest', 'field label not supported: %s' % f)
        reqs.append((f, op, v.strip()))
    return reqs


def _split_top(text):
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(''.join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append(''.join(cur))
    return out


def parse_label_selector(text):
    """Returns a list of (key, op, values) with op in exists, !exists, =, !=, in, notin."""
    reqs = []
    if not text:
        return reqs
    for term in _split_top(text):
        t = term.strip()
        if not t:
            continue
        low = ' ' + t + ' '
        try:
            if ' notin ' in low or ' notin(' in low:
                k, rest = t.split('notin', 1)
                reqs.append((k.strip(), 'notin', _paren_values(rest)))
            elif ' in ' in low or ' in(' in low:
                k, rest = t.split(' in', 1)
                reqs.append((k.strip(), 'in', _paren_values(rest)))
            elif '!=' in t:
                k, v = t.split('!=', 1)
                reqs.append((k.strip(), '!=', {v.strip()}))
            elif '==' in t:
                k, v = t.split('==', 1)
                reqs.append((k.strip(), '=', {v.strip()}))
            elif '=' in t:
                k, v = t.split('=', 1)
                reqs.append((k.strip(), '=', {v.strip()}))
            elif t.startswith('!'):
                reqs.append((t[1:].strip(), '!exists', None))
            else:
                reqs.append((t, 'exists', None))
        except ValueError:
            raise ApiError(400, 'BadRequest', 'unable to parse requirement: %r' % t)
        key = reqs[-1][0]
        if not key or any(c in key for c in ' ()!=,'):
            raise ApiError(400, 'BadRequest', 'unable to parse requirement: invalid label key "%s"' % key)
    return reqs


def _paren_values(rest):
    rest = rest.strip()
    if not (rest.startswith('(') and rest.endswith(')')):
        raise ValueError(rest)
    return {v.strip() for v in rest[1:-1].split(',') if v.strip()}


def make_filter(kind, field_reqs, label_reqs, name=None):
    """A predicate over object dicts, or None when everything matches."""
    if name is not None:
        field_reqs = list(field_reqs) + [('metadata.name', '=', name)]
    if not field_reqs and not label_reqs:
        return None
    getters = [(kind.fields[f], op == '=', v) for f, op, v in field_reqs]

    def match(o):
        for get, eq, v in getters:
            if (get(o) == v) != eq:
                return False
        if label_reqs:
            labels = (o.get('metadata') or {}).get('labels') or {}
            for k, op, vals in label_reqs:
                has = k in labels
                if op == 'exists':
                    ok = has
                elif op == '!exists':
                    ok = not has
                elif op == '=':
                    ok = has and labels[k] in vals
                elif op == '!=':
                    ok = not has or labels[k] not in vals
                elif op == 'in':
                    ok = has and labels[k] in vals
                else:  # notin
                    ok = not has or labels[k] not in vals
                if not ok:
                    return False
        return True
    return match


# --------------------------------------------------------------------------------------
# The store

class StoredObj:
    """One immutable version of an object, pre-serialized (list items carry no kind/apiVersion,
    like the real apiserver's JSON lists; watch events and GETs do)."""
    __slots__ = ('obj', 'raw', '_watch_raw', 'kind')

    def __init__(self, kind, obj, raw=None):
        self.kind = kind
        self.obj = obj
        if raw is None:
            raw = _dumps({k: v for k, v in obj.items() if k not in ('kind', 'apiVersion')})
        self.raw = raw
        self._watch_raw = None

    @property
    def watch_raw(self):
        w = self._watch_raw
        if w is None:
            w = self.kind.watch_prefix + self.raw[1:] if len(self.raw) > 2 else self.kind.watch_prefix[:-1] + b'}'
            self._watch_raw = w
        return w


class Event:
    __slots__ = ('rv', 'resource', 'type', 'key', 'new', 'old')

    def __init__(self, rv, resource, etype, key, new, old):
        self.rv = rv
        self.resource = resource
        self.type = etype
        self.key = key
        self.new = new
        self.old = old


class WatchState:
    """A watch being served; faults are armed on it from the control side (under the lock)."""

    def __init__(self, wid, resource, namespace, path, query, user, start_rv, remote):
        self.id = wid
        self.resource = resource
        self.namespace = namespace
        self.path = path
        self.query = query
        self.user = user
        self.start_rv = start_rv
        self.pos_rv = start_rv
        self.remote = remote
        self.started = time.time()
        self.sent = 0
        self.bookmarks = 0
        self.drop_mode = None
        self.drop_at = None
        self.stall_until = None
        self.malformed = None
        self.fragment = False
        self.bookmark_now = False
        self.allow_bookmarks = False

    def describe(self):
        return {
            'id': self.id, 'resource': self.resource, 'namespace': self.namespace, 'path': self.path,
            'query': self.query, 'user': self.user, 'start_rv': str(self.start_rv),
            'pos_rv': str(self.pos_rv), 'events_sent': self.sent, 'bookmarks_sent': self.bookmarks,
            'allow_bookmarks': self.allow_bookmarks, 'started': self.started, 'remote': self.remote,
            'stalled': self.stall_until is not None,
            'drop_armed': None if self.drop_mode is None else {'mode': self.drop_mode, 'at_events': self.drop_at},
        }

    def arm(self, fault):
        kind = fault['fault']
        if kind == 'drop':
            self.drop_mode = fault.get('mode', 'eof')
            self.drop_at = self.sent + int(fault.get('after_events', 0))
        elif kind == 'stall':
            secs = fault.get('seconds')
            self.stall_until = INF if secs is None else time.monotonic() + float(secs)
        elif kind == 'malformed':
            self.malformed = {'payload': fault.get('payload'), 'then': fault.get('then', 'continue')}
        elif kind == 'fragment':
            self.fragment = bool(fault.get('enabled', True))


class Principal:
    def __init__(self, user, allow=('*',), groups=()):
        self.user = user
        self.allow = list(allow)
        self.groups = list(groups)

    def permits(self, verb, resource, namespace):
        for rule in self.allow:
            parts = rule.split(':')
            if parts == ['*']:
                return True
            v = parts[0]
            r = parts[1] if len(parts) > 1 else '*'
            n = parts[2] if len(parts) > 2 else '*'
            if v not in ('*', verb) or r not in ('*', resource):
                continue
            if n != '*' and n != (namespace or ''):
                continue
            return True
        return False

    def describe(self):
        return {'user': self.user, 'allow': self.allow, 'groups': self.groups}


class FakeCluster:
    """The in-memory API state, its event history, auth and fault injection."""

    def __init__(self, history_window=10000, bookmark_interval=5.0, default_watch_timeout=1800.0,
                 start_rv=100, token_file=None, user='system:serviceaccount:dscp-system:dscp-gateway',
                 snapshot_cache=8, verbose=False):
        self.cond = threading.Condition(threading.Lock())
        self.rv = start_rv
        self.objects = {r: {} for r in KINDS}
        self._sorted = {r: None for r in KINDS}
        self._hist = []
        self._hist_rvs = []
        self._hist_start = 0
        self.history_window = int(history_window)
        self.watch_floor = start_rv      # watching from an RV below this is "too old"
        self.compacted_rv = 0            # continue tokens below this are expired
        self._snapshots = collections.OrderedDict()
        self._snapshot_cache = snapshot_cache
        self.bookmark_interval = float(bookmark_interval)
        self.default_watch_timeout = float(default_watch_timeout)
        self.watches = {}
        self._next_watch = 1
        self.pending_watch_faults = []   # armed on the next watches to open
        self.request_faults = []         # gone/delay for list/watch requests
        self.auth_faults = {}            # token -> {'code', 'remaining'}
        self.tokens = {}                 # extra tokens -> Principal
        self.cert_users = {}             # client-cert CN -> Principal (default: all allowed)
        self.token_file = token_file
        self.primary_user = user
        self._tf_sig = None
        self._tf_token = None
        self._grace_tokens = {}          # old primary token -> deadline (monotonic)
        self.requests = collections.deque(maxlen=50000)
        self._req_seq = 0
        self.stopping = False
        self.verbose = verbose
        self.started = time.time()

    # ---------------------------------------------------------------- history / mutation
    def _append_event(self, ev):
        self._hist.append(ev)
        self._hist_rvs.append(ev.rv)
        live = len(self._hist) - self._hist_start
        if live > self.history_window:
            self._trim_history(live - self.history_window)

    def _trim_history(self, n):
        if n <= 0:
            return
        n = min(n, len(self._hist) - self._hist_start)
        if n <= 0:
            return
        self._hist_start += n
        self.watch_floor = max(self.watch_floor, self._hist_rvs[self._hist_start - 1])
        if self._hist_start > 4096 and self._hist_start * 2 > len(self._hist):
            del self._hist[:self._hist_start]
            del self._hist_rvs[:self._hist_start]
            self._hist_start = 0

    def _events_after(self, rv, limit=1000):
        i = bisect.bisect_right(self._hist_rvs, rv, self._hist_start)
        return self._hist[i:i + limit]

    def oldest_history_rv(self):
        return self._hist_rvs[self._hist_start] if len(self._hist) > self._hist_start else None

    def _key(self, kind, obj):
        md = obj.setdefault('metadata', {})
        name = md.get('name')
        if not name:
            raise ValueError('metadata.name is required')
        if kind.namespaced:
            ns = md.get('namespace') or 'default'
            md['namespace'] = ns
            return (ns, name)
        md.pop('namespace', None)
        return ('', name)

    def _put(self, resource, obj):
        """Create or replace an object (under the lock). Returns the stored dict."""
        kind = KINDS[resource]
        obj = copy.deepcopy(obj)
        obj['kind'] = kind.kind
        obj['apiVersion'] = 'v1'
        key = self._key(kind, obj)
        store = self.objects[resource]
        old = store.get(key)
        self.rv += 1
        md = obj['metadata']
        if old is not None:
            md['uid'] = old.obj['metadata']['uid']
            md['creationTimestamp'] = old.obj['metadata']['creationTimestamp']
        else:
            md.setdefault('uid', _new_uid())
            md.setdefault('creationTimestamp', _now_rfc3339())
        md['resourceVersion'] = str(self.rv)
        if resource == 'namespaces':
            md.setdefault('labels', {})['kubernetes.io/metadata.name'] = md['name']
        new = StoredObj(kind, obj)
        store[key] = new
        if old is None:
            self._sorted[resource] = None
        self._append_event(Event(self.rv, resource, 'ADDED' if old is None else 'MODIFIED', key, new, old))
        self.cond.notify_all()
        return obj

    def _delete(self, resource, key):
        store = self.objects[resource]
        old = store.get(key)
        if old is None:
            return None
        self.rv += 1
        final = copy.deepcopy(old.obj)
        final['metadata']['resourceVersion'] = str(self.rv)
        del store[key]
        self._sorted[resource] = None
        self._append_event(Event(self.rv, resource, 'DELETED', key, StoredObj(KINDS[resource], final), old))
        self.cond.notify_all()
        return final

    def _sorted_keys(self, resource):
        keys = self._sorted[resource]
        if keys is None:
            keys = sorted(self.objects[resource])
            self._sorted[resource] = keys
        return keys

    # ---------------------------------------------------------------- public object API
    def apply(self, obj):
        """Create or replace a full object (dict with kind). Returns the stored object."""
        resource = resource_for(obj.get('kind'))
        with self.cond:
            return copy.deepcopy(self._put(resource, obj))

    def get(self, resource, namespace, name):
        resource = resource_for(resource)
        key = (namespace or 'default', name) if KINDS[resource].namespaced else ('', name)
        with self.cond:
            so = self.objects[resource].get(key)
            return copy.deepcopy(so.obj) if so else None

    def list(self, resource, namespace=None):
        resource = resource_for(resource)
        with self.cond:
            return [copy.deepcopy(so.obj) for k, so in sorted(self.objects[resource].items())
                    if namespace is None or k[0] == namespace]

    def delete(self, resource, namespace, name, grace_seconds=0):
        """Delete an object. With grace_seconds > 0 a pod first gets deletionTimestamp (MODIFIED)
        and is removed (DELETED) after that many seconds, like a graceful pod deletion."""
        resource = resource_for(resource)
        key = (namespace or 'default', name) if KINDS[resource].namespaced else ('', name)
        with self.cond:
            so = self.objects[resource].get(key)
            if so is None:
                return None
            if grace_seconds and grace_seconds > 0:
                if 'deletionTimestamp' in so.obj['metadata']:
                    return copy.deepcopy(so.obj)
                obj = copy.deepcopy(so.obj)
                obj['metadata']['deletionTimestamp'] = time.strftime(
                    '%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + grace_seconds))
                obj['metadata']['deletionGracePeriodSeconds'] = int(grace_seconds)
                out = self._put(resource, obj)
                t = threading.Timer(grace_seconds, self._finish_delete, (resource, key, out['metadata']['uid']))
                t.daemon = True
                t.start()
                return copy.deepcopy(out)
            return self._delete(resource, key)

    def _finish_delete(self, resource, key, uid):
        with self.cond:
            so = self.objects[resource].get(key)
            if so is not None and so.obj['metadata']['uid'] == uid:
                self._delete(resource, key)

    def upsert_pod(self, name, namespace='default', node=None, ip=None, ips=None, phase=None,
                   host_network=None, host_ip=None, labels=None, annotations=None, containers=None,
                   spec=None, status=None, metadata=None, remove_labels=None):
        """Create a pod or change the given fields of an existing one (None = leave as is).
        ip='' clears podIP/podIPs; ips lists all pod IPs (dual stack), the first is podIP."""
        with self.cond:
            so = self.objects['pods'].get((namespace, name))
            if so is not None:
                obj = copy.deepcopy(so.obj)
            else:
                obj = {'metadata': {'name': name, 'namespace': namespace},
                       'spec': {'containers': containers or [{'name': 'app', 'image': 'registry.k8s.io/pause:3.10'}],
                                'restartPolicy': 'Always', 'schedulerName': 'default-scheduler',
                                'serviceAccountName': 'default', 'terminationGracePeriodSeconds': 30},
                       'status': {'phase': 'Pending', 'qosClass': 'BestEffort'}}
            md, sp, st = obj['metadata'], obj['spec'], obj['status']
            _merge_meta(md, labels, annotations, metadata, remove_labels)
            if containers is not None:
                sp['containers'] = containers
            if node is not None:
                if node:
                    sp['nodeName'] = node
                else:
                    sp.pop('nodeName', None)
            if host_network is not None:
                if host_network:
                    sp['hostNetwork'] = True
                else:
                    sp.pop('hostNetwork', None)
            if spec:
                sp.update(spec)
            if host_ip is not None:
                if host_ip:
                    st['hostIP'] = host_ip
                    st['hostIPs'] = [{'ip': host_ip}]
                else:
                    st.pop('hostIP', None)
                    st.pop('hostIPs', None)
            if ips is None and ip is not None:
                ips = [ip] if ip else []
            if ips is not None:
                if ips:
                    st['podIP'] = ips[0]
                    st['podIPs'] = [{'ip': a} for a in ips]
                else:
                    st.pop('podIP', None)
                    st.pop('podIPs', None)
            if phase is not None:
                st['phase'] = phase
            elif so is None and sp.get('nodeName') and st.get('podIP'):
                st['phase'] = 'Running'
            if so is None and sp.get('nodeName'):
                st.setdefault('startTime', _now_rfc3339())
            if status:
                st.update(status)
            return copy.deepcopy(self._put('pods', obj))

    def upsert_namespace(self, name, labels=None, annotations=None, phase=None, metadata=None,
                         remove_labels=None):
        with self.cond:
            so = self.objects['namespaces'].get(('', name))
            obj = copy.deepcopy(so.obj) if so else {
                'metadata': {'name': name}, 'spec': {'finalizers': ['kubernetes']}, 'status': {'phase': 'Active'}}
            _merge_meta(obj['metadata'], labels, annotations, metadata, remove_labels)
            if phase is not None:
                obj['status']['phase'] = phase
            return copy.deepcopy(self._put('namespaces', obj))

    def upsert_configmap(self, name, namespace='default', data=None, binary_data=None, labels=None,
                         annotations=None, metadata=None, merge_data=False):
        """Create or update a configmap; data replaces the whole data map unless merge_data."""
        with self.cond:
            so = self.objects['configmaps'].get((namespace, name))
            obj = copy.deepcopy(so.obj) if so else {'metadata': {'name': name, 'namespace': namespace}}
            _merge_meta(obj['metadata'], labels, annotations, metadata, None)
            if data is not None:
                if merge_data:
                    obj.setdefault('data', {}).update(data)
                else:
                    obj['data'] = dict(data)
            if binary_data is not None:
                obj['binaryData'] = dict(binary_data)
            return copy.deepcopy(self._put('configmaps', obj))

    def generate_pods(self, count, node, namespace='default', prefix=None, start=0, ip_base=(10, 64),
                      labels=None):
        """Create count running pods on node quickly (each creation is its own RV, as on a real
        cluster; serialized from a template). IPs are ip_base[0].(ip_base[1]+(i>>16)).((i>>8)&255).(i&255).
        Returns the new RV."""
        prefix = prefix or ('gen-%s-' % node)
        kind = KINDS['pods']
        store = self.objects['pods']
        ts = _now_rfc3339()
        a, b = ip_base
        # objects share their (never mutated in place) spec; the JSON comes from a template
        spec = {'containers': [{'name': 'app', 'image': 'registry.k8s.io/pause:3.10'}], 'nodeName': node,
                'restartPolicy': 'Always', 'schedulerName': 'default-scheduler', 'serviceAccountName': 'default'}
        ph = {'name': '\x01N', 'uid': '\x01U', 'rv': '\x01R', 'ip': '\x01I'}
        md_t = {'name': ph['name'], 'namespace': namespace, 'uid': ph['uid'], 'resourceVersion': ph['rv'],
                'creationTimestamp': ts}
        if labels:
            md_t['labels'] = dict(labels)
        tmpl = _dumps({'metadata': md_t, 'spec': spec,
                       'status': {'phase': 'Running', 'podIP': ph['ip'], 'podIPs': [{'ip': ph['ip']}],
                                  'startTime': ts, 'qosClass': 'BestEffort'}}).decode()
        order = []
        fmt = tmpl.replace('%', '%%')
        for k, v in ph.items():
            tok = _dumps(v).decode()[1:-1]          # how json spells the placeholder
            pos = 0
            while True:
                pos = fmt.find(tok, pos)
                if pos < 0:
                    break
                order.append((pos, k))
                pos += len(tok)
            fmt = fmt.replace(tok, '%s')
        order = [k for _, k in sorted(order)]
        with self.cond:
            for i in range(start, start + count):
                self.rv += 1
                ip = '%d.%d.%d.%d' % (a, b + (i >> 16), (i >> 8) & 255, i & 255)
                name = '%s%06d' % (prefix, i)
                key = (namespace, name)
                old = store.get(key)
                uid = old.obj['metadata']['uid'] if old is not None else _new_uid()
                rv = str(self.rv)
                md = dict(md_t, name=name, uid=uid, resourceVersion=rv)
                obj = {'kind': 'Pod', 'apiVersion': 'v1', 'metadata': md, 'spec': spec,
                       'status': {'phase': 'Running', 'podIP': ip, 'podIPs': [{'ip': ip}],
                                  'startTime': ts, 'qosClass': 'BestEffort'}}
                vals = {'name': name, 'uid': uid, 'rv': rv, 'ip': ip}
                new = StoredObj(kind, obj, (fmt % tuple(vals[k] for k in order)).encode())
                store[key] = new
                self._append_event(Event(self.rv, 'pods', 'ADDED' if old is None else 'MODIFIED', key, new, old))
            self._sorted['pods'] = None
            self.cond.notify_all()
            return self.rv

    def batch(self, ops):
        """Run several control operations; returns their results."""
        return [run_control_op(self, op) for op in ops]

    # ---------------------------------------------------------------- history control
    def set_history_window(self, window):
        with self.cond:
            self.history_window = max(0, int(window))
            live = len(self._hist) - self._hist_start
            self._trim_history(live - self.history_window)
            self.cond.notify_all()
            return self.history_state()

    def compact(self):
        """Forget the whole event history and expire every continue token issued before now:
        a watch from any RV older than the current one gets 410, like after etcd compaction."""
        with self.cond:
            self._trim_history(len(self._hist) - self._hist_start)
            self.watch_floor = max(self.watch_floor, self.rv)
            self.compacted_rv = self.rv
            for k in [k for k in self._snapshots if k[1] < self.compacted_rv]:
                del self._snapshots[k]
            self.cond.notify_all()
            return self.history_state()

    def history_state(self):
        return {'resourceVersion': str(self.rv), 'window': self.history_window,
                'events': len(self._hist) - self._hist_start,
                'oldest_rv': None if self.oldest_history_rv() is None else str(self.oldest_history_rv()),
                'watch_floor': str(self.watch_floor), 'compacted_rv': str(self.compacted_rv)}

    # ---------------------------------------------------------------- faults
    def fault(self, fault, resource=None, target='open', count=1, **params):
        """Arm a watch fault (drop, stall, malformed, fragment) on the open watches ('open'),
        on the next `count` watches to open ('next'), or both ('all')."""
        f = dict(params, fault=fault)
        if resource:
            resource = resource_for(resource)
        with self.cond:
            hit = []
            if target in ('open', 'all'):
                for st in self.watches.values():
                    if resource is None or st.resource == resource:
                        st.arm(f)
                        hit.append(st.id)
            if target in ('next', 'all'):
                self.pending_watch_faults.append({'resource': resource, 'remaining': int(count), 'fault': f})
            self.cond.notify_all()
            return {'watches': hit, 'pending': target in ('next', 'all')}

    def unstall(self, resource=None):
        with self.cond:
            for st in self.watches.values():
                if resource is None or st.resource == resource:
                    st.stall_until = None
            self.pending_watch_faults = [p for p in self.pending_watch_faults if p['fault']['fault'] != 'stall']
            self.cond.notify_all()

    def request_fault(self, kind, resource=None, op='any', count=1, http=False, seconds=0.0, code=410):
        """gone: the next `count` list/watch requests get 410 (list: HTTP 410 Status Expired;
        watch: an ERROR event with a 410 Status, or HTTP 410 when http=True).
        delay: the next `count` requests wait `seconds` before answering.
        error: the next `count` requests answer HTTP `code` (e.g. 500, 503, 429)."""
        with self.cond:
            self.request_faults.append({'kind': kind, 'resource': resource_for(resource) if resource else None,
                                        'op': op, 'remaining': int(count), 'http': bool(http),
                                        'seconds': float(seconds), 'code': int(code)})

    def _take_request_fault(self, resource, op):
        with self.cond:
            for f in self.request_faults:
                if f['remaining'] > 0 and (f['resource'] in (None, resource)) and f['op'] in ('any', op):
                    f['remaining'] -= 1
                    self.request_faults = [x for x in self.request_faults if x['remaining'] > 0]
                    return dict(f)
        return None

    def auth_fault(self, token, code=401, count=None):
        """Answer `code` (401 or 403) to requests with `token` (count=None: until cleared)."""
        with self.cond:
            if code in (0, None):
                self.auth_faults.pop(token, None)
            else:
                self.auth_faults[token] = {'code': int(code), 'remaining': None if count is None else int(count)}

    def clear_faults(self):
        with self.cond:
            self.pending_watch_faults = []
            self.request_faults = []
            self.auth_faults = {}
            for st in self.watches.values():
                st.drop_mode = st.drop_at = st.stall_until = st.malformed = None
                st.fragment = False
            self.cond.notify_all()

    def send_bookmarks(self, resource=None):
        with self.cond:
            for st in self.watches.values():
                if resource is None or st.resource == resource:
                    st.bookmark_now = True
            self.cond.notify_all()

    # ---------------------------------------------------------------- auth
    def add_token(self, token, user, allow=('*',), groups=()):
        with self.cond:
            self.tokens[token] = Principal(user, allow, groups)

    def remove_token(self, token):
        with self.cond:
            self.tokens.pop(token, None)

    def primary_token(self):
        if not self.token_file:
            return None
        try:
            stt = os.stat(self.token_file)
        except OSError:
            return None
        sig = (stt.st_mtime_ns, stt.st_size, stt.st_ino)
        if sig != self._tf_sig:
            try:
                with open(self.token_file) as f:
                    tok = f.read().strip()
            except OSError:
                return None
            if not tok:
                return None
            self._tf_sig = sig
            self._tf_token = tok
        return self._tf_token

    def rotate_token(self, new_token=None, grace_seconds=0.0):
        """Write a new token into the token file (atomically). The old one stops working at once,
        or after grace_seconds."""
        old = self.primary_token()
        new_token = new_token or secrets.token_urlsafe(32)
        tmp = self.token_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(new_token)
        os.replace(tmp, self.token_file)
        with self.cond:
            if old and grace_seconds and grace_seconds > 0:
                self._grace_tokens[old] = time.monotonic() + float(grace_seconds)
        self.primary_token()
        return new_token

    def authenticate(self, token, cert_cn):
        """Returns (principal, None) or (None, ApiError)."""
        if token is not None:
            with self.cond:
                f = self.auth_faults.get(token)
                if f is not None:
                    if f['remaining'] is not None:
                        f['remaining'] -= 1
                        if f['remaining'] <= 0:
                            del self.auth_faults[token]
                    if f['code'] == 401:
                        return None, unauthorized()
                    return Principal('forced-forbidden', allow=()), None
                p = self.tokens.get(token)
                if p is not None:
                    return p, None
                dl = self._grace_tokens.get(token)
                if dl is not None:
                    if time.monotonic() < dl:
                        return Principal(self.primary_user), None
                    del self._grace_tokens[token]
            prim = self.primary_token()
            if prim is not None and secrets.compare_digest(token.encode(), prim.encode()):
                return Principal(self.primary_user, groups=['system:serviceaccounts']), None
            return None, unauthorized()
        if cert_cn is not None:
            with self.cond:
                p = self.cert_users.get(cert_cn)
            return (p or Principal(cert_cn)), None
        return None, unauthorized()

    # ---------------------------------------------------------------- LIST
    def _snapshot(self, resource, rv):
        """(keys, objs) sorted by key as of rv, or None if it cannot be reconstructed.
        Called under the lock."""
        ck = (resource, rv)
        snap = self._snapshots.get(ck)
        if snap is not None:
            self._snapshots.move_to_end(ck)
            return snap
        if rv == self.rv:
            keys = self._sorted_keys(resource)
            store = self.objects[resource]
            snap = (keys, [store[k] for k in keys])
        else:
            if rv < self.watch_floor or rv > self.rv:
                return None
            state = dict(self.objects[resource])
            i = bisect.bisect_right(self._hist_rvs, rv, self._hist_start)
            for ev in reversed(self._hist[i:]):
                if ev.resource != resource:
                    continue
                if ev.type == 'ADDED':
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.old
            keys = sorted(state)
            snap = (keys, [state[k] for k in keys])
        self._snapshots[ck] = snap
        while len(self._snapshots) > self._snapshot_cache:
            self._snapshots.popitem(last=False)
        return snap

    def list_response(self, resource, namespace, q, filt, has_selectors):
        kind = KINDS[resource]
        limit = q.get('limit')
        try:
            limit = int(limit) if limit not in (None, '') else 0
        except ValueError:
            raise ApiError(400, 'BadRequest', 'invalid limit: %r' % limit)
        if limit < 0:
            limit = 0
        cont = q.get('continue') or ''
        rv_param = q.get('resourceVersion') or ''
        match = q.get('resourceVersionMatch') or ''
        if match and match not in ('Exact', 'NotOlderThan'):
            raise ApiError(422, 'Invalid', 'resourceVersionMatch: Unsupported value: "%s": supported values: '
                           '"Exact", "NotOlderThan"' % match)
        if match and not rv_param:
            raise ApiError(422, 'Invalid', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden '
                           'unless resourceVersion is provided')
        if match == 'Exact' and rv_param == '0':
            raise ApiError(422, 'Invalid', 'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is '
                           'forbidden for resourceVersion "0"')
        if rv_param:
            try:
                rv_int = int(rv_param)
            except ValueError:
                raise ApiError(400, 'BadRequest', 'invalid resource version: %s' % rv_param)
        start_key = None
        with self.cond:
            if cont:
                if rv_param and rv_param != '0':
                    raise ApiError(400, 'BadRequest', 'specifying resource version is not allowed when using continue')
                snap_rv, start_key = decode_continue(cont, kind)
                if snap_rv == 0:
                    snap_rv = self.rv          # an "inconsistent" continue after expiry
                if snap_rv < self.compacted_rv:
                    raise ApiError(410, 'Expired', CONTINUE_EXPIRED_MSG,
                                   list_continue=encode_continue(0, start_key, kind))
                snap = self._snapshot(resource, snap_rv)
                if snap is None:
                    raise ApiError(410, 'Expired', CONTINUE_EXPIRED_MSG,
                                   list_continue=encode_continue(0, start_key, kind))
            elif match == 'Exact' or (not match and limit and rv_param not in ('', '0')):
                snap_rv = rv_int
                if snap_rv > self.rv:
                    raise too_large_rv()
                if snap_rv < self.compacted_rv:
                    raise gone_expired('too old resource version: %d (%d)' % (snap_rv, self.compacted_rv))
                snap = self._snapshot(resource, snap_rv)
                if snap is None:
                    raise gone_expired('too old resource version: %d (%d)' % (snap_rv, self.watch_floor))
            else:
                if rv_param and rv_param != '0' and rv_int > self.rv:
                    raise too_large_rv()
                snap_rv = self.rv
                snap = self._snapshot(resource, snap_rv)
        keys, objs = snap
        lo, hi = 0, len(keys)
        if namespace and kind.namespaced:
            lo = bisect.bisect_left(keys, (namespace,))
            hi = bisect.bisect_left(keys, (namespace + '\x00',))
        if start_key is not None:
            lo = max(lo, bisect.bisect_right(keys, start_key, lo, hi))
        parts = []
        i = lo
        if filt is None:
            end = hi if not limit else min(hi, lo + limit)
            parts = [o.raw for o in objs[lo:end]]
            i = end
        else:
            while i < hi:
                o = objs[i]
                i += 1
                if filt(o.obj):
                    parts.append(o.raw)
                    if limit and len(parts) >= limit:
                        break
        md = {'resourceVersion': str(snap_rv)}
        if limit and len(parts) >= limit and i < hi:
            md['continue'] = encode_continue(snap_rv, keys[i - 1], kind)
            if not has_selectors:
                md['remainingItemCount'] = hi - i
        head = b'{"kind":"%s","apiVersion":"v1","metadata":%s,"items":[' % (kind.list_kind.encode(), _dumps(md))
        return head + b','.join(parts) + b']}', len(parts), md

    # ---------------------------------------------------------------- request log
    def log_request(self, entry):
        with self.cond:
            self._req_seq += 1
            entry['seq'] = self._req_seq
            self.requests.append(entry)
            return entry

    def request_log(self, since=0):
        with self.cond:
            return [dict(e) for e in self.requests if e['seq'] > since]

    def state(self):
        with self.cond:
            return {
                'resourceVersion': str(self.rv),
                'counts': {r: len(v) for r, v in self.objects.items()},
                'history': self.history_state(),
                'watches': [st.describe() for st in self.watches.values()],
                'pending_watch_faults': copy.deepcopy(self.pending_watch_faults),
                'request_faults': copy.deepcopy(self.request_faults),
                'auth_faults': copy.deepcopy(self.auth_faults),
                'tokens': {t[:6] + '...': p.describe() for t, p in self.tokens.items()},
                'bookmark_interval': self.bookmark_interval,
                'requests_logged': self._req_seq,
            }


def _merge_meta(md, labels, annotations, metadata, remove_labels):
    if labels is not None:
        md.setdefault('labels', {}).update(labels)
    if remove_labels:
        for k in remove_labels:
            (md.get('labels') or {}).pop(k, None)
    if annotations is not None:
        md.setdefault('annotations', {}).update(annotations)
    if metadata:
        md.update(metadata)


def unauthorized():
    return ApiError(401, 'Unauthorized', 'Unauthorized')


def too_large_rv():
    return ApiError(504, 'Timeout', 'Too large resource version',
                    details={'causes': [{'reason': 'ResourceVersionTooLarge', 'message': 'Too large resource version'}],
                             'retryAfterSeconds': 1})


def _key_str(key, kind):
    return '%s/%s' % key if kind.namespaced else key[1]


def encode_continue(rv, key, kind):
    tok = {'v': 'meta.k8s.io/v1', 'rv': rv, 'start': _key_str(key, kind) + '\x00'}
    return base64.urlsafe_b64encode(json.dumps(tok, separators=(',', ':')).encode()).decode().rstrip('=')


def decode_continue(token, kind):
    try:
        pad = '=' * (-len(token) % 4)
        d = json.loads(base64.urlsafe_b64decode(token + pad))
        if d.get('v') != 'meta.k8s.io/v1':
            raise ValueError('version')
        start = d['start']
        if not start.endswith('\x00'):
            raise ValueError('start')
        start = start[:-1]
        if kind.namespaced:
            ns, name = start.split('/', 1)
            key = (ns, name)
        else:
            key = ('', start)
        return int(d['rv']), key
    except Exception:
        raise ApiError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion '
                       '(version meta.k8s.io/v1)')


# --------------------------------------------------------------------------------------
# HTTP serving

class _DropConnection(Exception):
    pass


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
        if isinstance(exc, (ConnectionError, ssl.SSLError, _DropConnection, TimeoutError)):
            return
        if self.cluster.verbose:
            super().handle_error(request, client_address)


class ApiApp:
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
        self.send_body(h, err.code, _dumps(err.status()), entry, extra_headers=err.headers)
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
        except (ConnectionError, ssl.SSLError, _DropConnection, TimeoutError):
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
            return self.send_body(h, 200, _dumps(SERVER_VERSION), entry)
        principal, err = self._authenticate(h, entry)
        if err is not None:
            raise err
        if h.command not in ('GET', 'HEAD'):
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested '
                           'resource (the fake apiserver is read-only over the API; use the control interface)')
        if path == '/api':
            return self.send_body(h, 200, _dumps({
                'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [
                    {'clientCIDR': '0.0.0.0/0', 'serverAddress': '%s:%d' % h.server.server_address[:2]}]}), entry)
        if path == '/apis':
            return self.send_body(h, 200, _dumps({'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []}), entry)
        if path == '/api/v1':
            return self.send_body(h, 200, _dumps(api_resource_list()), entry)
        parts = path.split('/')[1:]
        if len(parts) < 3 or parts[0] != 'api' or parts[1] != 'v1':
            raise not_found_path()
        rest = parts[2:]
        watch = _bool_param(q.get('watch'))
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

    # ---------------------------------------------------------------- WATCH
    def _start_stream(self, h, entry):
        h.send_response(200)
        h.send_header('Content-Type', 'application/json')
        h.send_header('Cache-Control', 'no-cache, private')
        h.send_header('Transfer-Encoding', 'chunked')
        h.send_header('Audit-Id', entry['audit_id'])
        h.end_headers()
        entry['status'] = 200

    def _watch_error(self, h, entry, status):
        """The apiserver answers an unservable watch with 200 and a single ERROR event."""
        entry['watch'] = True
        self._start_stream(h, entry)
        _write_chunk(h, b'{"type":"ERROR","object":' + _dumps(status) + b'}\n')
        h.wfile.write(b'0\r\n\r\n')
        entry['error_event'] = status['code']

    def _watch(self, h, kind, namespace, q, filt, principal, entry):
        c = self.cluster
        resource = kind.resource
        entry['watch'] = True
        rv_param = q.get('resourceVersion') or ''
        allow_bm = _bool_param(q.get('allowWatchBookmarks'))
        send_initial = q.get('sendInitialEvents')
        match = q.get('resourceVersionMatch') or ''
        if send_initial is not None:
            send_initial = _bool_param(send_initial)
            if match != 'NotOlderThan':
                raise ApiError(422, 'Invalid', 'resourceVersionMatch: Forbidden: sendInitialEvents requires '
                               'setting resourceVersionMatch to NotOlderThan')
            if send_initial and not allow_bm:
                raise ApiError(422, 'Invalid', 'allowWatchBookmarks: Forbidden: sendInitialEvents requires '
                               'setting allowWatchBookmarks to true')
        elif match:
            raise ApiError(422, 'Invalid', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden '
                           'for watch unless sendInitialEvents is provided')
        try:
            timeout = float(q['timeoutSeconds']) if q.get('timeoutSeconds') else c.default_watch_timeout
        except ValueError:
            raise ApiError(400, 'BadRequest', 'invalid timeoutSeconds')
        if rv_param not in ('', '0'):
            try:
                req_rv = int(rv_param)
            except ValueError:
                raise ApiError(400, 'BadRequest', 'invalid resource version: %s' % rv_param)
        else:
            req_rv = None
        initial = None
        error_status = None
        with c.cond:
            if req_rv is not None and req_rv > c.rv:
                # like the watch cache: wait a little for the RV to appear, then give up
                c.cond.wait_for(lambda: c.rv >= req_rv or c.stopping, timeout=3.0)
            if req_rv is not None and req_rv > c.rv:
                error_status = too_large_rv().status()
            elif req_rv is not None and not send_initial and req_rv < c.watch_floor:
                error_status = status_object(410, 'Expired', 'too old resource version: %d (%d)'
                                             % (req_rv, c.watch_floor))
            else:
                if req_rv is None or send_initial:
                    start_rv = c.rv
                    initial = c._snapshot(resource, start_rv)
                else:
                    start_rv = req_rv
                wid = c._next_watch
                c._next_watch += 1
                st = WatchState(wid, resource, namespace, entry['path'], q, principal.user, start_rv,
                                entry['remote'])
                st.allow_bookmarks = allow_bm
                for p in c.pending_watch_faults:
                    if p['remaining'] > 0 and p['resource'] in (None, resource):
                        p['remaining'] -= 1
                        st.arm(p['fault'])
                c.pending_watch_faults = [p for p in c.pending_watch_faults if p['remaining'] > 0]
                c.watches[wid] = st
        if error_status is not None:
            return self._watch_error(h, entry, error_status)
        entry['watch_id'] = wid
        entry['logged'] = True
        c.log_request(entry)
        try:
            self._stream(h, st, kind, namespace, filt, allow_bm, timeout, initial, bool(send_initial), entry)
        finally:
            with c.cond:
                c.watches.pop(st.id, None)
            entry['closed'] = time.time()
            entry['events_sent'] = st.sent

    def _stream(self, h, st, kind, namespace, filt, allow_bm, timeout, initial, initial_end_bm, entry):
        c = self.cluster
        self._start_stream(h, entry)
        now = time.monotonic()
        deadline = now + timeout
        next_bm = now + c.bookmark_interval
        next_peer_check = now + PEER_CHECK_INTERVAL

        pending = []

        def flush():
            if pending:
                h.wfile.write(b''.join(pending))
                pending.clear()

        def emit(data, now=True):
            """Queue one event line as its own chunk (several chunks with the fragment fault);
            write at once unless now=False (then at the next flush or after 128 queued)."""
            if st.fragment and len(data) > 2:
                cuts = sorted(random.sample(range(1, len(data)), min(3, len(data) - 1)))
                prev = 0
                for cut in cuts + [len(data)]:
                    piece = data[prev:cut]
                    pending.append(b'%x\r\n%s\r\n' % (len(piece), piece))
                    prev = cut
            else:
                pending.append(b'%x\r\n%s\r\n' % (len(data), data))
            if now or len(pending) >= 128:
                flush()

        def check_drop():
            with c.cond:
                mode = st.drop_mode if (st.drop_mode is not None and st.sent >= st.drop_at) else None
            if mode is not None:
                flush()
                self._drop(h, mode, entry)

        if initial is not None:
            keys, objs = initial
            lo, hi = 0, len(keys)
            if namespace and kind.namespaced:
                lo = bisect.bisect_left(keys, (namespace,))
                hi = bisect.bisect_left(keys, (namespace + '\x00',))
            for o in objs[lo:hi]:
                if filt is None or filt(o.obj):
                    emit(b'{"type":"ADDED","object":' + o.watch_raw + b'}\n', now=False)
                    st.sent += 1
                    if st.drop_mode is not None:
                        check_drop()
            flush()
            if initial_end_bm:
                emit(b'{"type":"BOOKMARK","object":' + _dumps(bookmark_object(
                    kind, st.start_rv, {INITIAL_EVENTS_END: 'true'})) + b'}\n')
                st.bookmarks += 1
        while True:
            action = None
            events = ()
            with c.cond:
                while True:
                    now = time.monotonic()
                    if c.stopping:
                        action = 'shutdown'
                        break
                    if st.drop_mode is not None and st.sent >= st.drop_at:
                        action = 'drop'
                        break
                    if now >= deadline:
                        action = 'timeout'
                        break
                    if now >= next_peer_check:
                        action = 'peer-check'
                        break
                    if st.stall_until is not None:
                        if now < st.stall_until:
                            c.cond.wait(min(st.stall_until, deadline, next_peer_check) - now)
                            continue
                        st.stall_until = None
                    if st.malformed is not None:
                        action = 'malformed'
                        malformed = st.malformed
                        st.malformed = None
                        break
                    if st.pos_rv < c.watch_floor:
                        action = 'expired'
                        expired_status = status_object(410, 'Expired', 'too old resource version: %d (%d)'
                                                       % (st.pos_rv, c.watch_floor))
                        break
                    events = c._events_after(st.pos_rv, 500)
                    if events:
                        action = 'events'
                        break
                    if allow_bm and (now >= next_bm or st.bookmark_now):
                        action = 'bookmark'
                        st.bookmark_now = False
                        st.pos_rv = max(st.pos_rv, c.rv)
                        bm_rv = st.pos_rv
                        break
                    st.bookmark_now = False
                    wake = min(deadline, next_peer_check)
                    if allow_bm:
                        wake = min(wake, next_bm)
                    c.cond.wait(max(0.0, wake - now))
            if action == 'peer-check':
                # Like Go's net/http, notice a client that went away from an idle (or stalled)
                # watch, so that /state lists only the watches that are really open.
                if _peer_closed(h.connection):
                    entry['end'] = 'client-closed'
                    h.close_connection = True
                    return
                next_peer_check = time.monotonic() + PEER_CHECK_INTERVAL
            elif action == 'events':
                for ev in events:
                    line = convert_event(ev, st, kind, namespace, filt)
                    st.pos_rv = ev.rv
                    if line is not None:
                        emit(line, now=False)
                        st.sent += 1
                        with c.cond:
                            drop = st.drop_mode is not None and st.sent >= st.drop_at
                        if drop:
                            break
                flush()
            elif action == 'bookmark':
                emit(b'{"type":"BOOKMARK","object":' + _dumps(bookmark_object(kind, bm_rv)) + b'}\n')
                st.bookmarks += 1
                next_bm = time.monotonic() + c.bookmark_interval
            elif action == 'malformed':
                payload = malformed.get('payload')
                if payload is None:
                    payload = '{"type":"MODIFIED","object":{"kind":"%s","apiVersion":"v1","metadata":{"name":' \
                              % kind.kind
                data = payload.encode() if isinstance(payload, str) else payload
                if not data.endswith(b'\n'):
                    data += b'\n'
                emit(data)
                entry['malformed_sent'] = entry.get('malformed_sent', 0) + 1
                if malformed.get('then') == 'close':
                    h.wfile.write(b'0\r\n\r\n')
                    h.close_connection = True
                    return
                if malformed.get('then') == 'drop':
                    self._drop(h, 'reset', entry)
            elif action == 'expired':
                emit(b'{"type":"ERROR","object":' + _dumps(expired_status) + b'}\n')
                h.wfile.write(b'0\r\n\r\n')
                entry['error_event'] = 410
                return
            elif action == 'drop':
                with c.cond:
                    mode = st.drop_mode
                self._drop(h, mode, entry)
            else:  # timeout / shutdown: a clean end of the stream
                h.wfile.write(b'0\r\n\r\n')
                entry['end'] = action
                if action == 'shutdown':
                    h.close_connection = True
                return

    def _drop(self, h, mode, entry):
        """End the watch as a fault: 'graceful' ends the chunked body cleanly, 'eof' closes the TCP
        connection without the final chunk (and without TLS close_notify), 'reset' sends a TCP RST
        (after a short pause so that the events already written reach the client first)."""
        entry['dropped'] = mode
        h.close_connection = True
        if mode == 'graceful':
            h.wfile.write(b'0\r\n\r\n')
            raise _DropConnection()
        sock = h.connection
        try:
            if mode == 'reset':
                time.sleep(0.2)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                sock.close()
            else:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass
        raise _DropConnection()


def _peer_closed(sock):
    """True when the client closed its end: EOF (or a TLS alert) waiting on a connection on which
    a watching client sends nothing."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return False
        data = socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return data == b'' or data[:1] == b'\x15'
    except (BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


def _write_chunk(h, data):
    h.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))


def _reason_for(code):
    return {400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 409: 'Conflict',
            410: 'Expired', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable',
            504: 'Timeout'}.get(code, 'Unknown')


def not_found_path():
    return ApiError(404, 'NotFound', 'the server could not find the requested resource', details={})


def bookmark_object(kind, rv, annotations=None):
    """What the apiserver sends as a BOOKMARK object: an empty object of the watched kind carrying
    only the resourceVersion (Go's zero values included, e.g. creationTimestamp: null)."""
    md = {'resourceVersion': str(rv), 'creationTimestamp': None}
    if annotations:
        md['annotations'] = annotations
    o = {'kind': kind.kind, 'apiVersion': 'v1', 'metadata': md}
    if kind.resource == 'pods':
        o['spec'] = {'containers': None}
        o['status'] = {}
    elif kind.resource == 'namespaces':
        o['spec'] = {}
        o['status'] = {}
    return o


def convert_event(ev, st, kind, namespace, filt):
    """One history event as seen by a watcher (or None), like the watch cache does it:
    selector transitions become ADDED / DELETED."""
    if ev.resource != st.resource:
        return None
    if namespace and kind.namespaced and ev.key[0] != namespace:
        return None
    if filt is None:
        return b'{"type":"%s","object":%s}\n' % (ev.type.encode(), ev.new.watch_raw)
    if ev.type == 'DELETED':
        return (b'{"type":"DELETED","object":%s}\n' % ev.new.watch_raw) if filt(ev.old.obj) else None
    cur = filt(ev.new.obj)
    prev = ev.old is not None and filt(ev.old.obj)
    if cur and prev:
        return b'{"type":"MODIFIED","object":%s}\n' % ev.new.watch_raw
    if cur:
        return b'{"type":"ADDED","object":%s}\n' % ev.new.watch_raw
    if prev:
        gone = copy.deepcopy(ev.old.obj)
        gone['metadata']['resourceVersion'] = str(ev.rv)
        return b'{"type":"DELETED","object":%s}\n' % _dumps(gone)
    return None


def api_resource_list():
    res = []
    for k in KINDS.values():
        res.append({'name': k.resource, 'singularName': k.singular, 'namespaced': k.namespaced,
                    'kind': k.kind, 'verbs': ['get', 'list', 'watch'], 'shortNames': k.short,
                    'storageVersionHash': ''})
    return {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': res}


# --------------------------------------------------------------------------------------
# Control interface (plain HTTP, 127.0.0.1, JSON)

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
        body = _dumps(obj)
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


# --------------------------------------------------------------------------------------
# Certificates, kubeconfig, seed

def generate_certs(cert_dir, hosts=('127.0.0.1', '::1', 'localhost')):
    """A self-signed CA, a server certificate (SANs for the loopback names) and a client
    certificate, all signed by the CA, made with the openssl CLI. Reuses existing files."""
    os.makedirs(cert_dir, exist_ok=True)
    p = lambda n: os.path.join(cert_dir, n)  # noqa: E731
    files = {'ca_file': p('ca.crt'), 'ca_key': p('ca.key'), 'cert_file': p('server.crt'),
             'key_file': p('server.key'), 'client_cert_file': p('client.crt'),
             'client_key_file': p('client.key')}
    if all(os.path.exists(f) for f in files.values()):
        return files

    def run(*args):
        subprocess.run(['openssl'] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    run('req', '-x509', *ec, '-keyout', files['ca_key'], '-out', files['ca_file'], '-days', '3650',
        '-subj', '/CN=fake-apiserver-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash')
    sans = ','.join(('DNS:%s' % h) if not h[0].isdigit() and ':' not in h else ('IP:%s' % h) for h in hosts)
    for name, cn, eku, extra in (('server', 'kube-apiserver', 'serverAuth', 'subjectAltName=' + sans),
                                 ('client', 'dscp-gateway-client', 'clientAuth', None)):
        csr = p(name + '.csr')
        ext = p(name + '.ext')
        with open(ext, 'w') as f:
            f.write('basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                    'extendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n' % eku)
            if extra:
                f.write(extra + '\n')
        subj = '/CN=%s' % cn if name == 'server' else '/O=system:masters/CN=%s' % cn
        run('req', *ec, '-keyout', files['%s_file' % ('key' if name == 'server' else 'client_key')],
            '-out', csr, '-subj', subj)
        run('x509', '-req', '-in', csr, '-CA', files['ca_file'], '-CAkey', files['ca_key'], '-CAcreateserial',
            '-days', '3650', '-out', files['cert_file' if name == 'server' else 'client_cert_file'],
            '-extfile', ext)
    for f in (files['key_file'], files['client_key_file'], files['ca_key']):
        os.chmod(f, 0o600)
    return files


def kubeconfig_text(url, ca_file, token=None, token_file=None, client_cert=None, client_key=None,
                    name='fake-apiserver', namespace='default'):
    """A kubeconfig (YAML) for the fake server. With token_file, client-go's tokenFile is set too
    (kubectl re-reads it); client-node only reads the inline token."""
    def q(s):
        return json.dumps(s)
    user = []
    if token:
        user.append('    token: %s' % q(token))
    if token_file:
        user.append('    tokenFile: %s' % q(token_file))
    if client_cert:
        user.append('    client-certificate: %s' % q(client_cert))
        user.append('    client-key: %s' % q(client_key))
    return '\n'.join([
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: %s' % name,
        '  cluster:',
        '    server: %s' % q(url),
        '    certificate-authority: %s' % q(ca_file),
        'users:',
        '- name: %s-user' % name,
        '  user:',
    ] + (user or ['    {}']) + [
        'contexts:',
        '- name: %s' % name,
        '  context:',
        '    cluster: %s' % name,
        '    user: %s-user' % name,
        '    namespace: %s' % namespace,
        'current-context: %s' % name,
        'preferences: {}',
        '',
    ])


def load_seed(cluster, path):
    """Seed file: JSON. A list of objects, {"items": [...]} (a v1 List), or
    {"objects": [...], "ops": [...], "tokens": [{"token","user","allow"}]}; objects are full
    Kubernetes objects with kind; ops are control operations (see run_control_op)."""
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        data = {'objects': data}
    objs = list(data.get('objects') or []) + list(data.get('items') or [])
    for o in objs:
        cluster.apply(o)
    for op in data.get('ops') or []:
        run_control_op(cluster, op)
    for t in data.get('tokens') or []:
        cluster.add_token(t['token'], t.get('user', 'test-user'), t.get('allow', ['*']), t.get('groups', []))
    return len(objs)


# --------------------------------------------------------------------------------------
# Server lifecycle (also the Python API for tests that import this module)

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

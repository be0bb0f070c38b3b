"""The in-memory store: objects, one resourceVersion counter, the event history that
watches replay from, consistent LIST snapshots, and the request log."""

from __future__ import annotations

import bisect
import collections
import copy
import threading
import time

from .auth import TokenAuth
from .control import run_control_op
from .faults import FaultInjection
from .protocol import (ApiError, CONTINUE_EXPIRED_MSG, INF, KINDS, decode_continue, dumps, encode_continue,
                       gone_expired, new_uid, now_rfc3339, resource_for, too_large_rv)


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
            raw = dumps({k: v for k, v in obj.items() if k not in ('kind', 'apiVersion')})
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


class FakeCluster(FaultInjection, TokenAuth):
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
            md.setdefault('uid', new_uid())
            md.setdefault('creationTimestamp', now_rfc3339())
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
                st.setdefault('startTime', now_rfc3339())
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
        ts = now_rfc3339()
        a, b = ip_base
        # objects share their (never mutated in place) spec; the JSON comes from a template
        spec = {'containers': [{'name': 'app', 'image': 'registry.k8s.io/pause:3.10'}], 'nodeName': node,
                'restartPolicy': 'Always', 'schedulerName': 'default-scheduler', 'serviceAccountName': 'default'}
        ph = {'name': '\x01N', 'uid': '\x01U', 'rv': '\x01R', 'ip': '\x01I'}
        md_t = {'name': ph['name'], 'namespace': namespace, 'uid': ph['uid'], 'resourceVersion': ph['rv'],
                'creationTimestamp': ts}
        if labels:
            md_t['labels'] = dict(labels)
        tmpl = dumps({'metadata': md_t, 'spec': spec,
                       'status': {'phase': 'Running', 'podIP': ph['ip'], 'podIPs': [{'ip': ph['ip']}],
                                  'startTime': ts, 'qosClass': 'BestEffort'}}).decode()
        order = []
        fmt = tmpl.replace('%', '%%')
        for k, v in ph.items():
            tok = dumps(v).decode()[1:-1]          # how json spells the placeholder
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
                uid = old.obj['metadata']['uid'] if old is not None else new_uid()
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
        head = b'{"kind":"%s","apiVersion":"v1","metadata":%s,"items":[' % (kind.list_kind.encode(), dumps(md))
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

"""WATCH: the chunked event stream, its bookmarks, timeouts, selector transitions and
the injected faults that cut, stall or corrupt it."""

from __future__ import annotations

import bisect
import copy
import random
import select
import socket
import struct
import time

from .protocol import (ApiError, INITIAL_EVENTS_END, PEER_CHECK_INTERVAL, bool_param, dumps, status_object,
                       too_large_rv)
from .store import WatchState


class DropConnection(Exception):
    pass


class WatchStream:
    """Mixed into ApiApp: serves watch requests."""

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
        _write_chunk(h, b'{"type":"ERROR","object":' + dumps(status) + b'}\n')
        h.wfile.write(b'0\r\n\r\n')
        entry['error_event'] = status['code']

    def _watch(self, h, kind, namespace, q, filt, principal, entry):
        c = self.cluster
        resource = kind.resource
        entry['watch'] = True
        rv_param = q.get('resourceVersion') or ''
        allow_bm = bool_param(q.get('allowWatchBookmarks'))
        send_initial = q.get('sendInitialEvents')
        match = q.get('resourceVersionMatch') or ''
        if send_initial is not None:
            send_initial = bool_param(send_initial)
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
                emit(b'{"type":"BOOKMARK","object":' + dumps(bookmark_object(
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
                emit(b'{"type":"BOOKMARK","object":' + dumps(bookmark_object(kind, bm_rv)) + b'}\n')
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
                emit(b'{"type":"ERROR","object":' + dumps(expired_status) + b'}\n')
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
            raise DropConnection()
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
        raise DropConnection()


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
        return b'{"type":"DELETED","object":%s}\n' % dumps(gone)
    return None

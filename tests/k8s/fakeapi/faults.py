"""Fault injection on the store: watch faults (drop, stall, malformed, fragment),
request faults (gone, delay, error) and forced auth answers."""

from __future__ import annotations

from .protocol import resource_for


class FaultInjection:
    """Mixed into FakeCluster: arms faults that the HTTP side takes."""

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

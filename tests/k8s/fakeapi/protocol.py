"""The API's vocabulary: resource kinds and their field selectors, Status errors,
label/field selector parsing, and LIST continue tokens."""

from __future__ import annotations

import base64
import json
import random
import time


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


def dumps(obj):
    return json.dumps(obj, separators=(',', ':'), ensure_ascii=False).encode()


def now_rfc3339():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


def new_uid(_bits=random.Random().getrandbits):
    """A random (version 4) UUID string, faster than str(uuid.uuid4())."""
    h = '%032x' % ((_bits(128) & ~(0xf000 << 64) | (0x4000 << 64)) & ~(0xc << 60) | (0x8 << 60))
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def bool_param(v):
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

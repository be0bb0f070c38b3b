"""Who is asking: bearer tokens (the token file, extra tokens, rotation with grace) and
client certificates, with per-principal permissions."""

from __future__ import annotations

import os
import secrets
import time

from .protocol import unauthorized


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


class TokenAuth:
    """Mixed into FakeCluster: tokens and their principals."""

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
